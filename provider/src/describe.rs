//! How the API model appears in Terraform: the one description of every resource.
//!
//! The model crate already describes every member (name, documentation, required flag,
//! limits, enum values, unions). Terraform names, nesting, list-or-set and defaults are
//! derived from it by one rule — a structure or union member becomes a block (a list of at
//! most one), a list of structures becomes a repeated block, everything else an attribute,
//! and names become snake_case — except where [`TWEAKS`] says otherwise. The tweaks are the
//! systematic differences `aws_appmesh_*` users already rely on: singular names for repeated
//! blocks, sets where order carries no meaning, a map for Cloud Map attributes, and defaults.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use appmesh_model::shape::{Member, Shape};
use appmesh_model::Kind;

/// A Terraform-side adjustment of one API member.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tweak {
    /// The Terraform name, when it is not the snake_case of the API name.
    pub rename: Option<&'static str>,
    /// A set (order carries no meaning) rather than a list.
    pub set: bool,
    /// A list of `{key, value}` objects shown as a `map(string)`.
    pub as_map: bool,
    /// The value assumed when the configuration leaves the member out.
    pub default: Option<Default>,
    /// Required in Terraform although the API model leaves it optional (the service
    /// refuses it missing; `aws_appmesh_*` marks it required).
    pub required: bool,
    /// Filled in by the service when the configuration leaves it out
    /// ([`appmesh_model::rules::fill_service_defaults`]): optional and computed.
    pub computed: bool,
}

/// A default value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    /// A string (or enum) default.
    Str(&'static str),
    /// A boolean default.
    Bool(bool),
}

const PLAIN: Tweak = Tweak {
    rename: None,
    set: false,
    as_map: false,
    default: None,
    required: false,
    computed: false,
};
const fn renamed(name: &'static str) -> Tweak {
    Tweak {
        rename: Some(name),
        ..PLAIN
    }
}
const fn renamed_set(name: &'static str) -> Tweak {
    Tweak {
        rename: Some(name),
        set: true,
        ..PLAIN
    }
}
const SET: Tweak = Tweak { set: true, ..PLAIN };
const MAP: Tweak = Tweak {
    as_map: true,
    ..PLAIN
};
const REQUIRED: Tweak = Tweak {
    required: true,
    ..PLAIN
};
const COMPUTED: Tweak = Tweak {
    computed: true,
    ..PLAIN
};
const fn default(value: Default) -> Tweak {
    Tweak {
        default: Some(value),
        ..PLAIN
    }
}

/// Every deviation from the derivation rule, by (API shape, API member).
pub static TWEAKS: &[(&str, &str, Tweak)] = &[
    ("VirtualNodeSpec", "listeners", renamed("listener")),
    ("VirtualNodeSpec", "backends", renamed_set("backend")),
    ("VirtualRouterSpec", "listeners", renamed("listener")),
    ("VirtualGatewaySpec", "listeners", renamed("listener")),
    (
        "HttpRouteAction",
        "weightedTargets",
        renamed_set("weighted_target"),
    ),
    (
        "GrpcRouteAction",
        "weightedTargets",
        renamed_set("weighted_target"),
    ),
    (
        "TcpRouteAction",
        "weightedTargets",
        renamed_set("weighted_target"),
    ),
    ("HttpRouteMatch", "headers", renamed_set("header")),
    (
        "HttpRouteMatch",
        "queryParameters",
        renamed_set("query_parameter"),
    ),
    ("HttpGatewayRouteMatch", "headers", renamed_set("header")),
    (
        "HttpGatewayRouteMatch",
        "queryParameters",
        renamed_set("query_parameter"),
    ),
    ("GrpcRouteMatch", "metadata", SET),
    ("GrpcGatewayRouteMatch", "metadata", SET),
    ("HttpRetryPolicy", "httpRetryEvents", SET),
    ("HttpRetryPolicy", "tcpRetryEvents", SET),
    ("GrpcRetryPolicy", "grpcRetryEvents", SET),
    ("GrpcRetryPolicy", "httpRetryEvents", SET),
    ("GrpcRetryPolicy", "tcpRetryEvents", SET),
    ("ClientPolicyTls", "ports", SET),
    ("SubjectAlternativeNameMatchers", "exact", SET),
    (
        "TlsValidationContextAcmTrust",
        "certificateAuthorityArns",
        SET,
    ),
    ("AwsCloudMapServiceDiscovery", "attributes", MAP),
    ("EgressFilter", "type", default(Default::Str("DROP_ALL"))),
    ("ClientPolicyTls", "enforce", default(Default::Bool(true))),
    ("HttpRouteHeader", "invert", default(Default::Bool(false))),
    (
        "HttpGatewayRouteHeader",
        "invert",
        default(Default::Bool(false)),
    ),
    ("GrpcRouteMetadata", "invert", default(Default::Bool(false))),
    (
        "GrpcGatewayRouteMetadata",
        "invert",
        default(Default::Bool(false)),
    ),
    ("Duration", "unit", REQUIRED),
    ("Duration", "value", REQUIRED),
    (
        "GatewayRouteHostnameRewrite",
        "defaultTargetHostname",
        REQUIRED,
    ),
    ("HttpGatewayRoutePathRewrite", "exact", REQUIRED),
    ("HealthCheckPolicy", "port", COMPUTED),
    ("VirtualGatewayHealthCheckPolicy", "port", COMPUTED),
];

