//! Terraform schemas, derived from the model description and [`describe`](crate::describe).

use std::collections::HashMap;

use appmesh_model::shape::{Member, Shape};
use appmesh_model::Kind;
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
};

use crate::describe::{fields, Default, Field, Form, ResourceDef, Scalar};

/// The schema version; bumped when the state layout changes.
pub const VERSION: i64 = 1;

/// The Terraform name of the parent-name attribute of a kind, if it has a parent.
pub fn parent_attribute(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Route => Some("virtual_router_name"),
        Kind::GatewayRoute => Some("virtual_gateway_name"),
        _ => None,
    }
}

/// An attribute that is neither sensitive nor deprecated.
pub fn attribute(
    attr_type: AttributeType,
    constraint: AttributeConstraint,
    doc: impl Into<String>,
) -> Attribute {
    Attribute {
        attr_type,
        description: Description::markdown(doc.into()),
        constraint,
        sensitive: false,
        deprecated: false,
    }
}

/// The full schema of a resource.
pub fn resource_schema(def: &ResourceDef) -> Schema {
    let kind = def.kind;
    let mut attributes = HashMap::new();
    let mut attr = |name: &str, constraint, attr_type, doc: String| {
        attributes.insert(name.to_owned(), attribute(attr_type, constraint, doc));
    };
    use AttributeConstraint::{Computed, Optional, OptionalComputed, Required};
    let human = kind.human();
    attr(
        "id",
        Computed,
        AttributeType::String,
        if kind == Kind::Mesh {
            "The mesh's name.".into()
        } else {
            format!("The {human}'s unique id (the API's `metadata.uid`).")
        },
    );
    attr(
        "name",
        Required,
        AttributeType::String,
        format!(
            "The {human}'s name, {}. Changing it replaces the resource.",
            name_limits(kind)
        ),
    );
    if kind != Kind::Mesh {
        attr("mesh_name", Required, AttributeType::String, "The name of the mesh the resource is in, 1 to 255 characters. Changing it replaces the resource.".into());
        attr("mesh_owner", OptionalComputed, AttributeType::String, "The 12-digit account that owns the mesh, for a mesh shared from another account; defaults to the caller's account. Changing it replaces the resource.".into());
    } else {
        attr(
            "mesh_owner",
            Computed,
            AttributeType::String,
            "The 12-digit account that owns the mesh.".into(),
        );
    }
    if let (Some(parent), Some(parent_kind)) = (parent_attribute(kind), kind.parent()) {
        attr(
            parent,
            Required,
            AttributeType::String,
            format!("The name of the {parent_kind} the {human} belongs to. Changing it replaces the resource."),
        );
    }
    attr(
        "arn",
        Computed,
        AttributeType::String,
        format!("The {human}'s ARN."),
    );
    attr(
        "created_date",
        Computed,
        AttributeType::String,
        "When the resource was created (RFC 3339).".into(),
    );
    attr(
        "last_updated_date",
        Computed,
        AttributeType::String,
        "When the resource was last changed (RFC 3339).".into(),
    );
    attr(
        "resource_owner",
        Computed,
        AttributeType::String,
        "The 12-digit account that owns the resource.".into(),
    );
    attr(
        "tags",
        Optional,
        AttributeType::Map(Box::new(AttributeType::String)),
        "Tags for the resource: at most 50, keys 1 to 128 characters, values up to 256.".into(),
    );
    attr(
        "tags_all",
        Computed,
        AttributeType::Map(Box::new(AttributeType::String)),
        "The resource's tags including the provider's `default_tags`.".into(),
    );

    let mut spec = block(kind.spec_shape());
    spec.description = Description::markdown(if kind == Kind::Mesh {
        "The mesh's specification.".to_owned()
    } else {
        format!("The {human}'s specification (required).")
    });
    let mut blocks = HashMap::new();
    blocks.insert("spec".to_owned(), NestedBlock::Optional(spec));

    Schema {
        version: VERSION,
        block: Block {
            version: VERSION,
            attributes,
            blocks,
            description: Description::markdown(def.description),
            deprecated: false,
        },
    }
}

