# The frontend: a virtual node (registered long ago, when backends were a list of names)
# and the virtual service clients call.

resource "aws_appmesh_virtual_node" "frontend" {
  name      = "frontend"
  mesh_name = var.mesh_name

  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
      }
    }

    dynamic "backend" {
      for_each = var.backends
      content {
        virtual_service {
          virtual_service_name = backend.value
        }
      }
    }

    service_discovery {
      dns {
        hostname = "frontend.apps.local"
      }
    }
  }
}

resource "aws_appmesh_virtual_service" "frontend" {
  name      = "frontend.apps.local"
  mesh_name = var.mesh_name

  spec {
    provider {
      virtual_node {
        virtual_node_name = aws_appmesh_virtual_node.frontend.name
      }
    }
  }
}
