//! Virtual routers: route traffic for a virtual service to virtual nodes.

use crate::common::PortMapping;
use crate::structure;

structure! {
    /// A port a virtual router receives traffic on.
    VirtualRouterListener {
        /// The port and its protocol.
        port_mapping: PortMapping,
    }
}

structure! {
    /// The specification of a virtual router.
    VirtualRouterSpec {
        /// The ports the router listens on.
        listeners: Option<Vec<VirtualRouterListener>>,
    }
}
