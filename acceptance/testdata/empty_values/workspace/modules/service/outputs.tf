output "virtual_service_name" {
  description = "The name clients call."
  value       = appmesh_virtual_service.this.name
}
