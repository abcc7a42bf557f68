# One object of every kind, for the data sources to read back.

resource "appmesh_mesh" "this" {
  name = var.name

  spec {
    egress_filter {
      type = "ALLOW_ALL"
    }
  }

  tags = { Team = "mesh" }
}

resource "appmesh_virtual_node" "api" {
  name      = "api"
  mesh_name = appmesh_mesh.this.id

  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
      }
      health_check {
        protocol            = "http"
        path                = "/health"
        healthy_threshold   = 2
        unhealthy_threshold = 2
        interval_millis     = 5000
        timeout_millis      = 2000
      }
    }

    backend {
      virtual_service {
        virtual_service_name = "db.${var.name}.local"
      }
    }

    service_discovery {
      dns {
        hostname = "api.${var.name}.local"
      }
    }
  }

  tags = { Team = "api" }
}

resource "appmesh_virtual_router" "api" {
  name      = "api"
  mesh_name = appmesh_mesh.this.id

  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
      }
    }
  }
}

resource "appmesh_route" "api" {
  name                = "api"
  mesh_name           = appmesh_mesh.this.id
  virtual_router_name = appmesh_virtual_router.api.name

  spec {
    http_route {
      match {
        prefix = "/"
        header {
          name = "x-canary"
          match {
            exact = "1"
          }
        }
      }
      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.api.name
          weight       = 100
        }
      }
    }
  }
}

resource "appmesh_virtual_service" "api" {
  name      = "api.${var.name}.local"
  mesh_name = appmesh_mesh.this.id

  spec {
    provider {
      virtual_router {
        virtual_router_name = appmesh_virtual_router.api.name
      }
    }
  }
}

resource "appmesh_virtual_gateway" "ingress" {
  name      = "ingress"
  mesh_name = appmesh_mesh.this.id

  spec {
    listener {
      port_mapping {
        port     = 8443
        protocol = "http"
      }
    }
  }
}

resource "appmesh_gateway_route" "api" {
  name                 = "api"
  mesh_name            = appmesh_mesh.this.id
  virtual_gateway_name = appmesh_virtual_gateway.ingress.name

  spec {
    http_route {
      match {
        prefix = "/api/"
      }
      action {
        target {
          virtual_service {
            virtual_service_name = appmesh_virtual_service.api.name
          }
        }
        rewrite {
          prefix {
            value = "/"
          }
        }
      }
    }
  }
}
