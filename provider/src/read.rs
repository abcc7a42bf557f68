//! Reading from the API, shared by resources and data sources: an object's identity from
//! Terraform attributes, Describe plus its tags, List with paging, and the attributes an
//! answer (`XxxData`) shows in Terraform.

use std::collections::BTreeMap;

use appmesh_model::{Kind, ResourceKey};
use http::Method;
use serde_json::{json, Value as Json};
use tf_provider::value::ValueAny;

use crate::client::{collection_path, item_path, ApiError};
use crate::convert::{flatten, normalize};
use crate::provider::Configured;
use crate::schema::parent_attribute;
use crate::value::{get_str, rfc3339, Obj};

/// The identity named by `name`, `mesh_name` and the parent-name attribute of a kind.
pub fn key(kind: Kind, o: &Obj) -> Option<ResourceKey> {
    let name = get_str(o, "name")?;
    Some(match kind {
        Kind::Mesh => ResourceKey::mesh(name),
        kind => ResourceKey {
            kind,
            mesh: get_str(o, "mesh_name")?,
            parent: match parent_attribute(kind) {
                Some(attr) => Some(get_str(o, attr)?),
                None => None,
            },
            name,
        },
    })
}

/// The `meshOwner` query parameter when `mesh_owner` is set.
pub fn owner_query(o: &Obj) -> Vec<(&'static str, String)> {
    get_str(o, "mesh_owner")
        .filter(|owner| !owner.is_empty())
        .map(|owner| vec![("meshOwner", owner)])
        .unwrap_or_default()
}

fn as_pairs<'a>(query: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    query.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Describe; `None` when the object does not exist (or was deleted).
pub async fn describe(
    configured: &Configured,
    key: &ResourceKey,
    query: &[(&str, String)],
) -> Result<Option<Json>, ApiError> {
    match configured
        .client
        .call(Method::GET, &item_path(key), &as_pairs(query), None)
        .await
    {
        Ok(data) if data["status"]["status"] == "DELETED" => Ok(None),
        Ok(data) => Ok(Some(data)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Describe and the object's tags (without ignored keys); `None` when it does not exist.
pub async fn fetch(
    configured: &Configured,
    key: &ResourceKey,
    query: &[(&str, String)],
) -> Result<Option<(Json, BTreeMap<String, String>)>, ApiError> {
    let Some(data) = describe(configured, key, query).await? else {
        return Ok(None);
    };
    let arn = data["metadata"]["arn"].as_str().unwrap_or_default();
    let tags = tags_of(configured, arn).await?;
    Ok(Some((data, tags)))
}

/// ListTagsForResource, every page, without the keys `ignore_tags` names.
pub async fn tags_of(
    configured: &Configured,
    arn: &str,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut tags = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let mut query = vec![("resourceArn", arn.to_owned())];
        query.extend(token.take().map(|t| ("nextToken", t)));
        let page = configured
            .client
            .call(Method::GET, "/v20190125/tags", &as_pairs(&query), None)
            .await?;
        for t in page["tags"].as_array().into_iter().flatten() {
            if let (Some(k), Some(v)) = (t["key"].as_str(), t["value"].as_str()) {
                tags.insert(k.to_owned(), v.to_owned());
            }
        }
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    configured.ignore_tags.retain(&mut tags);
    Ok(tags)
}

/// Every item a List operation returns for `kind` in `container` (a key whose `name` is
/// ignored), following `nextToken` a page of 100 at a time.
pub async fn list(
    configured: &Configured,
    container: &ResourceKey,
    query: &[(&str, String)],
) -> Result<Vec<Json>, ApiError> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = query.to_vec();
        q.push(("limit", "100".to_owned()));
        q.extend(token.take().map(|t| ("nextToken", t)));
        let page = configured
            .client
            .call(
                Method::GET,
                &collection_path(container),
                &as_pairs(&q),
                None,
            )
            .await?;
        items.extend(
            page[container.kind.collection()]
                .as_array()
                .into_iter()
                .flatten()
                .cloned(),
        );
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => return Ok(items),
        }
    }
}

/// What an API answer (`XxxData`) shows as Terraform attributes: the names, `arn`, owners,
/// dates and the whole `spec` (normalised as a plan would be). `id` and tags are the
/// caller's to add.
pub fn attributes(kind: Kind, data: &Json) -> Obj {
    let meta = &data["metadata"];
    let text = |v: &Json| {
        v.as_str()
            .map_or(ValueAny::Null, |s| ValueAny::String(s.to_owned()))
    };
    let date = |v: &Json| {
        v.as_f64()
            .map_or(ValueAny::Null, |s| ValueAny::String(rfc3339(s)))
    };
    let mut o = Obj::new();
    o.insert("name".into(), text(&data[kind.name_member()]));
    if kind != Kind::Mesh {
        o.insert("mesh_name".into(), text(&data["meshName"]));
    }
    if let (Some(attr), Some(pk)) = (parent_attribute(kind), kind.parent()) {
        o.insert(attr.into(), text(&data[pk.name_member()]));
    }
    o.insert("arn".into(), text(&meta["arn"]));
    o.insert("mesh_owner".into(), text(&meta["meshOwner"]));
    o.insert("resource_owner".into(), text(&meta["resourceOwner"]));
    o.insert("created_date".into(), date(&meta["createdAt"]));
    o.insert("last_updated_date".into(), date(&meta["lastUpdatedAt"]));
    let shape = kind.spec_shape();
    let mut spec = match data.get("spec") {
        // A mesh's spec is optional; no spec reads back as an empty one, as from App Mesh.
        None | Some(Json::Null) if kind == Kind::Mesh => flatten(shape, Some(&json!({}))),
        j => flatten(shape, j),
    };
    normalize(shape, &mut spec);
    o.insert("spec".into(), spec);
    o
}