/// The schema of the data source reading one object of a resource type, as the
/// `aws_appmesh_*` data sources have it: the identity arguments of the resource (`name`,
/// `mesh_name`, the parent's name, an optional `mesh_owner`), everything else computed, and
/// the whole `spec` as a computed attribute of the resource's block structure (indexed the
/// same way: `spec[0].listener[0].port_mapping[0].port`). Derived from the resource's schema,
/// so descriptions are the same.
pub fn data_source_schema(def: &ResourceDef) -> Schema {
    let resource = resource_schema(def);
    let human = def.kind.human();
    let mut attributes = resource.block.attributes;
    attributes.remove("tags_all");
    let identity: Vec<&str> = ["name", "mesh_name"]
        .into_iter()
        .chain(parent_attribute(def.kind))
        .collect();
    for (name, attr) in attributes.iter_mut() {
        attr.constraint = match name.as_str() {
            n if identity.contains(&n) => AttributeConstraint::Required,
            "mesh_owner" => AttributeConstraint::OptionalComputed,
            _ => AttributeConstraint::Computed,
        };
        attr.description = Description::markdown(match name.as_str() {
            "id" => format!("The {human}'s name."),
            "name" => format!("The name of the {human} to read."),
            "mesh_owner" => {
                "The 12-digit account that owns the mesh; defaults to the caller's account.".into()
            }
            "tags" => "The resource's tags (all of them, `default_tags` included), without the keys `ignore_tags` names; empty when the caller cannot list them.".into(),
            _ => attr.description.content.replace(" Changing it replaces the resource.", ""),
        });
    }
    if let Some(NestedBlock::Optional(spec)) = resource.block.blocks.get("spec") {
        attributes.insert(
            "spec".to_owned(),
            attribute(
                AttributeType::List(Box::new(object_type(spec))),
                AttributeConstraint::Computed,
                format!(
                    "The {human}'s specification: a list of one object with the blocks and arguments of the `appmesh_{}` resource's `spec`.",
                    def.type_name
                ),
            ),
        );
    }
    Schema {
        version: VERSION,
        block: Block {
            version: VERSION,
            attributes,
            blocks: HashMap::new(),
            description: Description::markdown(format!(
                "Reads an existing {human}. {}",
                def.description
            )),
            deprecated: false,
        },
    }
}

/// The schema of the data source listing every object of a resource type in its container
/// (all meshes; a mesh's virtual nodes; a router's routes ...), paging through the List
/// operation.
pub fn list_data_source_schema(def: &ResourceDef) -> Schema {
    let kind = def.kind;
    let humans = plural(kind);
    let mut attributes = HashMap::new();
    let mut attr = |name: &str, constraint, attr_type, doc: String| {
        attributes.insert(name.to_owned(), attribute(attr_type, constraint, doc));
    };
    use AttributeConstraint::{Computed, Optional, Required};
    let strings = || AttributeType::List(Box::new(AttributeType::String));
    if kind != Kind::Mesh {
        attr(
            "mesh_name",
            Required,
            AttributeType::String,
            format!("The mesh whose {humans} to list."),
        );
        attr(
            "mesh_owner",
            Optional,
            AttributeType::String,
            "The 12-digit account that owns the mesh, for a mesh shared from another account; defaults to the caller's account.".into(),
        );
    }
    if let (Some(parent), Some(parent_kind)) = (parent_attribute(kind), kind.parent()) {
        attr(
            parent,
            Required,
            AttributeType::String,
            format!("The {parent_kind} whose {humans} to list."),
        );
    }
    attr(
        "id",
        Computed,
        AttributeType::String,
        match kind {
            Kind::Mesh => "`meshes`.".to_owned(),
            Kind::Route | Kind::GatewayRoute => {
                "The mesh and parent names, `MESH/PARENT`.".to_owned()
            }
            _ => "The mesh name.".to_owned(),
        },
    );
    attr(
        "names",
        Computed,
        strings(),
        format!("The names of the {humans}, in the order the API lists them."),
    );
    attr(
        "arns",
        Computed,
        strings(),
        format!("The ARNs of the {humans}, in the same order as `names`."),
    );
    Schema {
        version: VERSION,
        block: Block {
            version: VERSION,
            attributes,
            blocks: HashMap::new(),
            description: Description::markdown(match kind {
                Kind::Mesh => {
                    "Lists the names and ARNs of every mesh the caller can see.".to_owned()
                }
                _ => format!(
                    "Lists the names and ARNs of every {} in a {}.",
                    kind.human(),
                    kind.parent().map_or("mesh".to_owned(), |p| p.to_string())
                ),
            }),
            deprecated: false,
        },
    }
}

