resource "appmesh_mesh" "apps" {
  name = "apps"
}

# The ingress gateway lets clients outside the mesh reach its services over HTTP on 8080.
resource "appmesh_virtual_gateway" "ingress" {
  name      = "ingress-gw"
  mesh_name = appmesh_mesh.apps.id

  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
      }

      health_check {
        protocol            = "http"
        path                = "/health"
        healthy_threshold   = 2
        unhealthy_threshold = 3
        timeout_millis      = 2000
        interval_millis     = 5000
      }
    }

    logging {
      access_log {
        file {
          path = "/dev/stdout"
        }
      }
    }
  }

  tags = {
    Team = "edge"
  }
}
