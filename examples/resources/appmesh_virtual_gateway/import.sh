# A virtual gateway is imported by its mesh name and its own name.
terraform import appmesh_virtual_gateway.ingress apps/ingress-gw
