# A virtual node is imported by its mesh name and its own name.
terraform import appmesh_virtual_node.servicea apps/serviceA
