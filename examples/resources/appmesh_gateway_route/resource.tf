resource "appmesh_mesh" "apps" {
  name = "apps"
}

resource "appmesh_virtual_gateway" "ingress" {
  name      = "ingress-gw"
  mesh_name = appmesh_mesh.apps.id

  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
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
        protocol = "http"
      }
    }

    service_discovery {
      dns {
        hostname = "serviceb.apps.local"
      }
    }
  }
}

resource "appmesh_virtual_service" "serviceb" {
  name      = "serviceb.apps.local"
  mesh_name = appmesh_mesh.apps.id

  spec {
    provider {
      virtual_node {
        virtual_node_name = appmesh_virtual_node.serviceb.name
      }
    }
  }
}

# Requests to the gateway under /serviceb go to serviceb.apps.local with the prefix
# replaced by "/".
resource "appmesh_gateway_route" "serviceb" {
  name                 = "serviceB"
  mesh_name            = appmesh_mesh.apps.id
  virtual_gateway_name = appmesh_virtual_gateway.ingress.name

  spec {
    http_route {
      match {
        prefix = "/serviceb/"
      }

      action {
        target {
          virtual_service {
            virtual_service_name = appmesh_virtual_service.serviceb.name
          }
        }

        rewrite {
          prefix {
            value = "/"
          }
        }
      }
    }
  }
}
