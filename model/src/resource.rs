//! The seven resource kinds, their identities and ARNs, and the request and response bodies
//! that carry them.

use std::fmt;

use crate::common::{
    ResourceMetadata, ResourceStatus, TagRef, Timestamp, ACCOUNT_ID, ARN, CLIENT_TOKEN,
    RESOURCE_NAME, TAG_LIST, VIRTUAL_SERVICE_NAME,
};
use crate::gateway_route::GatewayRouteSpec;
use crate::mesh::MeshSpec;
use crate::route::RouteSpec;
use crate::shape::{Described, Shape};
use crate::structure;
use crate::virtual_gateway::VirtualGatewaySpec;
use crate::virtual_node::VirtualNodeSpec;
use crate::virtual_router::VirtualRouterSpec;
use crate::virtual_service::VirtualServiceSpec;

/// A kind of App Mesh resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A mesh.
    Mesh,
    /// A virtual service.
    VirtualService,
    /// A virtual node.
    VirtualNode,
    /// A virtual router.
    VirtualRouter,
    /// A route of a virtual router.
    Route,
    /// A virtual gateway.
    VirtualGateway,
    /// A gateway route of a virtual gateway.
    GatewayRoute,
}

impl Kind {
    /// Every kind, parents before children.
    pub const ALL: [Kind; 7] = [
        Kind::Mesh,
        Kind::VirtualService,
        Kind::VirtualNode,
        Kind::VirtualRouter,
        Kind::Route,
        Kind::VirtualGateway,
        Kind::GatewayRoute,
    ];

    /// The kind's name in the API, as in `CreateVirtualNode` (`VirtualNode`).
    pub fn api_name(self) -> &'static str {
        match self {
            Kind::Mesh => "Mesh",
            Kind::VirtualService => "VirtualService",
            Kind::VirtualNode => "VirtualNode",
            Kind::VirtualRouter => "VirtualRouter",
            Kind::Route => "Route",
            Kind::VirtualGateway => "VirtualGateway",
            Kind::GatewayRoute => "GatewayRoute",
        }
    }

    /// The kind in words, for messages: "virtual node".
    pub fn human(self) -> &'static str {
        match self {
            Kind::Mesh => "mesh",
            Kind::VirtualService => "virtual service",
            Kind::VirtualNode => "virtual node",
            Kind::VirtualRouter => "virtual router",
            Kind::Route => "route",
            Kind::VirtualGateway => "virtual gateway",
            Kind::GatewayRoute => "gateway route",
        }
    }

    /// The JSON member holding the resource's own name: `virtualNodeName`.
    pub fn name_member(self) -> &'static str {
        match self {
            Kind::Mesh => "meshName",
            Kind::VirtualService => "virtualServiceName",
            Kind::VirtualNode => "virtualNodeName",
            Kind::VirtualRouter => "virtualRouterName",
            Kind::Route => "routeName",
            Kind::VirtualGateway => "virtualGatewayName",
            Kind::GatewayRoute => "gatewayRouteName",
        }
    }

    /// The collection segment of the kind's URIs and the key of its list output:
    /// `virtualNodes`.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Mesh => "meshes",
            Kind::VirtualService => "virtualServices",
            Kind::VirtualNode => "virtualNodes",
            Kind::VirtualRouter => "virtualRouters",
            Kind::Route => "routes",
            Kind::VirtualGateway => "virtualGateways",
            Kind::GatewayRoute => "gatewayRoutes",
        }
    }

    /// The kind's segment in an ARN: `virtualNode`.
    pub fn arn_segment(self) -> &'static str {
        match self {
            Kind::Mesh => "mesh",
            Kind::VirtualService => "virtualService",
            Kind::VirtualNode => "virtualNode",
            Kind::VirtualRouter => "virtualRouter",
            Kind::Route => "route",
            Kind::VirtualGateway => "virtualGateway",
            Kind::GatewayRoute => "gatewayRoute",
        }
    }

    /// The resource a resource of this kind hangs under, besides its mesh.
    pub fn parent(self) -> Option<Kind> {
        match self {
            Kind::Route => Some(Kind::VirtualRouter),
            Kind::GatewayRoute => Some(Kind::VirtualGateway),
            _ => None,
        }
    }

    /// The shape of the kind's `spec`.
    pub fn spec_shape(self) -> &'static Shape {
        match self {
            Kind::Mesh => MeshSpec::SHAPE,
            Kind::VirtualService => VirtualServiceSpec::SHAPE,
            Kind::VirtualNode => VirtualNodeSpec::SHAPE,
            Kind::VirtualRouter => VirtualRouterSpec::SHAPE,
            Kind::Route => RouteSpec::SHAPE,
            Kind::VirtualGateway => VirtualGatewaySpec::SHAPE,
            Kind::GatewayRoute => GatewayRouteSpec::SHAPE,
        }
    }

    /// The shape of the kind's own name: 1 to 255 characters without whitespace or control
    /// characters, and not `.` or `..`. Virtual service names are usually DNS names.
    pub fn name_shape(self) -> &'static Shape {
        match self {
            Kind::VirtualService => VIRTUAL_SERVICE_NAME,
            _ => RESOURCE_NAME,
        }
    }

    /// The shape of the body of `Create<Kind>`.
    pub fn create_shape(self) -> &'static Shape {
        match self {
            Kind::Mesh => CreateMeshBody::SHAPE,
            Kind::VirtualService => CreateVirtualServiceBody::SHAPE,
            Kind::VirtualNode => CreateVirtualNodeBody::SHAPE,
            Kind::VirtualRouter => CreateVirtualRouterBody::SHAPE,
            Kind::Route => CreateRouteBody::SHAPE,
            Kind::VirtualGateway => CreateVirtualGatewayBody::SHAPE,
            Kind::GatewayRoute => CreateGatewayRouteBody::SHAPE,
        }
    }

    /// The shape of the body of `Update<Kind>`.
    pub fn update_shape(self) -> &'static Shape {
        match self {
            Kind::Mesh => UpdateMeshBody::SHAPE,
            Kind::VirtualService => UpdateVirtualServiceBody::SHAPE,
            Kind::VirtualNode => UpdateVirtualNodeBody::SHAPE,
            Kind::VirtualRouter => UpdateVirtualRouterBody::SHAPE,
            Kind::Route => UpdateRouteBody::SHAPE,
            Kind::VirtualGateway => UpdateVirtualGatewayBody::SHAPE,
            Kind::GatewayRoute => UpdateGatewayRouteBody::SHAPE,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.human())
    }
}

