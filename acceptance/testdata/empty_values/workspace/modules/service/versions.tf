terraform {
  required_providers {
    appmesh = {
      source = "appmesh-community/appmesh"
    }
  }
}
