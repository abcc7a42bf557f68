# The ingress gateway's listener port.
data "appmesh_virtual_gateway" "ingress" {
  name      = "ingress-gw"
  mesh_name = "apps"
}

output "ingress_port" {
  value = data.appmesh_virtual_gateway.ingress.spec[0].listener[0].port_mapping[0].port
}