/// The scalar types a Terraform attribute can have here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    /// A string (free text or one of an enum's values).
    String,
    /// A whole number.
    Number,
    /// A boolean.
    Bool,
}

/// How one API member appears in Terraform.
#[derive(Debug, Clone, Copy)]
pub enum Form {
    /// A single attribute.
    Attribute(Scalar),
    /// A list or set attribute of scalars.
    Collection {
        /// The item type.
        item: Scalar,
        /// Set rather than list.
        set: bool,
    },
    /// A `map(string)` made from a list of `{key, value}` objects.
    Map,
    /// A block for a structure or union: a list of at most one.
    Single(&'static Shape),
    /// A repeated block for a list of structures.
    Repeated {
        /// The item shape.
        item: &'static Shape,
        /// Set rather than list.
        set: bool,
    },
}

/// One member of a structure or union as Terraform sees it.
#[derive(Debug, Clone)]
pub struct Field {
    /// The API member.
    pub api: &'static Member,
    /// The member's name on the wire (`f.api.wire_name()`, worked out once).
    pub wire: Cow<'static, str>,
    /// The Terraform name.
    pub name: Cow<'static, str>,
    /// Its form.
    pub form: Form,
    /// Its default, if any.
    pub default: Option<Default>,
    /// Whether Terraform requires it.
    pub required: bool,
    /// Whether the service fills it in when left out.
    pub computed: bool,
}

/// The Terraform fields of a structure or union shape.
///
/// Worked out once per shape and kept: every conversion of every value (expand, flatten,
/// normalise, defaults) walks these, for every resource on every plan, read and apply, and
/// deriving them (snake and wire names, a search of [`TWEAKS`]) allocated on each walk.
pub fn fields(shape: &'static Shape) -> &'static [Field] {
    type Cache = HashMap<usize, &'static [Field]>;
    static CACHE: OnceLock<RwLock<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(RwLock::default);
    // Shapes are statics: the address names one for the life of the process.
    let key = std::ptr::from_ref(shape) as usize;
    if let Some(found) = cache.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return found;
    }
    let mut cache = cache.write().unwrap_or_else(|p| p.into_inner());
    // One leaked slice per shape: a fixed, small amount for the life of the process.
    cache
        .entry(key)
        .or_insert_with(|| Vec::leak(derive_fields(shape)))
}

fn derive_fields(shape: &'static Shape) -> Vec<Field> {
    let owner = shape_name(shape);
    shape
        .members()
        .iter()
        .map(|m| {
            let wire = m.wire_name();
            let tweak = TWEAKS
                .iter()
                .find(|(s, w, _)| *s == owner && *w == wire)
                .map(|(_, _, t)| *t)
                .unwrap_or_default();
            let name = tweak
                .rename
                .map_or_else(|| Cow::Owned(snake(m.rust_name)), Cow::Borrowed);
            Field {
                api: m,
                wire,
                name,
                form: form(m.shape, &tweak),
                default: tweak.default,
                required: m.required || tweak.required,
                computed: tweak.computed,
            }
        })
        .collect()
}

fn form(shape: &'static Shape, tweak: &Tweak) -> Form {
    match shape {
        Shape::Structure(_) | Shape::Union(_) => Form::Single(shape),
        Shape::List(_) if tweak.as_map => Form::Map,
        Shape::List(l) => match l.item {
            Shape::Structure(_) | Shape::Union(_) => Form::Repeated {
                item: l.item,
                set: tweak.set,
            },
            item => Form::Collection {
                item: scalar(item),
                set: tweak.set,
            },
        },
        other => Form::Attribute(scalar(other)),
    }
}

fn scalar(shape: &Shape) -> Scalar {
    match shape {
        Shape::Integer(_) => Scalar::Number,
        Shape::Boolean => Scalar::Bool,
        _ => Scalar::String,
    }
}

/// The model name of a structure or union shape.
pub fn shape_name(shape: &Shape) -> &'static str {
    match shape {
        Shape::Structure(s) => s.name,
        Shape::Union(u) => u.name,
        _ => "",
    }
}

