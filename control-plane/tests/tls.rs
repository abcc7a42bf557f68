//! The Rust SDK over TLS: the server started with `--tls-cert`/`--tls-key` (a throw-away CA
//! made with the openssl CLI), a client that trusts that CA, and one that does not.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_sdk_appmesh::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_appmesh::error::DisplayErrorContext;
use aws_sdk_appmesh::{Client, Config};
use aws_smithy_http_client::tls;
use common::{data_dir, ok, Server, ACCESS_KEY_ID, REGION, SECRET_KEY};

/// `scripts/test-ca`: (CA certificate, server certificate, server key) for 127.0.0.1.
fn throwaway_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/test-ca");
    let out = Command::new("bash")
        .arg(script)
        .arg(dir)
        .output()
        .expect("run scripts/test-ca");
    assert!(
        out.status.success(),
        "scripts/test-ca: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = |name: &str| dir.join(name);
    (p("ca.crt"), p("server.crt"), p("server.key"))
}

fn client(endpoint: &str, ca: Option<&Path>) -> Client {
    let mut trust = tls::TrustStore::empty();
    if let Some(ca) = ca {
        trust = trust.with_pem_certificate(std::fs::read(ca).expect("read the CA"));
    }
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(
            tls::TlsContext::builder()
                .with_trust_store(trust)
                .build()
                .expect("tls"),
        )
        .build_https();
    let conf = Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            ACCESS_KEY_ID,
            SECRET_KEY,
            None,
            None,
            "static",
        ))
        .http_client(http)
        .timeout_config(
            aws_sdk_appmesh::config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

#[tokio::test]
async fn the_sdk_works_over_tls_with_a_trusted_ca_and_refuses_otherwise() {
    let certs = tempfile::tempdir().expect("a directory for the certificates");
    let (ca, cert, key) = throwaway_ca(certs.path());
    let dir = data_dir();
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let server = Server::start_with_args(dir.path(), &["--tls-cert", &cert, "--tls-key", &key]);
    assert!(
        server.endpoint().starts_with("https://"),
        "{}",
        server.endpoint()
    );

    let trusted = client(server.endpoint(), Some(&ca));
    let made = ok(
        trusted.create_mesh().mesh_name("tls").send().await,
        "CreateMesh over TLS",
    );
    let meta = made.mesh().and_then(|m| m.metadata()).expect("metadata");
    assert_eq!(meta.resource_owner(), common::ACCOUNT_ID);
    let listed = ok(trusted.list_meshes().send().await, "ListMeshes over TLS");
    assert_eq!(listed.meshes().len(), 1);

    let untrusted = client(server.endpoint(), None);
    let err = untrusted
        .list_meshes()
        .send()
        .await
        .expect_err("an untrusted certificate");
    let text = format!("{}", DisplayErrorContext(&err));
    assert!(text.to_lowercase().contains("certificate"), "{text}");
    server.terminate();
}
