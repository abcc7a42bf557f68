//! The plugin binary Terraform starts; see the `terraform_provider_appmesh` crate docs.
//!
//! Run by hand it also has a command of its own: `terraform-provider-appmesh migrate`
//! (see [`terraform_provider_appmesh::migrate`]).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Diagnostics are read by people; keep backtraces out of them.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("migrate") {
        let code = terraform_provider_appmesh::migrate::main(&args[1..]).await;
        std::process::exit(code);
    }
    tf_provider::serve(
        terraform_provider_appmesh::NAME,
        terraform_provider_appmesh::provider::AppMeshProvider::default(),
    )
    .await
}
