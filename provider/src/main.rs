//! The plugin binary Terraform starts; see the `terraform_provider_appmesh` crate docs.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Diagnostics are read by people; keep backtraces out of them.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    tf_provider::serve(
        terraform_provider_appmesh::NAME,
        terraform_provider_appmesh::provider::AppMeshProvider::default(),
    )
    .await
}
