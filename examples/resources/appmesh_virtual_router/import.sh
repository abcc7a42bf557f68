# A virtual router is imported by its mesh name and its own name.
terraform import appmesh_virtual_router.serviceb apps/serviceB
