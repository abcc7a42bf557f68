# Every virtual gateway of the mesh "apps".
data "appmesh_virtual_gateways" "apps" {
  mesh_name = "apps"
}

output "virtual_gateway_names" {
  value = data.appmesh_virtual_gateways.apps.names
}
