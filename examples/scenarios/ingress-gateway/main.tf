# An ingress gateway for the "shop" mesh: HTTP on 8080 and HTTP/2 on 8081, with gateway
# routes that pick a service by path, query parameter, header and hostname, rewrite the
# path or the Host header on the way in, and are tried in priority order (lowest first).

terraform {
  required_providers {
    appmesh = {
      source = "appmesh-community/appmesh"
    }
  }
}

variable "endpoint" {
  description = "The App Mesh API endpoint, e.g. the bundled control plane."
  type        = string
  default     = "http://127.0.0.1:9080"
}

variable "mesh_name" {
  description = "Name of the mesh."
  type        = string
  default     = "shop"
}

variable "domain" {
  description = "DNS suffix of the services inside the mesh."
  type        = string
  default     = "shop.local"
}

variable "public_hostname" {
  description = "Host name HTTP/2 clients use to reach the orders API from outside the mesh."
  type        = string
  default     = "api.shop.example.com"
}

provider "appmesh" {
  endpoint   = var.endpoint
  region     = "us-east-1"
  access_key = "local"
  secret_key = "local"
}

resource "appmesh_mesh" "shop" {
  name = var.mesh_name

  spec {
    egress_filter {
      type = "DROP_ALL"
    }
  }
}

# catalog.<domain>: a virtual router in front of catalog-v1 (HTTP on 8080).

resource "appmesh_virtual_node" "catalog" {
  name      = "catalog-v1"
  mesh_name = appmesh_mesh.shop.id

  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
      }
    }

    service_discovery {
      dns {
        hostname = "catalog-v1.${var.domain}"
      }
    }
  }
}

resource "appmesh_virtual_router" "catalog" {
  name      = "catalog"
  mesh_name = appmesh_mesh.shop.id

  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
      }
    }
  }
}

resource "appmesh_route" "catalog" {
  name                = "catalog"
  mesh_name           = appmesh_mesh.shop.id
  virtual_router_name = appmesh_virtual_router.catalog.name

  spec {
    http_route {
      match {
        prefix = "/"
      }

      action {
        weighted_target {
          virtual_node = appmesh_virtual_node.catalog.name
          weight       = 100
        }
      }
    }
  }
}

resource "appmesh_virtual_service" "catalog" {
  name      = "catalog.${var.domain}"
  mesh_name = appmesh_mesh.shop.id

  spec {
    provider {
      virtual_router {
        virtual_router_name = appmesh_virtual_router.catalog.name
      }
    }
  }
}

# orders.<domain>: served directly by the orders virtual node (HTTP/2 on 8080).

resource "appmesh_virtual_node" "orders" {
  name      = "orders"
  mesh_name = appmesh_mesh.shop.id

  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http2"
      }
    }

    service_discovery {
      dns {
        hostname = "orders.${var.domain}"
      }
    }
  }
}

resource "appmesh_virtual_service" "orders" {
  name      = "orders.${var.domain}"
  mesh_name = appmesh_mesh.shop.id

  spec {
    provider {
      virtual_node {
        virtual_node_name = appmesh_virtual_node.orders.name
      }
    }
  }
}

# The gateway. With two listeners, every gateway route names the listener port it
# belongs to in its match.

resource "appmesh_virtual_gateway" "ingress" {
  name      = "ingress"
  mesh_name = appmesh_mesh.shop.id

  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
      }

      health_check {
        protocol            = "http"
        path                = "/healthz"
        healthy_threshold   = 2
        unhealthy_threshold = 3
        timeout_millis      = 2000
        interval_millis     = 5000
      }
    }

    listener {
      port_mapping {
        port     = 8081
        protocol = "http2"
      }
    }

    logging {
      access_log {
        file {
          path = "/dev/stdout"
        }
      }
    }
  }
}

# GET /catalog/items/42 reaches catalog as /items/42; the client's Host header is kept.
resource "appmesh_gateway_route" "catalog" {
  name                 = "catalog"
  mesh_name            = appmesh_mesh.shop.id
  virtual_gateway_name = appmesh_virtual_gateway.ingress.name

  spec {
    priority = 100

    http_route {
      match {
        prefix = "/catalog/"
        port   = 8080
      }

      action {
        target {
          virtual_service {
            virtual_service_name = appmesh_virtual_service.catalog.name
          }
        }

        rewrite {
          prefix {
            value = "/"
          }

          hostname {
            default_target_hostname = "DISABLED"
          }
        }
      }
    }
  }
}