/// `virtual nodes`, `meshes`.
pub fn plural(kind: Kind) -> String {
    let one = kind.human();
    if one.ends_with("sh") {
        format!("{one}es")
    } else {
        format!("{one}s")
    }
}

/// The object type of a block's values: its attributes, and its nested blocks as lists
/// (or sets) of objects.
pub fn object_type(block: &Block) -> AttributeType {
    let mut members: HashMap<String, AttributeType> = block
        .attributes
        .iter()
        .map(|(name, a)| (name.clone(), a.attr_type.clone()))
        .collect();
    for (name, nested) in &block.blocks {
        let ty = match nested {
            NestedBlock::Set(b) => AttributeType::Set(Box::new(object_type(b))),
            NestedBlock::Optional(b)
            | NestedBlock::List(b)
            | NestedBlock::Single(b)
            | NestedBlock::Map(b)
            | NestedBlock::Group(b) => AttributeType::List(Box::new(object_type(b))),
        };
        members.insert(name.clone(), ty);
    }
    AttributeType::Object(members)
}

fn name_limits(kind: Kind) -> &'static str {
    match kind {
        Kind::VirtualService => "usually the DNS name clients call, 1 to 255 characters",
        Kind::VirtualRouter => "1 to 255 letters, digits, hyphens and underscores",
        _ => "1 to 255 characters",
    }
}

/// The block for a structure or union shape.
pub fn block(shape: &'static Shape) -> Block {
    let mut attributes = HashMap::new();
    let mut blocks = HashMap::new();
    for field in fields(shape) {
        let doc = Description::markdown(field_doc(field, shape));
        match field.form {
            Form::Single(inner) => {
                let mut b = block(inner);
                b.description = doc;
                blocks.insert(field.name.to_string(), NestedBlock::Optional(b));
            }
            Form::Repeated { item, set } => {
                let mut b = block(item);
                b.description = doc;
                let nested = if set {
                    NestedBlock::Set(b)
                } else {
                    NestedBlock::List(b)
                };
                blocks.insert(field.name.to_string(), nested);
            }
            form => {
                let attr_type = match form {
                    Form::Attribute(s) => scalar_type(s),
                    Form::Collection { item, set: true } => {
                        AttributeType::Set(Box::new(scalar_type(item)))
                    }
                    Form::Collection { item, set: false } => {
                        AttributeType::List(Box::new(scalar_type(item)))
                    }
                    _ => AttributeType::Map(Box::new(AttributeType::String)),
                };
                let constraint = if field.default.is_some() || field.computed {
                    AttributeConstraint::OptionalComputed
                } else if field.required {
                    AttributeConstraint::Required
                } else {
                    AttributeConstraint::Optional
                };
                let mut a = attribute(attr_type, constraint, "");
                a.description = doc;
                attributes.insert(field.name.to_string(), a);
            }
        }
    }
    Block {
        version: VERSION,
        attributes,
        blocks,
        description: Description::markdown(doc_of(shape)),
        deprecated: false,
    }
}

fn scalar_type(s: Scalar) -> AttributeType {
    match s {
        Scalar::String => AttributeType::String,
        Scalar::Number => AttributeType::Number,
        Scalar::Bool => AttributeType::Bool,
    }
}

fn doc_of(shape: &Shape) -> &'static str {
    match shape {
        Shape::Structure(s) => s.doc,
        Shape::Union(u) => u.doc,
        _ => "",
    }
}

