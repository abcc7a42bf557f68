# How the canary route spreads traffic today.
data "appmesh_route" "serviceb" {
  name                = "serviceB-route"
  mesh_name           = "apps"
  virtual_router_name = "serviceB"
}

output "serviceb_weights" {
  value = { for t in data.appmesh_route.serviceb.spec[0].http2_route[0].action[0].weighted_target : t.virtual_node => t.weight }
}
