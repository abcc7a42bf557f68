locals {
  # One entry per service version: the virtual nodes, keyed "<service>-<version>".
  nodes = merge([
    for service, s in var.services : {
      for version, weight in s.versions : "${service}-${version}" => {
        port     = s.port
        protocol = s.protocol
        hostname = "${version}.${s.hostname}"
        tags     = merge(var.tags, s.tags)
      }
    }
  ]...)
}

resource "appmesh_mesh" "this" {
  name = var.mesh_name

  spec {
    egress_filter {
      type = var.egress
    }
  }

  tags = var.tags
}

resource "appmesh_virtual_node" "this" {
  for_each  = local.nodes
  name      = each.key
  mesh_name = appmesh_mesh.this.id

  spec {
    listener {
      port_mapping {
        port     = each.value.port
        protocol = each.value.protocol
      }
    }

    service_discovery {
      dns {
        hostname = each.value.hostname
      }
    }
  }

  tags = each.value.tags
}

resource "appmesh_virtual_router" "this" {
  for_each  = var.services
  name      = each.key
  mesh_name = appmesh_mesh.this.id

  spec {
    listener {
      port_mapping {
        port     = each.value.port
        protocol = each.value.protocol
      }
    }
  }

  tags = merge(var.tags, each.value.tags)
}

# One route per service, of the kind that matches its protocol, with one weighted target
# per version.
resource "appmesh_route" "this" {
  for_each            = var.services
  name                = each.key
  mesh_name           = appmesh_mesh.this.id
  virtual_router_name = appmesh_virtual_router.this[each.key].name

  spec {
    dynamic "http_route" {
      for_each = each.value.protocol == "http" ? [each.value] : []
      content {
        match {
          prefix = "/"
        }

        action {
          dynamic "weighted_target" {
            for_each = http_route.value.versions
            content {
              virtual_node = appmesh_virtual_node.this["${each.key}-${weighted_target.key}"].name
              weight       = weighted_target.value
            }
          }
        }

        dynamic "timeout" {
          for_each = http_route.value.timeout_ms == null ? [] : [http_route.value.timeout_ms]
          content {
            per_request {
              unit  = "ms"
              value = timeout.value
            }
          }
        }
      }
    }

    dynamic "http2_route" {
      for_each = each.value.protocol == "http2" ? [each.value] : []
      content {
        match {
          prefix = "/"
        }

        action {
          dynamic "weighted_target" {
            for_each = http2_route.value.versions
            content {
              virtual_node = appmesh_virtual_node.this["${each.key}-${weighted_target.key}"].name
              weight       = weighted_target.value
            }
          }
        }

        dynamic "timeout" {
          for_each = http2_route.value.timeout_ms == null ? [] : [http2_route.value.timeout_ms]
          content {
            per_request {
              unit  = "ms"
              value = timeout.value
            }
          }
        }
      }
    }

    dynamic "grpc_route" {
      for_each = each.value.protocol == "grpc" ? [each.value] : []
      content {
        # An empty match: every gRPC service and method.
        match {}

        action {
          dynamic "weighted_target" {
            for_each = grpc_route.value.versions
            content {
              virtual_node = appmesh_virtual_node.this["${each.key}-${weighted_target.key}"].name
              weight       = weighted_target.value
            }
          }
        }

        dynamic "timeout" {
          for_each = grpc_route.value.timeout_ms == null ? [] : [grpc_route.value.timeout_ms]
          content {
            per_request {
              unit  = "ms"
              value = timeout.value
            }
          }
        }
      }
    }

    dynamic "tcp_route" {
      for_each = each.value.protocol == "tcp" ? [each.value] : []
      content {
        action {
          dynamic "weighted_target" {
            for_each = tcp_route.value.versions
            content {
              virtual_node = appmesh_virtual_node.this["${each.key}-${weighted_target.key}"].name
              weight       = weighted_target.value
            }
          }
        }

        dynamic "timeout" {
          for_each = tcp_route.value.timeout_ms == null ? [] : [tcp_route.value.timeout_ms]
          content {
            idle {
              unit  = "ms"
              value = timeout.value
            }
          }
        }
      }
    }
  }

  tags = merge(var.tags, each.value.tags)
}

resource "appmesh_virtual_service" "this" {
  for_each  = var.services
  name      = each.value.hostname
  mesh_name = appmesh_mesh.this.id

  spec {
    provider {
      virtual_router {
        virtual_router_name = appmesh_virtual_router.this[each.key].name
      }
    }
  }

  tags = merge(var.tags, each.value.tags)
}
