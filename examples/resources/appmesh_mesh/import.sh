# A mesh is imported by its name.
terraform import appmesh_mesh.apps apps
