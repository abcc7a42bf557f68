//! Data sources, bound per kind from the same [`ResourceDef`]s as the resources:
//!
//! - `appmesh_<kind>` ([`AppMeshDataSource::object`]) reads one object the way the `aws_appmesh_*`
//!   data sources do: found by `name` (and `mesh_name`, the parent's name, `mesh_owner`), with
//!   its `arn`, owners, dates, its whole `spec` and its tags.
//! - `appmesh_<kinds>` ([`AppMeshDataSource::list`]) lists the names and ARNs of every object of a
//!   kind in its container, paging through the List operation.

use appmesh_model::{Kind, ResourceKey};
use async_trait::async_trait;
use tf_provider::schema::Schema;
use tf_provider::value::ValueAny;
use tf_provider::{DataSource, Diagnostics};

use crate::client::ApiError;
use crate::describe::{snake, ResourceDef};
use crate::provider::{configured, Shared};
use crate::read;
use crate::resource::check_identity;
use crate::schema::{data_source_schema, list_data_source_schema, parent_attribute, plural};
use crate::value::{decode, get_str, string_map};

/// A data source of one kind: reading one object (`appmesh_virtual_node`), or listing them
/// all (`appmesh_virtual_nodes`).
pub struct AppMeshDataSource {
    def: &'static ResourceDef,
    shared: Shared,
    list: bool,
}

impl AppMeshDataSource {
    /// The data source reading one object of the kind `def` describes.
    pub fn object(def: &'static ResourceDef, shared: Shared) -> Self {
        AppMeshDataSource {
            def,
            shared,
            list: false,
        }
    }

    /// The data source listing every object of the kind `def` describes in its container.
    pub fn list(def: &'static ResourceDef, shared: Shared) -> Self {
        AppMeshDataSource {
            def,
            shared,
            list: true,
        }
    }

    /// Its type name without the provider prefix: the resource's (`virtual_node`), or the
    /// API's collection (`virtual_nodes`) for a list.
    pub fn type_name(&self) -> String {
        if self.list {
            snake(self.def.kind.collection())
        } else {
            self.def.type_name.to_owned()
        }
    }
}

/// What was looked up, in words: `virtual node "b" in mesh "apps" (owned by 111122223333)`.
fn looked_up(key: &ResourceKey, owner: Option<&str>) -> String {
    let mut what = format!("{} {:?}", key.kind, key.name);
    if let (Some(parent), Some(pk)) = (&key.parent, key.kind.parent()) {
        what.push_str(&format!(" of {pk} {parent:?}"));
    }
    if key.kind != Kind::Mesh {
        what.push_str(&format!(" in mesh {:?}", key.mesh));
    }
    if let Some(owner) = owner {
        what.push_str(&format!(" (owned by {owner})"));
    }
    what
}

/// Whether the service refused to list tags to this caller (a mesh shared by another
/// account): the data source then shows no tags, as `aws_appmesh_*` does.
fn not_allowed(e: &ApiError) -> bool {
    matches!(e, ApiError::Service { status: 403, .. })
        || matches!(e, ApiError::Service { code, .. } if code.contains("AccessDenied") || code.contains("Forbidden"))
}

impl AppMeshDataSource {
    async fn read_object(&self, diags: &mut Diagnostics, config: ValueAny) -> Option<ValueAny> {
        let config = decode(diags, config)?;
        let configured = configured(&self.shared, diags)?;
        let kind = self.def.kind;
        let key = read::key(kind, &config)?;
        let owner = get_str(&config, "mesh_owner").filter(|o| !o.is_empty());
        let human = self.def.human;
        let data = match read::describe(&configured, &key, &read::owner_query(&config)).await {
            Ok(Some(data)) => data,
            Ok(None) => {
                diags.root_error(
                    format!("reading App Mesh {human}: not found"),
                    format!("There is no {}.", looked_up(&key, owner.as_deref())),
                );
                return None;
            }
            Err(e) => {
                diags.root_error_short(format!("reading App Mesh {human} ({key}): {e}"));
                return None;
            }
        };
        let arn = data["metadata"]["arn"].as_str().unwrap_or_default();
        let tags = match read::tags_of(&configured, arn).await {
            Ok(tags) => tags,
            Err(e) if not_allowed(&e) => Default::default(),
            Err(e) => {
                diags.root_error_short(format!("listing tags of App Mesh {human} ({key}): {e}"));
                return None;
            }
        };
        let mut state = read::attributes(kind, &data);
        state.insert(
            "id".into(),
            state.get("name").cloned().unwrap_or(ValueAny::Null),
        );
        state.insert("tags".into(), string_map(&tags));
        Some(ValueAny::Map(state))
    }

    async fn read_list(&self, diags: &mut Diagnostics, config: ValueAny) -> Option<ValueAny> {
        let mut state = decode(diags, config)?;
        let configured = configured(&self.shared, diags)?;
        let kind = self.def.kind;
        let mesh = get_str(&state, "mesh_name").unwrap_or_default();
        let parent = parent_attribute(kind).and_then(|attr| get_str(&state, attr));
        let container = ResourceKey {
            kind,
            mesh: mesh.clone(),
            parent: parent.clone(),
            name: String::new(),
        };
        let query = match kind {
            Kind::Mesh => Vec::new(),
            _ => read::owner_query(&state),
        };
        let items = match read::list(&configured, &container, &query).await {
            Ok(items) => items,
            Err(e) => {
                let place = match (kind, &parent, kind.parent()) {
                    (Kind::Mesh, _, _) => String::new(),
                    (_, Some(p), Some(pk)) => format!(" of {pk} {p:?} in mesh {mesh:?}"),
                    _ => format!(" in mesh {mesh:?}"),
                };
                diags.root_error_short(format!("listing App Mesh {}{place}: {e}", plural(kind)));
                return None;
            }
        };
        let column = |member: &str| {
            ValueAny::List(
                items
                    .iter()
                    .map(|item| {
                        item[member]
                            .as_str()
                            .map_or(ValueAny::Null, |s| ValueAny::String(s.to_owned()))
                    })
                    .collect(),
            )
        };
        let id = match (kind, &parent) {
            (Kind::Mesh, _) => "meshes".to_owned(),
            (_, Some(p)) => format!("{mesh}/{p}"),
            _ => mesh.clone(),
        };
        state.insert("id".into(), ValueAny::String(id));
        state.insert("names".into(), column(kind.name_member()));
        state.insert("arns".into(), column("arn"));
        if !state.contains_key("mesh_owner") && kind != Kind::Mesh {
            state.insert("mesh_owner".into(), ValueAny::Null);
        }
        Some(ValueAny::Map(state))
    }
}

#[async_trait]
impl DataSource for AppMeshDataSource {
    type State<'a> = ValueAny;
    type ProviderMetaState<'a> = ValueAny;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(if self.list {
            list_data_source_schema(self.def)
        } else {
            data_source_schema(self.def)
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ValueAny) -> Option<()> {
        let config = decode(diags, config)?;
        check_identity(diags, self.def.kind, &config);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: ValueAny,
        _meta: ValueAny,
    ) -> Option<ValueAny> {
        if self.list {
            self.read_list(diags, config).await
        } else {
            self.read_object(diags, config).await
        }
    }
}
