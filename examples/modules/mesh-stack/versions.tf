terraform {
  required_version = ">= 1.3"

  required_providers {
    appmesh = {
      source = "appmesh-community/appmesh"
    }
  }
}
