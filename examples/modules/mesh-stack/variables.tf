variable "mesh_name" {
  description = "Name of the mesh to create."
  type        = string
}

variable "egress" {
  description = "The mesh's egress filter: DROP_ALL (only destinations in the mesh) or ALLOW_ALL."
  type        = string
  default     = "DROP_ALL"

  validation {
    condition     = contains(["ALLOW_ALL", "DROP_ALL"], var.egress)
    error_message = "The egress must be ALLOW_ALL or DROP_ALL."
  }
}

variable "services" {
  description = <<-EOT
    The mesh's services by name. Each gets one virtual node per version (named
    <service>-<version>, found at <version>.<hostname>), a virtual router and a route named
    after the service that splits traffic by the version weights, and a virtual service named
    hostname. timeout_ms is the route's per-request timeout (the idle timeout for tcp).
  EOT
  type = map(object({
    port       = number
    protocol   = optional(string, "http")
    hostname   = string
    versions   = map(number)
    timeout_ms = optional(number)
    tags       = optional(map(string), {})
  }))
  default = {}

  validation {
    condition     = alltrue([for s in values(var.services) : contains(["http", "http2", "grpc", "tcp"], s.protocol)])
    error_message = "Each service's protocol must be http, http2, grpc or tcp."
  }

  validation {
    condition     = alltrue([for s in values(var.services) : length(s.versions) >= 1 && length(s.versions) <= 10])
    error_message = "Each service needs between 1 and 10 versions (a route has at most 10 weighted targets)."
  }

  validation {
    condition     = alltrue(flatten([for s in values(var.services) : [for w in values(s.versions) : w >= 0 && w <= 100]]))
    error_message = "Version weights must be between 0 and 100."
  }
}

variable "tags" {
  description = "Tags for every resource the module creates (a service's own tags are added to its resources)."
  type        = map(string)
  default     = {}
}
