output "virtual_service_name" {
  description = "The name clients call."
  value       = aws_appmesh_virtual_service.frontend.name
}
