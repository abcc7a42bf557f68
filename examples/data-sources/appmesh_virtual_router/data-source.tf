# The protocol serviceB's router listens for.
data "appmesh_virtual_router" "serviceb" {
  name      = "serviceB"
  mesh_name = "apps"
}

output "serviceb_router_protocol" {
  value = data.appmesh_virtual_router.serviceb.spec[0].listener[0].port_mapping[0].protocol
}
