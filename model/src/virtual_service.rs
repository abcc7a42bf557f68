//! Virtual services: names that clients call, provided by a virtual node or router.

use crate::common::RESOURCE_NAME;
use crate::{structure, union};

structure! {
    /// A virtual node that provides a virtual service.
    VirtualNodeServiceProvider {
        /// The virtual node's name.
        virtual_node_name: String = RESOURCE_NAME,
    }
}

structure! {
    /// A virtual router that provides a virtual service.
    VirtualRouterServiceProvider {
        /// The virtual router's name.
        virtual_router_name: String = RESOURCE_NAME,
    }
}

union! {
    /// What serves a virtual service's traffic.
    VirtualServiceProvider {
        /// A virtual node.
        VirtualNode(VirtualNodeServiceProvider),
        /// A virtual router.
        VirtualRouter(VirtualRouterServiceProvider),
    }
}

structure! {
    /// The specification of a virtual service.
    VirtualServiceSpec {
        /// What serves the service; none means it routes nowhere yet.
        provider: Option<VirtualServiceProvider>,
    }
}
