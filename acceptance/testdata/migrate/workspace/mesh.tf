# The "apps" mesh as it ran on AWS App Mesh: a canary between two versions of serviceB,
# behind an ingress gateway. (Comments such as this one, naming aws_appmesh_route.serviceb,
# stay as they are.)

locals {
  versions = {
    serviceB   = "serviceb.apps.local"
    serviceBv2 = "serviceb-v2.apps.local"
  }
  weights = { serviceB = 75, serviceBv2 = 25 }
}

resource "aws_appmesh_mesh" "apps" {
  name = "apps"

  spec {
    egress_filter {
      type = "ALLOW_ALL"
    }
  }

  tags = {
    Team = "platform"
  }
}

resource "aws_appmesh_virtual_node" "serviceb" {
  for_each = local.versions

  name      = each.key
  mesh_name = aws_appmesh_mesh.apps.id

  spec {
    listener {
      port_mapping {
        port     = 80
        protocol = "http2"
      }

      health_check {
        protocol            = "http2"
        path                = "/ping"
        healthy_threshold   = 2
        unhealthy_threshold = 2
        timeout_millis      = 2000
        interval_millis     = 5000
      }
    }

    service_discovery {
      dns {
        hostname = each.value
      }
    }
  }
}

resource "aws_appmesh_virtual_router" "serviceb" {
  name      = "serviceB"
  mesh_name = aws_appmesh_mesh.apps.id

  spec {
    listener {
      port_mapping {
        port     = 80
        protocol = "http2"
      }
    }
  }
}

resource "aws_appmesh_route" "serviceb" {
  name                = "serviceB-route"
  mesh_name           = aws_appmesh_mesh.apps.id
  virtual_router_name = aws_appmesh_virtual_router.serviceb.name

  spec {
    http2_route {
      match {
        prefix = "/"
      }

      action {
        dynamic "weighted_target" {
          for_each = local.weights
          content {
            virtual_node = aws_appmesh_virtual_node.serviceb[weighted_target.key].name
            weight       = weighted_target.value
          }
        }
      }

      retry_policy {
        http_retry_events = ["server-error"]
        max_retries       = 2

        per_retry_timeout {
          unit  = "s"
          value = 15
        }
      }
    }
  }
}

resource "aws_appmesh_virtual_service" "serviceb" {
  name      = "serviceb.apps.local"
  mesh_name = aws_appmesh_mesh.apps.id

  spec {
    provider {
      virtual_router {
        virtual_router_name = aws_appmesh_virtual_router.serviceb.name
      }
    }
  }
}

module "frontend" {
  source = "./modules/frontend"

  mesh_name = aws_appmesh_mesh.apps.id
  backends  = [aws_appmesh_virtual_service.serviceb.name]
}

resource "aws_appmesh_virtual_gateway" "ingress" {
  name      = "ingress-gw"
  mesh_name = aws_appmesh_mesh.apps.id

  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
      }
    }
  }

  tags = {
    Exposure = "public"
  }
}

resource "aws_appmesh_gateway_route" "frontend" {
  name                 = "to-frontend"
  mesh_name            = aws_appmesh_mesh.apps.id
  virtual_gateway_name = aws_appmesh_virtual_gateway.ingress.name

  spec {
    http_route {
      match {
        prefix = "/"
      }

      action {
        target {
          virtual_service {
            virtual_service_name = module.frontend.virtual_service_name
          }
        }
      }
    }
  }
}

data "aws_appmesh_mesh" "apps" {
  name = aws_appmesh_mesh.apps.name
}

output "mesh_arn" {
  description = "The ARN of the mesh (read back through data.aws_appmesh_mesh)."
  value       = data.aws_appmesh_mesh.apps.arn
}

output "route_weights" {
  value = { for t in aws_appmesh_route.serviceb.spec[0].http2_route[0].action[0].weighted_target : t.virtual_node => t.weight }
}