/// A field's description: the model's words plus what the schema cannot show (required
/// blocks, "exactly one of", allowed values, ranges, defaults).
pub fn field_doc(field: &Field, owner: &'static Shape) -> String {
    let mut doc = field.api.doc.trim().to_owned();
    let shape = effective_item(field.api);
    if let Shape::Enum(e) = shape {
        let values: Vec<String> = e.values.iter().map(|(v, _)| format!("`{v}`")).collect();
        doc.push_str(&format!(" Valid values: {}.", values.join(", ")));
    }
    // A limit the model's words already state is not repeated.
    let mut limit = |core: String, sentence: String| {
        if !doc.contains(&core) {
            doc.push_str(&sentence);
        }
    };
    if let Shape::Integer(i) = shape {
        match (i.min, i.max) {
            (min, max) if max == i64::MAX || max == i64::from(i32::MAX) => {
                if min > 0 {
                    limit(format!("least {min}"), format!(" At least {min}."));
                }
            }
            (min, max) => limit(format!("{min} to {max}"), format!(" From {min} to {max}.")),
        }
    }
    if let Shape::String(t) = shape {
        match t.max {
            Some(max) if max < usize::MAX => {
                let min = t.min.max(1);
                limit(
                    format!("{min} to {max} characters"),
                    format!(" {min} to {max} characters."),
                );
            }
            _ => {}
        }
    }
    if let Shape::List(l) = field.api.shape {
        match (l.min, l.max) {
            (min, Some(max)) if min > 0 => doc.push_str(&format!(" {min} to {max} entries.")),
            (_, Some(max)) => doc.push_str(&format!(" At most {max} entries.")),
            _ => {}
        }
    }
    match field.default {
        Some(Default::Str(s)) => doc.push_str(&format!(" Defaults to `{s}`.")),
        Some(Default::Bool(b)) => doc.push_str(&format!(" Defaults to `{b}`.")),
        None => {}
    }
    let is_block = matches!(field.form, Form::Single(_) | Form::Repeated { .. });
    if is_block && field.required {
        doc.push_str(" Required.");
    }
    if matches!(owner, Shape::Union(_)) {
        let names: Vec<String> = fields(owner)
            .iter()
            .map(|f| format!("`{}`", f.name))
            .collect();
        doc.push_str(&format!(" Set exactly one of {}.", names.join(", ")));
    }
    if let Shape::Union(_) = field.api.shape {
        let names: Vec<String> = fields(field.api.shape)
            .iter()
            .map(|f| format!("`{}`", f.name))
            .collect();
        doc.push_str(&format!(" Holds exactly one of {}.", names.join(", ")));
    }
    doc
}

