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

# Clients call serviceb.apps.local; the virtual router decides which version answers.
resource "appmesh_virtual_service" "serviceb" {
  name      = "serviceb.apps.local"
  mesh_name = appmesh_mesh.apps.id

  spec {
    provider {
      virtual_router {
        virtual_router_name = appmesh_virtual_router.serviceb.name
      }
    }
  }
}
