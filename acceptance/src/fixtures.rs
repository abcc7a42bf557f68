//! Configuration fixtures the test files share: the HCL of the mesh every test starts
//! with, of child resources in it (bare virtual nodes, routers with listeners), of listener
//! and `tags` blocks, the API JSON of a plain listener, and the top-level attributes each
//! resource type has in state.
//!
//! Every child resource written here belongs to `appmesh_mesh.test`
//! (`mesh_name = appmesh_mesh.test.id`).

use std::collections::BTreeSet;
use std::fmt::Display;

use serde_json::{json, Value};

use crate::checks::resource_type;
use crate::state::State;

/// An ACM Private CA ARN in the test account.
pub const ACM_CA_ARN_1: &str = "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/11111111-2222-3333-4444-555555555555";
/// A second ACM Private CA ARN in the test account.
pub const ACM_CA_ARN_2: &str = "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/66666666-7777-8888-9999-000000000000";

/// The attributes every App Mesh resource has at the top level.
const COMMON_ATTRIBUTES: &[&str] = &[
    "arn",
    "created_date",
    "id",
    "last_updated_date",
    "mesh_owner",
    "name",
    "resource_owner",
    "spec",
    "tags",
    "tags_all",
];

/// The top-level attributes of `resource_type` in state (as in the `aws_appmesh_*`
/// resource of the same name, minus `region`), sorted.
pub fn top_level_attributes(resource_type: &str) -> BTreeSet<&'static str> {
    let parents: &[&'static str] = match resource_type {
        "appmesh_mesh" => &[],
        "appmesh_virtual_service"
        | "appmesh_virtual_node"
        | "appmesh_virtual_router"
        | "appmesh_virtual_gateway" => &["mesh_name"],
        "appmesh_route" => &["mesh_name", "virtual_router_name"],
        "appmesh_gateway_route" => &["mesh_name", "virtual_gateway_name"],
        other => panic!("not an App Mesh resource type: {other}"),
    };
    COMMON_ATTRIBUTES.iter().chain(parents).copied().collect()
}

/// Asserts the top-level attributes of `address` in state are exactly the documented ones
/// of its type (so every computed one is set and there is none besides).
pub fn assert_top_level_attributes(state: &State, address: &str) {
    let ty = resource_type(address);
    let values = state
        .values(address)
        .as_object()
        .unwrap_or_else(|| panic!("{address}: values is not an object"));
    let actual: BTreeSet<&str> = values.keys().map(String::as_str).collect();
    assert_eq!(
        actual,
        top_level_attributes(ty),
        "top-level attributes of {ty}"
    );
}

/// `resource "appmesh_mesh" "test"` named `name`, with no spec.
pub fn mesh_hcl(name: &str) -> String {
    format!(
        r#"
resource "appmesh_mesh" "test" {{
  name = "{name}"
}}
"#
    )
}

/// A `tags = { ... }` argument (with a blank line before it), or nothing when `tags` is
/// empty.
pub fn tags_hcl(tags: &[(&str, &str)]) -> String {
    if tags.is_empty() {
        return String::new();
    }
    let entries: String = tags
        .iter()
        .map(|(k, v)| format!("    {k} = \"{v}\"\n"))
        .collect();
    format!("\n  tags = {{\n{entries}  }}\n")
}

/// A resource of type `ty` labelled `label`, named `name`, in `appmesh_mesh.test`:
/// `spec {<spec>}` holds `spec` verbatim, `extra` (e.g. [`tags_hcl`]) follows the spec.
pub fn mesh_child_hcl(ty: &str, label: &str, name: &str, spec: &str, extra: &str) -> String {
    format!(
        r#"
resource "{ty}" "{label}" {{
  name      = "{name}"
  mesh_name = appmesh_mesh.test.id

  spec {{{spec}}}
{extra}}}
"#
    )
}

/// Like [`mesh_child_hcl`], with `body` on lines of its own inside `spec { ... }`.
pub fn mesh_child_block_hcl(ty: &str, label: &str, name: &str, body: &str, extra: &str) -> String {
    mesh_child_hcl(ty, label, name, &format!("\n{body}\n  "), extra)
}

/// A virtual node `label` named `name` with `spec {}`.
pub fn bare_node_hcl(label: &str, name: &str) -> String {
    mesh_child_hcl("appmesh_virtual_node", label, name, "", "")
}

/// A virtual router `label` named `name` with one `protocol` listener per port.
pub fn router_hcl<P: Display>(label: &str, name: &str, protocol: &str, ports: &[P]) -> String {
    let spec = format!("{}  ", listeners_hcl(protocol, ports));
    mesh_child_hcl("appmesh_virtual_router", label, name, &spec, "")
}

/// A virtual node `label` named `node` with `listeners` (HCL, e.g. [`listeners_hcl`]),
/// found through DNS at `hostname`, and the virtual service `label` named `service` that
/// it provides.
pub fn node_service_hcl(
    label: &str,
    node: &str,
    listeners: &str,
    hostname: &str,
    service: &str,
) -> String {
    let node_spec = format!(
        r#"{listeners}
    service_discovery {{
      dns {{
        hostname = "{hostname}"
      }}
    }}
  "#
    );
    let provider = format!(
        r#"
    provider {{
      virtual_node {{
        virtual_node_name = appmesh_virtual_node.{label}.name
      }}
    }}
  "#
    );
    [
        mesh_child_hcl("appmesh_virtual_node", label, node, &node_spec, ""),
        mesh_child_hcl("appmesh_virtual_service", label, service, &provider, ""),
    ]
    .concat()
}

/// A `listener` block on `port`/`protocol`, with `extra` (further listener blocks) after
/// the port mapping.
pub fn listener_hcl<P: Display>(port: P, protocol: &str, extra: &str) -> String {
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!("{extra}\n")
    };
    format!(
        r#"
    listener {{
      port_mapping {{
        port     = {port}
        protocol = "{protocol}"
      }}
{extra}    }}
"#
    )
}

/// One plain `protocol` listener block per port.
pub fn listeners_hcl<P: Display>(protocol: &str, ports: &[P]) -> String {
    ports
        .iter()
        .map(|port| listener_hcl(port, protocol, ""))
        .collect()
}

/// The API JSON of a plain listener.
pub fn api_listener(port: u16, protocol: &str) -> Value {
    json!({"portMapping": {"port": port, "protocol": protocol}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn router_is_a_child_with_listeners() {
        let hcl = router_hcl("test", "r", "http", &[8080]);
        assert_eq!(
            hcl,
            r#"
resource "appmesh_virtual_router" "test" {
  name      = "r"
  mesh_name = appmesh_mesh.test.id

  spec {
    listener {
      port_mapping {
        port     = 8080
        protocol = "http"
      }
    }
  }
}
"#
        );
    }

    #[test]
    fn attributes_per_type() {
        assert_eq!(top_level_attributes("appmesh_mesh").len(), 10);
        assert!(top_level_attributes("appmesh_route").contains("virtual_router_name"));
        assert!(top_level_attributes("appmesh_gateway_route").contains("virtual_gateway_name"));
        assert!(!top_level_attributes("appmesh_virtual_node").contains("virtual_router_name"));
    }
}
