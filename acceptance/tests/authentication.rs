//! The provider against a control plane that checks who is calling: a wrong secret is
//! refused with the server's reason, a rate-limited key still applies (the provider backs off
//! on 429), and two accounts share a mesh, the consumer managing (and importing by ARN) its
//! own resources in the owner's mesh through `mesh_owner`.

use std::sync::Arc;

use appmesh_acceptance::control_plane::access_file_text;
use appmesh_acceptance::{
    ControlPlane, TestCase, ACCOUNT_ID, OTHER_ACCESS_KEY, OTHER_ACCOUNT_ID, OTHER_SECRET_KEY,
    PROVIDER_SOURCE,
};

/// A provider block for `endpoint` signing with one key pair.
fn provider_as(endpoint: &str, access_key: &str, secret_key: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    appmesh = {{
      source = "{PROVIDER_SOURCE}"
    }}
  }}
}}

provider "appmesh" {{
  endpoint   = "{endpoint}"
  region     = "us-east-1"
  access_key = "{access_key}"
  secret_key = "{secret_key}"
}}
"#
    )
}

#[test]
fn a_wrong_secret_is_refused_with_the_servers_reason() {
    let case = TestCase::new();
    case.set_provider_config(&provider_as(case.endpoint(), "test", "not-the-secret"));
    case.write_file(
        "main.tf",
        "resource \"appmesh_mesh\" \"m\" {\n  name = \"refused\"\n}\n",
    );
    let out = case
        .terraform()
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        !out.success(),
        "apply with a wrong secret succeeded\n{}",
        out.report()
    );
    let text = appmesh_acceptance::unwrap_diagnostics(&out.output());
    assert!(
        text.contains("InvalidSignatureException")
            && text.contains("signature we calculated does not match"),
        "the error should give the server's reason\n{text}"
    );
    assert!(case.api().mesh_names().is_empty());
}

#[test]
fn a_rate_limited_key_still_applies_by_backing_off() {
    let access = format!(
        "{}[[keys]]\naccess_key_id = \"AKIDLIMITED\"\nsecret_access_key = \"limited-secret\"\naccount = \"{ACCOUNT_ID}\"\nprincipal = \"limited\"\nrequests_per_second = 3\nburst = 3\n",
        access_file_text()
    );
    let cp = Arc::new(ControlPlane::start_with(&access, &[]));
    let case = TestCase::on(cp.clone());
    case.set_provider_config(&provider_as(
        case.endpoint(),
        "AKIDLIMITED",
        "limited-secret",
    ));
    case.write_file(
        "main.tf",
        r#"resource "appmesh_mesh" "busy" {
  name = "busy"
}

resource "appmesh_virtual_node" "n" {
  count     = 6
  name      = "node-${count.index}"
  mesh_name = appmesh_mesh.busy.id

  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
      }
    }
  }
}
"#,
    );
    case.terraform()
        .ok(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    let throttled = cp.logs().matches("TooManyRequestsException").count();
    assert!(
        throttled > 0,
        "the key was never throttled; the test proves nothing"
    );
    assert_eq!(
        case.api().get("/v20190125/meshes/busy/virtualNodes")["virtualNodes"]
            .as_array()
            .map(Vec::len),
        Some(6)
    );
    eprintln!("{throttled} requests were answered 429 and retried");
    let mut case = case;
    case.destroy();
}