/// `portMapping`'s Rust name `port_mapping` stays; a union alternative `AwsCloudMap` becomes
/// `aws_cloud_map`; `r#type` becomes `type`.
pub fn snake(rust: &str) -> String {
    let rust = rust.strip_prefix("r#").unwrap_or(rust);
    let mut out = String::with_capacity(rust.len() + 4);
    for (i, c) in rust.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

// === resources ===

/// One Terraform resource type.
#[derive(Debug)]
pub struct ResourceDef {
    /// The App Mesh kind it manages.
    pub kind: Kind,
    /// The type name without the provider prefix: `virtual_node`.
    pub type_name: &'static str,
    /// The name in diagnostics: `Virtual Node`.
    pub human: &'static str,
    /// What the resource is, for the docs and the language server.
    pub description: &'static str,
    /// The import ID format.
    pub import_id: &'static str,
}

/// Every resource the provider serves, in documentation order.
pub static RESOURCES: &[ResourceDef] = &[
    ResourceDef {
        kind: Kind::Mesh,
        type_name: "mesh",
        human: "Service Mesh",
        description: "A service mesh: the boundary that holds virtual services, nodes, routers and gateways.",
        import_id: "MESH_NAME",
    },
    ResourceDef {
        kind: Kind::VirtualService,
        type_name: "virtual_service",
        human: "Virtual Service",
        description: "A virtual service: the name clients call, served by a virtual node or a virtual router.",
        import_id: "MESH_NAME/VIRTUAL_SERVICE_NAME",
    },
    ResourceDef {
        kind: Kind::VirtualNode,
        type_name: "virtual_node",
        human: "Virtual Node",
        description: "A virtual node: a group of tasks or pods behind one proxy configuration, with its listeners, backends and service discovery.",
        import_id: "MESH_NAME/VIRTUAL_NODE_NAME",
    },
    ResourceDef {
        kind: Kind::VirtualRouter,
        type_name: "virtual_router",
        human: "Virtual Router",
        description: "A virtual router: receives a virtual service's traffic and hands it to its routes.",
        import_id: "MESH_NAME/VIRTUAL_ROUTER_NAME",
    },
    ResourceDef {
        kind: Kind::Route,
        type_name: "route",
        human: "Route",
        description: "A route of a virtual router: which requests it matches and how they are spread over virtual nodes.",
        import_id: "MESH_NAME/VIRTUAL_ROUTER_NAME/ROUTE_NAME",
    },
    ResourceDef {
        kind: Kind::VirtualGateway,
        type_name: "virtual_gateway",
        human: "Virtual Gateway",
        description: "A virtual gateway: a standalone proxy that lets traffic from outside the mesh reach virtual services.",
        import_id: "MESH_NAME/VIRTUAL_GATEWAY_NAME",
    },
    ResourceDef {
        kind: Kind::GatewayRoute,
        type_name: "gateway_route",
        human: "Gateway Route",
        description: "A gateway route of a virtual gateway: which requests it matches and the virtual service they go to.",
        import_id: "MESH_NAME/VIRTUAL_GATEWAY_NAME/GATEWAY_ROUTE_NAME",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tweak_names_a_real_member() {
        fn walk(shape: &'static Shape, seen: &mut Vec<(&'static str, String)>) {
            for m in shape.members() {
                seen.push((shape_name(shape), m.wire_name().into_owned()));
                match m.shape {
                    Shape::Structure(_) | Shape::Union(_) => walk(m.shape, seen),
                    Shape::List(l) => walk(l.item, seen),
                    _ => {}
                }
            }
        }
        let mut seen = Vec::new();
        for r in RESOURCES {
            walk(r.kind.spec_shape(), &mut seen);
        }
        for (shape, member, _) in TWEAKS {
            assert!(
                seen.iter().any(|(s, m)| s == shape && m == member),
                "tweak {shape}.{member} matches no member of any spec"
            );
        }
    }

    #[test]
    fn names_are_snake_case() {
        assert_eq!(snake("AwsCloudMap"), "aws_cloud_map");
        assert_eq!(snake("Http2"), "http2");
        assert_eq!(snake("r#type"), "type");
        assert_eq!(snake("port_mapping"), "port_mapping");
    }
}
