//! Meshes: the top-level container of every other resource.

use crate::common::IpPreference;
use crate::{enumeration, structure};

enumeration! {
    /// Which outbound traffic proxies in the mesh let through.
    EgressFilterType {
        /// Traffic to any destination.
        AllowAll = "ALLOW_ALL",
        /// Only traffic to destinations modelled in the mesh (and AWS endpoints).
        DropAll = "DROP_ALL",
    }
}

structure! {
    /// The mesh's outbound traffic rule.
    EgressFilter {
        /// The rule; `DROP_ALL` is the service default.
        r#type: EgressFilterType,
    }
}

structure! {
    /// Service discovery settings that apply to the whole mesh.
    MeshServiceDiscovery {
        /// The IP family proxies prefer; virtual nodes can override it.
        ip_preference: Option<IpPreference>,
    }
}

structure! {
    /// The specification of a mesh.
    MeshSpec {
        /// The outbound traffic rule.
        egress_filter: Option<EgressFilter>,
        /// Mesh-wide service discovery settings.
        service_discovery: Option<MeshServiceDiscovery>,
    }
}
