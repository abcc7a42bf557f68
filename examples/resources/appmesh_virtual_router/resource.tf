resource "appmesh_mesh" "apps" {
  name = "apps"
}

# serviceB's router receives HTTP/2 traffic on port 80; routes (see appmesh_route) decide
# which virtual nodes get it.
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
