# serviceA's listener port and the virtual services it calls.
data "appmesh_virtual_node" "servicea" {
  name      = "serviceA"
  mesh_name = "apps"
}

output "servicea_port" {
  value = data.appmesh_virtual_node.servicea.spec[0].listener[0].port_mapping[0].port
}

output "servicea_backends" {
  value = [for b in data.appmesh_virtual_node.servicea.spec[0].backend : b.virtual_service[0].virtual_service_name]
}
