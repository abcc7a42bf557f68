output "mesh_name" {
  description = "The mesh's name."
  value       = appmesh_mesh.this.name
}

output "mesh_arn" {
  description = "The mesh's ARN."
  value       = appmesh_mesh.this.arn
}

output "services" {
  description = "Per service: the virtual service's name and ARN, the router's and route's ARNs, the virtual node ARNs by version and the weights by version as applied."
  value = {
    for service, s in var.services : service => {
      virtual_service_name = appmesh_virtual_service.this[service].name
      virtual_service_arn  = appmesh_virtual_service.this[service].arn
      virtual_router_arn   = appmesh_virtual_router.this[service].arn
      route_arn            = appmesh_route.this[service].arn
      virtual_node_arns = {
        for version in keys(s.versions) : version => appmesh_virtual_node.this["${service}-${version}"].arn
      }
      weights = {
        for t in one(concat(
          appmesh_route.this[service].spec[0].http_route,
          appmesh_route.this[service].spec[0].http2_route,
          appmesh_route.this[service].spec[0].grpc_route,
          appmesh_route.this[service].spec[0].tcp_route,
        )).action[0].weighted_target :
        trimprefix(t.virtual_node, "${service}-") => t.weight
      }
    }
  }
}
