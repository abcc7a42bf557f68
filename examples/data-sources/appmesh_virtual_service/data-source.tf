# Which router serves serviceb.apps.local.
data "appmesh_virtual_service" "serviceb" {
  name      = "serviceb.apps.local"
  mesh_name = "apps"
}

output "serviceb_router" {
  value = data.appmesh_virtual_service.serviceb.spec[0].provider[0].virtual_router[0].virtual_router_name
}
