# Every data source, reading what resources.tf created. References to the resources order
# the reads after the creates.

data "appmesh_mesh" "this" {
  name       = appmesh_mesh.this.name
  mesh_owner = appmesh_mesh.this.mesh_owner
}

data "appmesh_virtual_node" "api" {
  name      = appmesh_virtual_node.api.name
  mesh_name = appmesh_mesh.this.name
}

data "appmesh_virtual_router" "api" {
  name      = appmesh_virtual_router.api.name
  mesh_name = appmesh_mesh.this.name
}

data "appmesh_route" "api" {
  name                = appmesh_route.api.name
  mesh_name           = appmesh_mesh.this.name
  virtual_router_name = appmesh_virtual_router.api.name
}

data "appmesh_virtual_service" "api" {
  name       = appmesh_virtual_service.api.name
  mesh_name  = appmesh_mesh.this.name
  mesh_owner = appmesh_mesh.this.mesh_owner
}

data "appmesh_virtual_gateway" "ingress" {
  name      = appmesh_virtual_gateway.ingress.name
  mesh_name = appmesh_mesh.this.name
}

data "appmesh_gateway_route" "api" {
  name                 = appmesh_gateway_route.api.name
  mesh_name            = appmesh_mesh.this.name
  virtual_gateway_name = appmesh_virtual_gateway.ingress.name
}

data "appmesh_meshes" "all" {
  depends_on = [appmesh_mesh.this]
}

data "appmesh_virtual_nodes" "all" {
  mesh_name = appmesh_virtual_node.api.mesh_name
}

data "appmesh_virtual_routers" "all" {
  mesh_name = appmesh_virtual_router.api.mesh_name
}

data "appmesh_routes" "all" {
  mesh_name           = appmesh_route.api.mesh_name
  virtual_router_name = appmesh_route.api.virtual_router_name
}

data "appmesh_virtual_services" "all" {
  mesh_name  = appmesh_virtual_service.api.mesh_name
  mesh_owner = appmesh_mesh.this.mesh_owner
}

data "appmesh_virtual_gateways" "all" {
  mesh_name = appmesh_virtual_gateway.ingress.mesh_name
}

data "appmesh_gateway_routes" "all" {
  mesh_name            = appmesh_gateway_route.api.mesh_name
  virtual_gateway_name = appmesh_gateway_route.api.virtual_gateway_name
}
