variable "mesh_name" {
  description = "The mesh the frontend lives in."
  type        = string
}

variable "backends" {
  description = "Virtual services the frontend calls."
  type        = list(string)
  default     = []
}
