//! `terraform-provider-appmesh`: a Terraform provider (plugin protocol 6, on `tf-provider`)
//! for the App Mesh resource model, taking the same HCL as `aws_appmesh_*`.
//!
//! - [`describe`]: the one description — how the model's shapes appear in Terraform.
//! - [`schema`]: Terraform schemas derived from it.
//! - [`convert`]: the generic Terraform value ↔ API JSON converter.
//! - [`resource`]: the one resource implementation, bound per kind.
//! - [`data_source`]: the data sources (one object, and lists), bound per kind.
//! - [`read`]: Describe, List and tags, shared by resources and data sources.
//! - [`provider`]: configuration, credentials and the resource registry.
//! - [`client`]: the SigV4-signed, retrying API client.
//! - [`migrate`]: the `migrate` command, off `aws_appmesh_*` (HCL and state).

pub mod client;
pub mod convert;
pub mod data_source;
pub mod describe;
pub mod migrate;
pub mod provider;
pub mod read;
pub mod resource;
pub mod schema;
pub mod value;

/// The provider's name: resource types are `appmesh_<kind>`.
pub const NAME: &str = "appmesh";
