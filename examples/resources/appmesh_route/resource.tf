resource "appmesh_mesh" "apps" {
  name = "apps"
}

resource "appmesh_virtual_router" "serviceb" {
  name      = "serviceB"
  mesh_name = appmesh_mesh.apps.id

  spec {
    listener {
      port_mapping {
        port     = 80
        protocol = "http2"
      }
    }
  }
}

resource "appmesh_virtual_node" "serviceb" {
  name      = "serviceB"
  mesh_name = appmesh_mesh.apps.id

  spec {
    listener {
      port_mapping {
        port     = 80
        protocol = "http2"
      }
    }

    service_discovery {
      dns {
        hostname = "serviceb.apps.local"
      }
    }
  }
}

resource "appmesh_virtual_node" "servicebv2" {
  name      = "serviceBv2"
  mesh_name = appmesh_mesh.apps.id

  spec {
    listener {
      port_mapping {
        port     = 80
        protocol = "http2"
      }
    }

    service_discovery {
      dns {
        hostname = "servicebv2.apps.local"
      }
    }
  }
}

# A canary: 75% of serviceB's requests stay on the current version, 25% try serviceBv2.
# Failed requests are retried once on server and gateway errors.
resource "appmesh_route" "serviceb" {
  name                = "serviceB"
  mesh_name           = appmesh_mesh.apps.id
  virtual_router_name = appmesh_virtual_router.serviceb.name

  spec {
    http2_route {
      match {
        prefix = "/"
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.serviceb.name
          weight       = 75
        }

        weighted_target {
          virtual_node = appmesh_virtual_node.servicebv2.name
          weight       = 25
        }
      }

      retry_policy {
        max_retries       = 1
        http_retry_events = ["server-error", "gateway-error"]

        per_retry_timeout {
          unit  = "s"
          value = 15
        }
      }
    }
  }
}
