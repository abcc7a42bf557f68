//! Which proxy is which: the `node.id` App Mesh's Envoy agent sends, and the listener ports.

use std::fmt;

/// App Mesh's ingress listener port.
pub const DEFAULT_INGRESS_PORT: u32 = 15000;
/// App Mesh's egress listener port.
pub const DEFAULT_EGRESS_PORT: u32 = 15001;

/// The kind of resource a proxy stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProxyKind {
    /// A sidecar of a virtual node.
    VirtualNode,
    /// A virtual gateway.
    VirtualGateway,
}

impl ProxyKind {
    /// The ARN and short-form segment: `virtualNode`, `virtualGateway`.
    pub fn segment(self) -> &'static str {
        match self {
            ProxyKind::VirtualNode => "virtualNode",
            ProxyKind::VirtualGateway => "virtualGateway",
        }
    }

    /// `virtual node`, `virtual gateway`.
    pub fn human(self) -> &'static str {
        match self {
            ProxyKind::VirtualNode => "virtual node",
            ProxyKind::VirtualGateway => "virtual gateway",
        }
    }
}

/// One connected proxy: the resource it stands for and where it listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Proxy {
    /// The account in the resource ARN, when the proxy sent one.
    pub account: Option<String>,
    /// The mesh.
    pub mesh: String,
    /// Node or gateway.
    pub kind: ProxyKind,
    /// The virtual node's or gateway's name.
    pub name: String,
    /// The port of `lds_ingress_…` (15000 unless node metadata `ingress_port` says otherwise).
    pub ingress_port: u32,
    /// The port of `lds_egress_…` (15001 unless node metadata `egress_port` says otherwise).
    pub egress_port: u32,
}

/// Why a `node.id` names no proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadNodeId(pub String);

impl fmt::Display for BadNodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node.id {:?} is neither a virtual node or virtual gateway ARN nor \
             mesh/<mesh>/virtualNode/<name> or mesh/<mesh>/virtualGateway/<name>",
            self.0
        )
    }
}

impl std::error::Error for BadNodeId {}

impl Proxy {
    /// Reads `node.id` as App Mesh's agent sends it: the resource ARN
    /// (`arn:aws:appmesh:<region>:<account>:mesh/<mesh>/virtualNode/<name>`) or the older
    /// short form `mesh/<mesh>/virtualNode/<name>` (and the same for virtual gateways), with
    /// App Mesh's default ports.
    pub fn from_node_id(id: &str) -> Result<Proxy, BadNodeId> {
        let bad = || BadNodeId(id.to_string());
        let (account, path) = match id.strip_prefix("arn:") {
            Some(rest) => {
                // <partition>:appmesh:<region>:<account>:<path>
                let mut parts = rest.splitn(5, ':');
                let (_partition, service, _region, account, path) = (
                    parts.next().ok_or_else(bad)?,
                    parts.next().ok_or_else(bad)?,
                    parts.next().ok_or_else(bad)?,
                    parts.next().ok_or_else(bad)?,
                    parts.next().ok_or_else(bad)?,
                );
                if service != "appmesh" || account.is_empty() {
                    return Err(bad());
                }
                (Some(account.to_string()), path)
            }
            None => (None, id),
        };
        let segments: Vec<&str> = path.split('/').collect();
        let ["mesh", mesh, kind, name] = segments[..] else {
            return Err(bad());
        };
        let kind = match kind {
            "virtualNode" => ProxyKind::VirtualNode,
            "virtualGateway" => ProxyKind::VirtualGateway,
            _ => return Err(bad()),
        };
        if mesh.is_empty() || name.is_empty() {
            return Err(bad());
        }
        Ok(Proxy {
            account,
            mesh: mesh.to_string(),
            kind,
            name: name.to_string(),
            ingress_port: DEFAULT_INGRESS_PORT,
            egress_port: DEFAULT_EGRESS_PORT,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_arns_and_the_short_form() {
        let p =
            Proxy::from_node_id("arn:aws:appmesh:eu-west-1:111122223333:mesh/apps/virtualNode/web")
                .expect("an ARN");
        assert_eq!(p.account.as_deref(), Some("111122223333"));
        assert_eq!(
            (p.mesh.as_str(), p.kind, p.name.as_str()),
            ("apps", ProxyKind::VirtualNode, "web")
        );
        assert_eq!((p.ingress_port, p.egress_port), (15000, 15001));

        let g = Proxy::from_node_id("mesh/apps/virtualGateway/edge").expect("the short form");
        assert_eq!(
            (g.account, g.kind, g.name.as_str()),
            (None, ProxyKind::VirtualGateway, "edge")
        );
    }

    #[test]
    fn refuses_what_names_no_proxy() {
        for id in [
            "",
            "web",
            "mesh/apps",
            "mesh/apps/virtualService/web",
            "mesh//virtualNode/web",
            "mesh/apps/virtualNode/",
            "mesh/apps/virtualNode/web/extra",
            "arn:aws:s3:eu-west-1:1:mesh/apps/virtualNode/web",
            "arn:aws:appmesh:eu-west-1::mesh/apps/virtualNode/web",
            "mesh/apps/virtualRouter/r/route/x",
        ] {
            let err = Proxy::from_node_id(id).expect_err(id);
            assert!(err.to_string().contains("node.id"), "{err}");
        }
    }
}
