# A virtual service is imported by its mesh name and its own name.
terraform import appmesh_virtual_service.serviceb apps/serviceb.apps.local
