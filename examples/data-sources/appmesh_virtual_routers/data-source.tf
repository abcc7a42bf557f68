# Every virtual router of the mesh "apps".
data "appmesh_virtual_routers" "apps" {
  mesh_name = "apps"
}

output "virtual_router_names" {
  value = data.appmesh_virtual_routers.apps.names
}