/// The identity of one resource: its kind, mesh, parent (router or gateway) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    /// The kind.
    pub kind: Kind,
    /// The mesh; for a mesh, its own name.
    pub mesh: String,
    /// The virtual router of a route or virtual gateway of a gateway route.
    pub parent: Option<String>,
    /// The resource's name; for a mesh, the mesh name again.
    pub name: String,
}

impl ResourceKey {
    /// The key of a mesh.
    pub fn mesh(name: impl Into<String>) -> Self {
        let name = name.into();
        ResourceKey {
            kind: Kind::Mesh,
            mesh: name.clone(),
            parent: None,
            name,
        }
    }

    /// The key of a resource directly in a mesh.
    pub fn in_mesh(kind: Kind, mesh: impl Into<String>, name: impl Into<String>) -> Self {
        ResourceKey {
            kind,
            mesh: mesh.into(),
            parent: None,
            name: name.into(),
        }
    }

    /// The key of this resource's parent (router or gateway), if it has one.
    pub fn parent_key(&self) -> Option<ResourceKey> {
        let kind = self.kind.parent()?;
        Some(ResourceKey::in_mesh(kind, &self.mesh, self.parent.clone()?))
    }

    /// The resource's ARN:
    /// `arn:aws:appmesh:<region>:<account>:mesh/<mesh>/virtualRouter/<router>/route/<route>`.
    pub fn arn(&self, region: &str, account: &str) -> String {
        let mut arn = format!("arn:aws:appmesh:{region}:{account}:mesh/{}", self.mesh);
        if self.kind != Kind::Mesh {
            if let (Some(parent_kind), Some(parent)) = (self.kind.parent(), &self.parent) {
                arn.push_str(&format!("/{}/{parent}", parent_kind.arn_segment()));
            }
            arn.push_str(&format!("/{}/{}", self.kind.arn_segment(), self.name));
        }
        arn
    }

    /// Parses an App Mesh ARN into its region, account and key.
    pub fn parse_arn(arn: &str) -> Option<(String, String, ResourceKey)> {
        let mut parts = arn.splitn(6, ':');
        let (
            Some("arn"),
            Some(_partition),
            Some("appmesh"),
            Some(region),
            Some(account),
            Some(path),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return None;
        };
        let segs: Vec<&str> = path.split('/').collect();
        let key = match segs.as_slice() {
            ["mesh", mesh] => ResourceKey::mesh(*mesh),
            ["mesh", mesh, seg, name] => {
                let kind = [
                    Kind::VirtualService,
                    Kind::VirtualNode,
                    Kind::VirtualRouter,
                    Kind::VirtualGateway,
                ]
                .into_iter()
                .find(|k| k.arn_segment() == *seg)?;
                ResourceKey::in_mesh(kind, *mesh, *name)
            }
            ["mesh", mesh, "virtualRouter", router, "route", name] => ResourceKey {
                kind: Kind::Route,
                mesh: (*mesh).to_owned(),
                parent: Some((*router).to_owned()),
                name: (*name).to_owned(),
            },
            ["mesh", mesh, "virtualGateway", gateway, "gatewayRoute", name] => ResourceKey {
                kind: Kind::GatewayRoute,
                mesh: (*mesh).to_owned(),
                parent: Some((*gateway).to_owned()),
                name: (*name).to_owned(),
            },
            _ => return None,
        };
        if key.name.is_empty() || key.mesh.is_empty() || key.parent.as_deref() == Some("") {
            return None;
        }
        Some((region.to_owned(), account.to_owned(), key))
    }
}

