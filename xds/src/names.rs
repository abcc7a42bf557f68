//! App Mesh's names for the Envoy resources it generated (`landscape.md` §2.2), in one place.

use appmesh_model::common::PortProtocol;

/// Which side of the application a resource serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Traffic to the local application.
    Ingress,
    /// Traffic from the local application to its backends.
    Egress,
}

impl Direction {
    fn word(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// `http`, `http2`, `grpc` or `tcp`, as in the names.
pub fn protocol(p: PortProtocol) -> &'static str {
    match p {
        PortProtocol::Http => "http",
        PortProtocol::Http2 => "http2",
        PortProtocol::Grpc => "grpc",
        PortProtocol::Tcp => "tcp",
    }
}

/// `lds_ingress_0.0.0.0_15000`.
pub fn listener(direction: Direction, port: u32) -> String {
    format!("lds_{}_0.0.0.0_{port}", direction.word())
}

/// `cds_ingress_apps_web_http_8080`: the node's own application (ingress) or one of its
/// backends' nodes (egress).
pub fn cluster(direction: Direction, mesh: &str, node: &str, p: PortProtocol, port: i32) -> String {
    format!(
        "cds_{}_{mesh}_{node}_{}_{port}",
        direction.word(),
        protocol(p)
    )
}

/// `cds_egress_apps_allow_all`: where a mesh with the `ALLOW_ALL` egress filter sends
/// requests for hosts that are not virtual services.
pub fn allow_all_cluster(mesh: &str) -> String {
    format!("cds_egress_{mesh}_allow_all")
}

/// `rds_ingress_http_8080`, `rds_egress_http_15001`.
pub fn route_config(direction: Direction, p: PortProtocol, port: i64) -> String {
    format!("rds_{}_{}_{port}", direction.word(), protocol(p))
}
