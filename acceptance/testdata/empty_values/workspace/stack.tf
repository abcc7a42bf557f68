# A mesh stack shaped like the public modules it stands for: every input comes from
# `local.stack` (the step's configuration), optional inputs fall back to "", [] or {}.

resource "appmesh_mesh" "this" {
  name = var.name

  spec {
    dynamic "egress_filter" {
      for_each = lookup(local.stack.mesh, "egress", null) == null ? [] : [local.stack.mesh.egress]
      content {
        type = egress_filter.value
      }
    }
  }

  tags = lookup(local.stack.mesh, "tags", {})
}

# No spec block at all.
resource "appmesh_mesh" "bare" {
  name = "${var.name}-bare"
}

module "service" {
  source   = "./modules/service"
  for_each = local.stack.services

  mesh_name = appmesh_mesh.this.id
  name      = "${var.name}-${each.key}"
  port      = each.value.port
  protocol  = each.value.protocol
  backends  = lookup(each.value, "backends", [])
  retry     = each.value.retry
  grpc      = lookup(each.value, "grpc", null)
  tags      = lookup(each.value, "tags", {})
}

resource "appmesh_virtual_gateway" "ingress" {
  count = local.stack.gateway == null ? 0 : 1

  name      = "${var.name}-ingress"
  mesh_name = appmesh_mesh.this.id

  spec {
    backend_defaults {
      client_policy {
        tls {
          ports = local.stack.gateway.tls_ports
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

    listener {
      port_mapping {
        port     = 8443
        protocol = "http"
      }

      # No port: the gateway checks the listener's.
      health_check {
        protocol            = "http"
        path                = "/ping"
        healthy_threshold   = 2
        unhealthy_threshold = 2
        interval_millis     = 5000
        timeout_millis      = 2000
      }
    }
  }

  tags = local.stack.gateway.tags
}
