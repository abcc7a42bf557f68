# Every optional input left at its default: "", [] and {} all mean "not set", and null tag
# values are no tags.
locals {
  stack = {
    mesh = {}

    services = {
      web = {
        port     = 8080
        protocol = "http"
        backends = [{ name = "${var.name}-api.local" }]
        retry    = { http_events = ["server-error"] }
        tags     = { Team = "web", CostCenter = null, Owner = null }
      }
      api = {
        port     = 9090
        protocol = "grpc"
        grpc     = { service_name = "example.Api" }
        retry    = { grpc_events = ["unavailable"] }
      }
    }

    gateway = {
      tls_ports = []
      tags      = {}
    }
  }
}
