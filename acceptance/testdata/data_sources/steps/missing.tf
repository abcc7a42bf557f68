# Objects that do not exist: each read fails, naming what it looked for.

data "appmesh_virtual_node" "missing" {
  name      = "no-such-node"
  mesh_name = appmesh_mesh.this.name
}

data "appmesh_route" "missing" {
  name                = "no-such-route"
  mesh_name           = appmesh_mesh.this.name
  virtual_router_name = appmesh_virtual_router.api.name
}

data "appmesh_mesh" "missing" {
  name = "${var.name}-missing"
}

data "appmesh_virtual_nodes" "missing_mesh" {
  mesh_name = "${var.name}-missing"
}
