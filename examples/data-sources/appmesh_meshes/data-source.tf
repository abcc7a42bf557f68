# Every mesh this account can see.
data "appmesh_meshes" "all" {}

output "mesh_names" {
  value = data.appmesh_meshes.all.names
}
