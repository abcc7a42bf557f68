# A gateway route is imported by its mesh name, its virtual gateway's name and its own name.
terraform import appmesh_gateway_route.serviceb apps/ingress-gw/serviceB
