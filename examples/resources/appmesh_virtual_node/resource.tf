resource "appmesh_mesh" "apps" {
  name = "apps"
}

# serviceA listens for HTTP/2 on port 80, is found through DNS, calls serviceb.apps.local
# and writes its Envoy access log to stdout.
resource "appmesh_virtual_node" "servicea" {
  name      = "serviceA"
  mesh_name = appmesh_mesh.apps.id

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

    backend {
      virtual_service {
        virtual_service_name = "serviceb.apps.local"
      }
    }

    service_discovery {
      dns {
        hostname = "servicea.apps.local"
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
}