impl fmt::Display for ResourceKey {
    /// `mesh/name` or `mesh/parent/name`, the form Terraform import ids use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == Kind::Mesh {
            return f.write_str(&self.name);
        }
        f.write_str(&self.mesh)?;
        if let Some(parent) = &self.parent {
            write!(f, "/{parent}")?;
        }
        write!(f, "/{}", self.name)
    }
}

// === Request bodies ===

structure! {
    /// The body of CreateMesh.
    CreateMeshBody {
        /// A token that makes retries of the same request safe.
        client_token: Option<String> = CLIENT_TOKEN,
        /// The mesh's name.
        mesh_name: String = RESOURCE_NAME,
        /// The mesh's specification.
        spec: Option<MeshSpec>,
        /// Tags for the mesh.
        tags: Option<Vec<TagRef>> = TAG_LIST,
    }
}

structure! {
    /// The body of UpdateMesh.
    UpdateMeshBody {
        /// A token that makes retries of the same request safe.
        client_token: Option<String> = CLIENT_TOKEN,
        /// The mesh's new specification.
        spec: Option<MeshSpec>,
    }
}

/// Declares the create body of a mesh child kind.
macro_rules! create_body {
    ($(#[doc = $doc:literal])* $name:ident, $member:ident, $spec:ty, $name_shape:expr) => {
        structure! {
            $(#[doc = $doc])*
            $name {
                /// A token that makes retries of the same request safe.
                client_token: Option<String> = CLIENT_TOKEN,
                /// The resource's specification.
                spec: $spec,
                /// Tags for the resource.
                tags: Option<Vec<TagRef>> = TAG_LIST,
                /// The resource's name.
                $member: String = $name_shape,
            }
        }
    };
}

create_body!(
    /// The body of CreateVirtualService.
    CreateVirtualServiceBody, virtual_service_name, VirtualServiceSpec, VIRTUAL_SERVICE_NAME
);
create_body!(
    /// The body of CreateVirtualNode.
    CreateVirtualNodeBody, virtual_node_name, VirtualNodeSpec, RESOURCE_NAME
);
create_body!(
    /// The body of CreateVirtualRouter.
    CreateVirtualRouterBody, virtual_router_name, VirtualRouterSpec, RESOURCE_NAME
);
create_body!(
    /// The body of CreateRoute.
    CreateRouteBody, route_name, RouteSpec, RESOURCE_NAME
);
create_body!(
    /// The body of CreateVirtualGateway.
    CreateVirtualGatewayBody, virtual_gateway_name, VirtualGatewaySpec, RESOURCE_NAME
);
create_body!(
    /// The body of CreateGatewayRoute.
    CreateGatewayRouteBody, gateway_route_name, GatewayRouteSpec, RESOURCE_NAME
);

/// Declares the update body of a mesh child kind.
macro_rules! update_body {
    ($(#[doc = $doc:literal])* $name:ident, $spec:ty) => {
        structure! {
            $(#[doc = $doc])*
            $name {
                /// A token that makes retries of the same request safe.
                client_token: Option<String> = CLIENT_TOKEN,
                /// The resource's new specification.
                spec: $spec,
            }
        }
    };
}

update_body!(
    /// The body of UpdateVirtualService.
    UpdateVirtualServiceBody, VirtualServiceSpec
);
update_body!(
    /// The body of UpdateVirtualNode.
    UpdateVirtualNodeBody, VirtualNodeSpec
);
update_body!(
    /// The body of UpdateVirtualRouter.
    UpdateVirtualRouterBody, VirtualRouterSpec
);
update_body!(
    /// The body of UpdateRoute.
    UpdateRouteBody, RouteSpec
);
update_body!(
    /// The body of UpdateVirtualGateway.
    UpdateVirtualGatewayBody, VirtualGatewaySpec
);
update_body!(
    /// The body of UpdateGatewayRoute.
    UpdateGatewayRouteBody, GatewayRouteSpec
);

structure! {
    /// The body of TagResource.
    TagResourceBody {
        /// The tags to add or overwrite. A resource carries at most 50 tags; going over is a
        /// TooManyTagsException, not a malformed request.
        tags: Vec<TagRef>,
    }
}

structure! {
    /// The body of UntagResource.
    UntagResourceBody {
        /// The keys of the tags to remove.
        tag_keys: Vec<String> = &crate::shape::list(&crate::shape::text(1, 128), 0, 50),
    }
}

// === Response bodies ===

structure! {
    /// A mesh as the API returns it.
    MeshData {
        /// The mesh's name.
        mesh_name: String = RESOURCE_NAME,
        /// What the service records about it.
        metadata: ResourceMetadata,
        /// Its specification.
        spec: MeshSpec,
        /// Its state.
        status: ResourceStatus,
    }
}

structure! {
    /// A summary of a resource in a List output (no uid, spec or status).
    ResourceRef {
        /// The resource's ARN.
        arn: String = ARN,
        /// When it was created.
        created_at: Timestamp,
        /// The name of the gateway route, if it is one.
        gateway_route_name: Option<String> = RESOURCE_NAME,
        /// When it was last changed.
        last_updated_at: Timestamp,
        /// The mesh it is in (or is).
        mesh_name: String = RESOURCE_NAME,
        /// The account owning the mesh.
        mesh_owner: String = ACCOUNT_ID,
        /// The account owning the resource.
        resource_owner: String = ACCOUNT_ID,
        /// The name of the route, if it is one.
        route_name: Option<String> = RESOURCE_NAME,
        /// Its version.
        version: i64,
        /// The name of the virtual gateway, for a gateway or gateway route.
        virtual_gateway_name: Option<String> = RESOURCE_NAME,
        /// The name of the virtual node, if it is one.
        virtual_node_name: Option<String> = RESOURCE_NAME,
        /// The name of the virtual router, for a router or route.
        virtual_router_name: Option<String> = RESOURCE_NAME,
        /// The name of the virtual service, if it is one.
        virtual_service_name: Option<String> = VIRTUAL_SERVICE_NAME,
    }
}

/// Declares the `XxxData` output of a mesh child kind.
macro_rules! data {
    ($(#[doc = $doc:literal])* $name:ident, $spec:ty, $($member:ident = $shape:expr),+) => {
        structure! {
            $(#[doc = $doc])*
            $name {
                /// The mesh the resource is in.
                mesh_name: String = RESOURCE_NAME,
                /// What the service records about it.
                metadata: ResourceMetadata,
                /// Its specification.
                spec: $spec,
                /// Its state.
                status: ResourceStatus,
                $(
                    /// A name in the resource's identity.
                    $member: String = $shape,
                )+
            }
        }
    };
}

data!(
    /// A virtual service as the API returns it.
    VirtualServiceData, VirtualServiceSpec, virtual_service_name = VIRTUAL_SERVICE_NAME
);
data!(
    /// A virtual node as the API returns it.
    VirtualNodeData, VirtualNodeSpec, virtual_node_name = RESOURCE_NAME
);
data!(
    /// A virtual router as the API returns it.
    VirtualRouterData, VirtualRouterSpec, virtual_router_name = RESOURCE_NAME
);
data!(
    /// A route as the API returns it.
    RouteData, RouteSpec, virtual_router_name = RESOURCE_NAME, route_name = RESOURCE_NAME
);
data!(
    /// A virtual gateway as the API returns it.
    VirtualGatewayData, VirtualGatewaySpec, virtual_gateway_name = RESOURCE_NAME
);
data!(
    /// A gateway route as the API returns it.
    GatewayRouteData, GatewayRouteSpec, virtual_gateway_name = RESOURCE_NAME,
    gateway_route_name = RESOURCE_NAME
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_round_trip() {
        let keys = [
            ResourceKey::mesh("apps"),
            ResourceKey::in_mesh(Kind::VirtualNode, "apps", "serviceB"),
            ResourceKey::in_mesh(Kind::VirtualService, "apps", "serviceb.apps.local"),
            ResourceKey {
                kind: Kind::Route,
                mesh: "apps".into(),
                parent: Some("serviceB".into()),
                name: "r".into(),
            },
            ResourceKey {
                kind: Kind::GatewayRoute,
                mesh: "apps".into(),
                parent: Some("gw".into()),
                name: "gr".into(),
            },
        ];
        for key in keys {
            let arn = key.arn("us-east-1", "123456789012");
            let (region, account, parsed) = ResourceKey::parse_arn(&arn).expect("parses");
            assert_eq!(
                (region.as_str(), account.as_str(), &parsed),
                ("us-east-1", "123456789012", &key)
            );
        }
        assert_eq!(
            ResourceKey::in_mesh(Kind::VirtualNode, "apps", "b").arn("us-east-1", "123456789012"),
            "arn:aws:appmesh:us-east-1:123456789012:mesh/apps/virtualNode/b"
        );
        assert!(ResourceKey::parse_arn("arn:aws:appmesh:us-east-1:1:mesh/a/route/x").is_none());
        assert!(ResourceKey::parse_arn("not an arn").is_none());
    }
}
