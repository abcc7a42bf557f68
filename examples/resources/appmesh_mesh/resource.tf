# The mesh that holds the service guide's applications. Envoy proxies in this mesh may
# reach destinations outside of it, and prefer IPv4 addresses when a name resolves to both.
resource "appmesh_mesh" "apps" {
  name = "apps"

  spec {
    egress_filter {
      type = "ALLOW_ALL"
    }

    service_discovery {
      ip_preference = "IPv4_PREFERRED"
    }
  }

  tags = {
    Environment = "staging"
  }
}
