variable "mesh_name" {
  description = "The mesh the service lives in."
  type        = string
}

variable "name" {
  description = "The service's name; its node, router, route and virtual service take it."
  type        = string
}

variable "port" {
  description = "The listener port."
  type        = number
}

variable "protocol" {
  description = "http, http2 or grpc."
  type        = string
  default     = "http"
}

variable "health_check_path" {
  description = "Path of the HTTP health check; empty for the default."
  type        = string
  default     = ""
}

variable "backends" {
  description = "Virtual services this one calls, with the TLS ports of the call (none: all ports)."
  type = list(object({
    name      = string
    tls_ports = optional(list(number), [])
  }))
  default = []
}

variable "retry" {
  description = "Retry events of the route; empty lists mean none of that kind."
  type = object({
    max_retries = optional(number, 2)
    http_events = optional(list(string), [])
    tcp_events  = optional(list(string), [])
    grpc_events = optional(list(string), [])
  })
  default = {}
}

variable "grpc" {
  description = "For gRPC services: the service and, optionally, the method the route matches."
  type = object({
    service_name = string
    method_name  = optional(string, "")
  })
  default = null
}

variable "tags" {
  description = "Tags for every resource of the service."
  type        = map(string)
  default     = {}
}
