# The mesh "apps" (examples/scenarios/canary creates it) and its egress filter.
data "appmesh_mesh" "apps" {
  name = "apps"
}

output "apps_egress" {
  value = try(data.appmesh_mesh.apps.spec[0].egress_filter[0].type, "DROP_ALL")
}
