# A route is imported by its mesh name, its virtual router's name and its own name.
terraform import appmesh_route.serviceb apps/serviceB/serviceB
