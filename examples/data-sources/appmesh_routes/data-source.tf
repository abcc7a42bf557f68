# Every route of serviceB's router.
data "appmesh_routes" "serviceb" {
  mesh_name           = "apps"
  virtual_router_name = "serviceB"
}

output "route_names" {
  value = data.appmesh_routes.serviceb.names
}
