# Mutual TLS between two virtual nodes of the "payments" mesh: the ledger only accepts
# TLS connections (STRICT) from clients whose certificate names checkout, and checkout
# presents its certificate and accepts only a server certificate that names the ledger.
# Certificates are files the Envoy sidecars read (the API only stores the paths).

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
  default     = "payments"
}

variable "domain" {
  description = "DNS suffix of the services inside the mesh."
  type        = string
  default     = "payments.local"
}

variable "cert_dir" {
  description = "Where the sidecars find their certificates, keys and the CA bundle."
  type        = string
  default     = "/etc/certs"
}

provider "appmesh" {
  endpoint   = var.endpoint
  region     = "us-east-1"
  access_key = "local"
  secret_key = "local"
}

locals {
  ledger_hostname   = "ledger.${var.domain}"
  checkout_hostname = "checkout.${var.domain}"
  ca_bundle         = "${var.cert_dir}/ca.pem"
  tls_port          = 8443
}

resource "appmesh_mesh" "payments" {
  name = var.mesh_name

  spec {
    egress_filter {
      type = "DROP_ALL"
    }
  }
}

# The server: TLS is required on its listener, and clients must present a certificate
# signed by the CA whose subject alternative name is checkout's host name.
resource "appmesh_virtual_node" "ledger" {
  name      = "ledger"
  mesh_name = appmesh_mesh.payments.id

  spec {
    listener {
      port_mapping {
        port     = local.tls_port
        protocol = "http"
      }

      tls {
        mode = "STRICT"

        certificate {
          file {
            certificate_chain = "${var.cert_dir}/ledger/cert_chain.pem"
            private_key       = "${var.cert_dir}/ledger/key.pem"
          }
        }

        validation {
          trust {
            file {
              certificate_chain = local.ca_bundle
            }
          }

          subject_alternative_names {
            match {
              exact = [local.checkout_hostname]
            }
          }
        }
      }
    }

    service_discovery {
      dns {
        hostname = local.ledger_hostname
      }
    }
  }
}

resource "appmesh_virtual_service" "ledger" {
  name      = local.ledger_hostname
  mesh_name = appmesh_mesh.payments.id

  spec {
    provider {
      virtual_node {
        virtual_node_name = appmesh_virtual_node.ledger.name
      }
    }
  }
}

# The client: its calls to the ledger use TLS on the ledger's port, present checkout's
# certificate and accept only a server certificate for the ledger's host name.
resource "appmesh_virtual_node" "checkout" {
  name      = "checkout"
  mesh_name = appmesh_mesh.payments.id

  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
      }
    }

    backend {
      virtual_service {
        virtual_service_name = appmesh_virtual_service.ledger.name

        client_policy {
          tls {
            enforce = true
            ports   = [local.tls_port]

            certificate {
              file {
                certificate_chain = "${var.cert_dir}/checkout/cert_chain.pem"
                private_key       = "${var.cert_dir}/checkout/key.pem"
              }
            }

            validation {
              trust {
                file {
                  certificate_chain = local.ca_bundle
                }
              }

              subject_alternative_names {
                match {
                  exact = [local.ledger_hostname]
                }
              }
            }
          }
        }
      }
    }

    service_discovery {
      dns {
        hostname = local.checkout_hostname
      }
    }
  }
}

resource "appmesh_virtual_service" "checkout" {
  name      = local.checkout_hostname
  mesh_name = appmesh_mesh.payments.id

  spec {
    provider {
      virtual_node {
        virtual_node_name = appmesh_virtual_node.checkout.name
      }
    }
  }
}

output "server_tls" {
  description = "The ledger listener's TLS mode and the client names it accepts."
  value = {
    mode                      = appmesh_virtual_node.ledger.spec[0].listener[0].tls[0].mode
    subject_alternative_names = appmesh_virtual_node.ledger.spec[0].listener[0].tls[0].validation[0].subject_alternative_names[0].match[0].exact
  }
}

output "client_tls" {
  description = "How checkout calls each backend: enforced TLS, ports and the server names it accepts."
  value = {
    for b in appmesh_virtual_node.checkout.spec[0].backend :
    b.virtual_service[0].virtual_service_name => {
      enforce                   = b.virtual_service[0].client_policy[0].tls[0].enforce
      ports                     = b.virtual_service[0].client_policy[0].tls[0].ports
      certificate_chain         = b.virtual_service[0].client_policy[0].tls[0].certificate[0].file[0].certificate_chain
      subject_alternative_names = b.virtual_service[0].client_policy[0].tls[0].validation[0].subject_alternative_names[0].match[0].exact
    }
  }
}

output "virtual_node_arns" {
  value = {
    ledger   = appmesh_virtual_node.ledger.arn
    checkout = appmesh_virtual_node.checkout.arn
  }
}
