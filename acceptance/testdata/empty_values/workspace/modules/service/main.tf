resource "appmesh_virtual_node" "this" {
  name      = var.name
  mesh_name = var.mesh_name

  spec {
    listener {
      port_mapping {
        port     = var.port
        protocol = var.protocol
      }

      # No port: the service checks the listener's.
      health_check {
        protocol            = var.protocol == "grpc" ? "grpc" : "http"
        path                = var.protocol == "grpc" ? "" : var.health_check_path
        healthy_threshold   = 2
        unhealthy_threshold = 3
        interval_millis     = 5000
        timeout_millis      = 2000
      }
    }

    dynamic "backend" {
      for_each = var.backends
      content {
        virtual_service {
          virtual_service_name = backend.value.name
          client_policy {
            tls {
              ports = backend.value.tls_ports
              validation {
                trust {
                  file {
                    certificate_chain = "/etc/certs/ca.pem"
                  }
                }
              }
            }
          }
        }
      }
    }

    service_discovery {
      dns {
        hostname = "${var.name}.local"
      }
    }
  }

  tags = var.tags
}

resource "appmesh_virtual_router" "this" {
  name      = var.name
  mesh_name = var.mesh_name

  spec {
    listener {
      port_mapping {
        port     = var.port
        protocol = var.protocol
      }
    }
  }

  tags = var.tags
}

resource "appmesh_route" "this" {
  name                = var.name
  mesh_name           = var.mesh_name
  virtual_router_name = appmesh_virtual_router.this.name

  spec {
    dynamic "http_route" {
      for_each = var.protocol == "grpc" ? [] : [1]
      content {
        match {
          prefix = "/"
        }
        action {
          weighted_target {
            virtual_node = appmesh_virtual_node.this.name
            weight       = 100
          }
        }
        retry_policy {
          max_retries       = var.retry.max_retries
          http_retry_events = var.retry.http_events
          tcp_retry_events  = var.retry.tcp_events
          per_retry_timeout {
            unit  = "s"
            value = 5
          }
        }
      }
    }

    dynamic "grpc_route" {
      for_each = var.protocol == "grpc" ? [var.grpc] : []
      content {
        match {
          service_name = grpc_route.value.service_name
          method_name  = grpc_route.value.method_name
        }
        action {
          weighted_target {
            virtual_node = appmesh_virtual_node.this.name
            weight       = 100
          }
        }
        retry_policy {
          max_retries       = var.retry.max_retries
          grpc_retry_events = var.retry.grpc_events
          http_retry_events = var.retry.http_events
          tcp_retry_events  = var.retry.tcp_events
          per_retry_timeout {
            unit  = "s"
            value = 5
          }
        }
      }
    }
  }

  tags = var.tags
}

resource "appmesh_virtual_service" "this" {
  name      = "${var.name}.local"
  mesh_name = var.mesh_name

  spec {
    provider {
      virtual_router {
        virtual_router_name = appmesh_virtual_router.this.name
      }
    }
  }

  tags = var.tags
}
