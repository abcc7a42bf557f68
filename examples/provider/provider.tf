terraform {
  required_providers {
    appmesh = {
      source = "appmesh-community/appmesh"
    }
  }
}

# The provider talks to any server that speaks the App Mesh 2019-01-25 API, such as the
# bundled control plane started with:
#   appmesh-control-plane serve --listen 127.0.0.1:9080 --data-dir ./appmesh-data
provider "appmesh" {
  endpoint   = "http://127.0.0.1:9080"
  region     = "us-east-1"
  access_key = "test"
  secret_key = "test"
}
