# Every gateway route of the ingress gateway.
data "appmesh_gateway_routes" "ingress" {
  mesh_name            = "apps"
  virtual_gateway_name = "ingress-gw"
}

output "gateway_route_names" {
  value = data.appmesh_gateway_routes.ingress.names
}
