# Every virtual service of the mesh "apps".
data "appmesh_virtual_services" "apps" {
  mesh_name = "apps"
}

output "virtual_service_names" {
  value = data.appmesh_virtual_services.apps.names
}
