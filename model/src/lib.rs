//! The App Mesh 2019-01-25 API model: every shape as a Rust type, one walkable description of
//! them all, and the service's validation rules.
//!
//! - [`shape`]: the description types and the macros that declare a shape once, yielding both
//!   the serde type and its [`Shape`](shape::Shape).
//! - [`common`], [`mesh`], [`virtual_service`], [`virtual_node`], [`virtual_router`],
//!   [`route`], [`virtual_gateway`], [`gateway_route`]: the shapes, by resource.
//! - [`resource`]: the seven kinds, identities, ARNs, request and response bodies.
//! - [`validate`]: the generic validator that reports `path: problem`.
//! - [`rules`]: the service rules a shape cannot express.
//!
//! The crate has no HTTP, storage or Terraform dependency; the control plane and the provider
//! both build on it, so what the provider accepts at plan time is what the server accepts.

pub mod shape;

pub mod common;
pub mod gateway_route;
pub mod mesh;
pub mod resource;
pub mod route;
pub mod rules;
pub mod validate;
pub mod virtual_gateway;
pub mod virtual_node;
pub mod virtual_router;
pub mod virtual_service;

use serde_json::Value;

pub use resource::{Kind, ResourceKey};
pub use validate::{Path, Violation};

/// The specification of any resource, typed by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    /// A mesh's.
    Mesh(mesh::MeshSpec),
    /// A virtual service's.
    VirtualService(virtual_service::VirtualServiceSpec),
    /// A virtual node's.
    VirtualNode(virtual_node::VirtualNodeSpec),
    /// A virtual router's.
    VirtualRouter(virtual_router::VirtualRouterSpec),
    /// A route's.
    Route(route::RouteSpec),
    /// A virtual gateway's.
    VirtualGateway(virtual_gateway::VirtualGatewaySpec),
    /// A gateway route's.
    GatewayRoute(gateway_route::GatewayRouteSpec),
}

impl Spec {
    /// Validates `value` as the spec of a `kind` (shape first, then the service rules) and
    /// returns it typed, or every violation found with paths under `path`.
    pub fn parse(kind: Kind, value: &Value, path: &Path) -> Result<Spec, Vec<Violation>> {
        let violations = validate::validate(kind.spec_shape(), value, path);
        if !violations.is_empty() {
            return Err(violations);
        }
        let spec = Spec::from_valid(kind, without_nulls(value.clone()))
            .map_err(|e| vec![Violation::new(path.clone(), format!("is malformed: {e}"))])?;
        let violations = rules::check_spec(&spec, path);
        if violations.is_empty() {
            Ok(spec)
        } else {
            Err(violations)
        }
    }

    fn from_valid(kind: Kind, value: Value) -> Result<Spec, serde_json::Error> {
        Ok(match kind {
            Kind::Mesh => Spec::Mesh(serde_json::from_value(value)?),
            Kind::VirtualService => Spec::VirtualService(serde_json::from_value(value)?),
            Kind::VirtualNode => Spec::VirtualNode(serde_json::from_value(value)?),
            Kind::VirtualRouter => Spec::VirtualRouter(serde_json::from_value(value)?),
            Kind::Route => Spec::Route(serde_json::from_value(value)?),
            Kind::VirtualGateway => Spec::VirtualGateway(serde_json::from_value(value)?),
            Kind::GatewayRoute => Spec::GatewayRoute(serde_json::from_value(value)?),
        })
    }

    /// The kind of resource this spec belongs to.
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Mesh(_) => Kind::Mesh,
            Spec::VirtualService(_) => Kind::VirtualService,
            Spec::VirtualNode(_) => Kind::VirtualNode,
            Spec::VirtualRouter(_) => Kind::VirtualRouter,
            Spec::Route(_) => Kind::Route,
            Spec::VirtualGateway(_) => Kind::VirtualGateway,
            Spec::GatewayRoute(_) => Kind::GatewayRoute,
        }
    }

    /// The spec in its wire form.
    pub fn to_value(&self) -> Value {
        let v = match self {
            Spec::Mesh(s) => serde_json::to_value(s),
            Spec::VirtualService(s) => serde_json::to_value(s),
            Spec::VirtualNode(s) => serde_json::to_value(s),
            Spec::VirtualRouter(s) => serde_json::to_value(s),
            Spec::Route(s) => serde_json::to_value(s),
            Spec::VirtualGateway(s) => serde_json::to_value(s),
            Spec::GatewayRoute(s) => serde_json::to_value(s),
        };
        // The model types hold only strings, numbers, booleans, lists and structures, which
        // always serialise.
        v.unwrap_or(Value::Null)
    }
}

/// `value` without its `null` members, which the validator treats as absent: serde would
/// refuse `{"virtualNode": null, "virtualRouter": {...}}` as a union with two keys.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests;
