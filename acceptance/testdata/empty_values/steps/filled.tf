# The same stack with every optional input given a value.
locals {
  stack = {
    mesh = {
      egress = "ALLOW_ALL"
      tags   = { Team = "mesh" }
    }

    services = {
      web = {
        port     = 8080
        protocol = "http"
        backends = [{ name = "${var.name}-api.local", tls_ports = [9090] }]
        retry    = { http_events = ["server-error"], tcp_events = ["connection-error"] }
        tags     = { Team = "web", CostCenter = "cc-42", Owner = "web-team" }
      }
      api = {
        port     = 9090
        protocol = "grpc"
        grpc     = { service_name = "example.Api", method_name = "Get" }
        retry    = { grpc_events = ["unavailable"], http_events = ["gateway-error"], tcp_events = ["connection-error"] }
      }
    }

    gateway = {
      tls_ports = [443]
      tags      = { Team = "edge" }
    }
  }
}
