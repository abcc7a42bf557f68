# Where the ingress gateway sends requests for its gateway route gr-a.
data "appmesh_gateway_route" "servicea" {
  name                 = "gr-a"
  mesh_name            = "apps"
  virtual_gateway_name = "ingress-gw"
}

output "gr_a_target" {
  value = data.appmesh_gateway_route.servicea.spec[0].http_route[0].action[0].target[0].virtual_service[0].virtual_service_name
}