#[test]
fn a_consumer_account_manages_and_imports_its_resources_in_a_shared_mesh() {
    let access = format!(
        "{}[[shares]]\nowner = \"{ACCOUNT_ID}\"\nmesh = \"shared\"\nconsumers = [\"{OTHER_ACCOUNT_ID}\"]\n",
        access_file_text()
    );
    let cp = Arc::new(ControlPlane::start_with(&access, &[]));

    // The owner: the mesh.
    let mut owner = TestCase::on(cp.clone());
    owner.write_file(
        "main.tf",
        "resource \"appmesh_mesh\" \"shared\" {\n  name = \"shared\"\n}\n",
    );
    owner
        .terraform()
        .ok(&["apply", "-auto-approve", "-input=false", "-no-color"]);

    // The consumer: its own node in the owner's mesh.
    let node = format!(
        r#"resource "appmesh_virtual_node" "mine" {{
  name       = "consumer-node"
  mesh_name  = "shared"
  mesh_owner = "{ACCOUNT_ID}"

  spec {{
    listener {{
      port_mapping {{
        port     = 8080
        protocol = "http"
      }}
    }}
  }}

  tags = {{
    team = "consumer"
  }}
}}
"#
    );
    let consumer = TestCase::on(cp.clone());
    consumer.set_provider_config(&provider_as(
        cp.endpoint(),
        OTHER_ACCESS_KEY,
        OTHER_SECRET_KEY,
    ));
    consumer.write_file("main.tf", &node);
    let tf = consumer.terraform();
    tf.ok(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    let address = "appmesh_virtual_node.mine";
    let state = consumer.state();
    let arn = state.expect_attr(address, "arn");
    assert_eq!(
        arn,
        format!("arn:aws:appmesh:us-east-1:{ACCOUNT_ID}:mesh/shared/virtualNode/consumer-node")
    );
    state.assert_attr(address, "resource_owner", OTHER_ACCOUNT_ID);
    state.assert_attr(address, "mesh_owner", ACCOUNT_ID);
    state.assert_attr(address, "tags.team", "consumer");
    assert_eq!(
        tf.plan_detailed().code,
        Some(0),
        "the consumer's re-plan is not empty"
    );

    // Import by ARN into another of the consumer's workspaces: the ARN carries the owner.
    let importer = TestCase::on(cp.clone());
    importer.set_provider_config(&provider_as(
        cp.endpoint(),
        OTHER_ACCESS_KEY,
        OTHER_SECRET_KEY,
    ));
    importer.write_file(
        "main.tf",
        &format!("{node}\nimport {{\n  to = {address}\n  id = \"{arn}\"\n}}\n"),
    );
    let plan = importer
        .terraform()
        .ok(&["plan", "-input=false", "-no-color"]);
    assert!(
        plan.stdout
            .contains("1 to import, 0 to add, 0 to change, 0 to destroy"),
        "importing by ARN should change nothing\n{}",
        plan.report()
    );
    importer
        .terraform()
        .ok(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    importer
        .state()
        .assert_attr(address, "resource_owner", OTHER_ACCOUNT_ID);
    importer.terraform().ok(&["state", "rm", address]);

    // The owner cannot change the consumer's node; the consumer cleans up its own.
    let refused = owner.api().request(
        reqwest::Method::PUT,
        "/v20190125/meshes/shared/virtualNodes/consumer-node",
        &[],
        Some(&serde_json::json!({"spec": {}})),
    );
    assert_eq!(
        refused.err().and_then(|e| e.error_type).as_deref(),
        Some("ForbiddenException")
    );
    tf.ok(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    owner.destroy();
}

/// `scripts/test-ca`: a throw-away CA and a server certificate for 127.0.0.1 it signed:
/// (CA certificate, server certificate, server key).
fn throwaway_ca(dir: &std::path::Path) -> [std::path::PathBuf; 3] {
    let script = appmesh_acceptance::workspace_root().join("scripts/test-ca");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg(dir)
        .output()
        .expect("run scripts/test-ca");
    assert!(
        out.status.success(),
        "scripts/test-ca: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ["ca.crt", "server.crt", "server.key"].map(|name| dir.join(name))
}

#[test]
fn the_provider_works_over_tls_with_a_private_ca() {
    let certs = tempfile::tempdir().expect("a directory for the certificates");
    let [ca, cert, key] = throwaway_ca(certs.path());
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let cp = Arc::new(ControlPlane::start_with(
        &access_file_text(),
        &["--tls-cert", &cert, "--tls-key", &key],
    ));
    assert!(
        cp.endpoint().starts_with("https://127.0.0.1:"),
        "{}",
        cp.endpoint()
    );
    let case = TestCase::on(cp.clone());
    let provider = |ca_line: &str| {
        provider_as(cp.endpoint(), "test", "test").replace(
            "  secret_key = \"test\"\n",
            &format!("  secret_key = \"test\"\n{ca_line}"),
        )
    };
    case.write_file(
        "main.tf",
        "resource \"appmesh_mesh\" \"tls\" {\n  name = \"over-tls\"\n}\n",
    );

    // Without the CA the certificate is refused, and the error says so.
    case.set_provider_config(&provider(""));
    let out = case
        .terraform()
        .run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        !out.success(),
        "an untrusted certificate was accepted\n{}",
        out.report()
    );
    assert!(out.output().contains("certificate"), "{}", out.report());

    case.set_provider_config(&provider(&format!(
        "  custom_ca_bundle = \"{}\"\n",
        ca.display()
    )));
    let tf = case.terraform();
    tf.ok(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(case
        .state()
        .expect_attr("appmesh_mesh.tls", "arn")
        .ends_with(":mesh/over-tls"));
    assert_eq!(
        tf.plan_detailed().code,
        Some(0),
        "re-plan over TLS is not empty"
    );
    tf.ok(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert!(case.state().addresses().is_empty());
}
