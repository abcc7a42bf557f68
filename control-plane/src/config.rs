//! Settings of a control plane: where it pretends to live (region, account) and its service
//! quotas.

use std::collections::BTreeMap;

use serde::Deserialize;

/// What a running control plane needs to answer requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The region written into ARNs.
    pub region: String,
    /// The 12-digit account that owns every mesh and resource.
    pub account_id: String,
    /// Service quotas.
    pub quotas: Quotas,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            quotas: Quotas::default(),
        }
    }
}

/// Declares the quotas once: field, flag name, default.
macro_rules! quotas {
    ($($(#[doc = $doc:literal])* $field:ident = $name:literal, $default:literal;)*) => {
        /// Service quotas, answered with LimitExceededException. The defaults are the
        /// service's published defaults; each can be raised (or lowered) by flag or config
        /// file, like a quota increase.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Quotas {
            $($(#[doc = $doc])* pub $field: usize,)*
        }

        impl Default for Quotas {
            fn default() -> Self {
                Quotas { $($field: $default,)* }
            }
        }

        impl Quotas {
            /// Every quota's name, as used by `--quota NAME=VALUE` and the config file.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// Sets the quota called `name`.
            pub fn set(&mut self, name: &str, value: usize) -> anyhow::Result<()> {
                match name {
                    $($name => self.$field = value,)*
                    _ => anyhow::bail!(
                        "unknown quota {name:?}; known quotas: {}",
                        Self::NAMES.join(", ")
                    ),
                }
                Ok(())
            }
        }
    };
}

quotas! {
    /// Meshes per account.
    meshes = "meshes", 15;
    /// Virtual services per mesh.
    virtual_services_per_mesh = "virtual-services-per-mesh", 200;
    /// Virtual nodes per mesh.
    virtual_nodes_per_mesh = "virtual-nodes-per-mesh", 200;
    /// Virtual routers per mesh.
    virtual_routers_per_mesh = "virtual-routers-per-mesh", 200;
    /// Routes per virtual router.
    routes_per_virtual_router = "routes-per-virtual-router", 50;
    /// Virtual gateways per mesh.
    virtual_gateways_per_mesh = "virtual-gateways-per-mesh", 3;
    /// Gateway routes per virtual gateway.
    gateway_routes_per_virtual_gateway = "gateway-routes-per-virtual-gateway", 10;
    /// Backends per virtual node.
    backends_per_virtual_node = "backends-per-virtual-node", 50;
}

impl Quotas {
    /// The quota on how many resources of `kind` one mesh (or router, or gateway) holds, with
    /// its name.
    pub fn per_container(&self, kind: appmesh_model::Kind) -> (usize, &'static str) {
        use appmesh_model::Kind;
        match kind {
            Kind::Mesh => (self.meshes, "meshes"),
            Kind::VirtualService => (self.virtual_services_per_mesh, "virtual-services-per-mesh"),
            Kind::VirtualNode => (self.virtual_nodes_per_mesh, "virtual-nodes-per-mesh"),
            Kind::VirtualRouter => (self.virtual_routers_per_mesh, "virtual-routers-per-mesh"),
            Kind::Route => (self.routes_per_virtual_router, "routes-per-virtual-router"),
            Kind::VirtualGateway => (self.virtual_gateways_per_mesh, "virtual-gateways-per-mesh"),
            Kind::GatewayRoute => (
                self.gateway_routes_per_virtual_gateway,
                "gateway-routes-per-virtual-gateway",
            ),
        }
    }

    /// Applies `NAME=VALUE` settings.
    pub fn apply_flags(&mut self, flags: &[String]) -> anyhow::Result<()> {
        for flag in flags {
            let (name, value) = flag
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--quota takes NAME=VALUE, got {flag:?}"))?;
            let value = value
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("quota {name:?}: {value:?} is not a whole number"))?;
            self.set(name.trim(), value)?;
        }
        Ok(())
    }
}

/// The optional TOML config file:
///
/// ```toml
/// [quotas]
/// meshes = 50
/// virtual-nodes-per-mesh = 1000
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Quota overrides by name.
    #[serde(default)]
    pub quotas: BTreeMap<String, usize>,
}

impl ConfigFile {
    /// Reads and parses a config file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
    }

    /// Applies the file's quotas.
    pub fn apply(&self, quotas: &mut Quotas) -> anyhow::Result<()> {
        for (name, value) in &self.quotas {
            quotas.set(name, *value)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_are_set_by_flag_and_file() {
        let mut q = Quotas::default();
        assert_eq!(q.meshes, 15);
        q.apply_flags(&["meshes=2".into(), "backends-per-virtual-node = 7".into()])
            .expect("valid");
        assert_eq!((q.meshes, q.backends_per_virtual_node), (2, 7));
        assert!(q.apply_flags(&["nope=1".into()]).is_err());
        assert!(q.apply_flags(&["meshes=lots".into()]).is_err());
        let file: ConfigFile =
            toml::from_str("[quotas]\nvirtual-gateways-per-mesh = 9\n").expect("toml");
        file.apply(&mut q).expect("known");
        assert_eq!(q.virtual_gateways_per_mesh, 9);
    }
}