/// The shape that limits a member's values: the item shape for a list.
fn effective_item(member: &Member) -> &'static Shape {
    match member.shape {
        Shape::List(l) => l.item,
        s => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::describe::RESOURCES;

    fn walk(path: &str, block: &Block, out: &mut Vec<(String, String)>) {
        for (name, a) in &block.attributes {
            out.push((format!("{path}.{name}"), a.description.content.clone()));
        }
        for (name, nested) in &block.blocks {
            let (kind, b) = match nested {
                NestedBlock::Optional(b) => ("block", b),
                NestedBlock::List(b) => ("list", b),
                NestedBlock::Set(b) => ("set", b),
                NestedBlock::Single(b) | NestedBlock::Map(b) | NestedBlock::Group(b) => {
                    ("other", b)
                }
            };
            let p = format!("{path}.{name}");
            out.push((format!("{p}#{kind}"), b.description.content.clone()));
            walk(&p, b, out);
        }
    }

    fn all(type_name: &str) -> Vec<(String, String)> {
        let def = RESOURCES
            .iter()
            .find(|r| r.type_name == type_name)
            .expect("resource");
        let mut out = Vec::new();
        walk(type_name, &resource_schema(def).block, &mut out);
        out
    }

    #[test]
    fn every_attribute_and_block_is_described() {
        for def in RESOURCES {
            for (path, doc) in all(def.type_name) {
                assert!(
                    !doc.trim().is_empty() && doc != "empty",
                    "{path} has no description"
                );
            }
        }
    }

    #[test]
    fn block_layout_matches_aws_appmesh_hcl() {
        let expect = [
            ("mesh", "mesh.spec.egress_filter.type"),
            ("mesh", "mesh.spec.service_discovery.ip_preference"),
            ("virtual_node", "virtual_node.spec.listener#list"),
            ("virtual_node", "virtual_node.spec.backend#set"),
            ("virtual_node", "virtual_node.spec.listener.port_mapping#block"),
            ("virtual_node", "virtual_node.spec.listener.connection_pool.http#block"),
            ("virtual_node", "virtual_node.spec.listener.timeout.http2.per_request.unit"),
            ("virtual_node", "virtual_node.spec.listener.tls.certificate.acm.certificate_arn"),
            ("virtual_node", "virtual_node.spec.listener.tls.validation.subject_alternative_names.match.exact"),
            ("virtual_node", "virtual_node.spec.backend_defaults.client_policy.tls.validation.trust.acm.certificate_authority_arns"),
            ("virtual_node", "virtual_node.spec.service_discovery.aws_cloud_map.attributes"),
            ("virtual_node", "virtual_node.spec.service_discovery.aws_cloud_map.ip_preference"),
            ("virtual_node", "virtual_node.spec.service_discovery.dns.response_type"),
            ("virtual_node", "virtual_node.spec.logging.access_log.file.format.json#list"),
            ("virtual_node", "virtual_node.spec.logging.access_log.file.format.text"),
            ("virtual_router", "virtual_router.spec.listener.port_mapping.protocol"),
            ("route", "route.spec.http_route.action.weighted_target#set"),
            ("route", "route.spec.http_route.match.header#set"),
            ("route", "route.spec.http_route.match.header.match.range.start"),
            ("route", "route.spec.http2_route.match.query_parameter.match.exact"),
            ("route", "route.spec.grpc_route.match.metadata#set"),
            ("route", "route.spec.grpc_route.retry_policy.per_retry_timeout.value"),
            ("route", "route.spec.tcp_route.timeout.idle.unit"),
            ("route", "route.spec.priority"),
            ("route", "route.virtual_router_name"),
            ("virtual_service", "virtual_service.spec.provider.virtual_router.virtual_router_name"),
            ("virtual_gateway", "virtual_gateway.spec.listener.connection_pool.http2.max_requests"),
            ("virtual_gateway", "virtual_gateway.spec.backend_defaults.client_policy.tls.enforce"),
            ("gateway_route", "gateway_route.spec.http_route.action.rewrite.prefix.default_prefix"),
            ("gateway_route", "gateway_route.spec.http_route.action.rewrite.path.exact"),
            ("gateway_route", "gateway_route.spec.http_route.action.target.port"),
            ("gateway_route", "gateway_route.spec.http_route.match.method"),
            ("gateway_route", "gateway_route.spec.grpc_route.match.hostname.suffix"),
            ("gateway_route", "gateway_route.spec.grpc_route.match.metadata#set"),
            ("gateway_route", "gateway_route.spec.grpc_route.action.rewrite.hostname.default_target_hostname"),
            ("gateway_route", "gateway_route.virtual_gateway_name"),
        ];
        for (resource, path) in expect {
            let paths = all(resource);
            assert!(
                paths.iter().any(|(p, _)| p == path),
                "{path} missing from appmesh_{resource}"
            );
        }
        // Quotas are not schema limits: backends and listeners are unbounded lists.
        let def = RESOURCES
            .iter()
            .find(|r| r.type_name == "virtual_node")
            .expect("node");
        let spec = match &resource_schema(def).block.blocks["spec"] {
            NestedBlock::Optional(b) => b.clone(),
            _ => panic!("spec is a list of at most one"),
        };
        assert!(matches!(spec.blocks["backend"], NestedBlock::Set(_)));
    }
}
