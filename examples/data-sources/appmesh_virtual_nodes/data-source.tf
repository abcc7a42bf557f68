# Every virtual node of the mesh "apps", with its ARN.
data "appmesh_virtual_nodes" "apps" {
  mesh_name = "apps"
}

output "virtual_nodes" {
  value = zipmap(data.appmesh_virtual_nodes.apps.names, data.appmesh_virtual_nodes.apps.arns)
}