# GET /search?q=shoes reaches catalog as /items/search?q=shoes; without q it falls through.
resource "appmesh_gateway_route" "search" {
  name                 = "search"
  mesh_name            = appmesh_mesh.shop.id
  virtual_gateway_name = appmesh_virtual_gateway.ingress.name

  spec {
    priority = 10

    http_route {
      match {
        port = 8080

        path {
          exact = "/search"
        }

        query_parameter {
          name = "q"
        }
      }

      action {
        target {
          virtual_service {
            virtual_service_name = appmesh_virtual_service.catalog.name
          }
        }

        rewrite {
          path {
            exact = "/items/search"
          }
        }
      }
    }
  }
}

# /orders/... reaches orders with the matched prefix replaced by "/".
resource "appmesh_gateway_route" "orders" {
  name                 = "orders"
  mesh_name            = appmesh_mesh.shop.id
  virtual_gateway_name = appmesh_virtual_gateway.ingress.name

  spec {
    priority = 100

    http_route {
      match {
        prefix = "/orders/"
        port   = 8080
      }

      action {
        target {
          virtual_service {
            virtual_service_name = appmesh_virtual_service.orders.name
          }
        }

        rewrite {
          prefix {
            default_prefix = "ENABLED"
          }
        }
      }
    }
  }
}

# Clients that ask for version 2 of the API (x-api-version: 2) reach orders under /v2/;
# the lower priority number makes this route win over "orders".
resource "appmesh_gateway_route" "orders_v2" {
  name                 = "orders-v2"
  mesh_name            = appmesh_mesh.shop.id
  virtual_gateway_name = appmesh_virtual_gateway.ingress.name

  spec {
    priority = 50

    http_route {
      match {
        prefix = "/orders/"
        port   = 8080

        header {
          name = "x-api-version"

          match {
            exact = "2"
          }
        }
      }

      action {
        target {
          virtual_service {
            virtual_service_name = appmesh_virtual_service.orders.name
          }
        }

        rewrite {
          prefix {
            value = "/v2/"
          }
        }
      }
    }
  }
}

# HTTP/2 clients that address the public host name reach orders; the Host header is
# rewritten to the virtual service's name.
resource "appmesh_gateway_route" "orders_h2" {
  name                 = "orders-h2"
  mesh_name            = appmesh_mesh.shop.id
  virtual_gateway_name = appmesh_virtual_gateway.ingress.name

  spec {
    priority = 100

    http2_route {
      match {
        prefix = "/"
        port   = 8081

        hostname {
          exact = var.public_hostname
        }
      }

      action {
        target {
          virtual_service {
            virtual_service_name = appmesh_virtual_service.orders.name
          }
        }

        rewrite {
          hostname {
            default_target_hostname = "ENABLED"
          }
        }
      }
    }
  }
}

locals {
  # Each gateway route with its one HTTP or HTTP/2 route, for the outputs.
  gateway_routes = {
    for gr in [
      appmesh_gateway_route.catalog,
      appmesh_gateway_route.search,
      appmesh_gateway_route.orders,
      appmesh_gateway_route.orders_v2,
      appmesh_gateway_route.orders_h2,
    ] :
    gr.name => {
      priority = gr.spec[0].priority
      route    = one(concat(gr.spec[0].http_route, gr.spec[0].http2_route))
    }
  }
}

output "gateway_listeners" {
  description = "The gateway's listeners: protocol by port."
  value = {
    for l in appmesh_virtual_gateway.ingress.spec[0].listener :
    tostring(l.port_mapping[0].port) => l.port_mapping[0].protocol
  }
}

output "gateway_routes" {
  description = "Each gateway route's priority, listener port, target service and rewrite."
  value = {
    for name, gr in local.gateway_routes : name => {
      priority = gr.priority
      port     = gr.route.match[0].port
      service  = gr.route.action[0].target[0].virtual_service[0].virtual_service_name
      rewrite  = one(gr.route.action[0].rewrite)
    }
  }
}

output "virtual_service_arns" {
  description = "The services the gateway routes to."
  value = {
    catalog = appmesh_virtual_service.catalog.arn
    orders  = appmesh_virtual_service.orders.arn
  }
}
