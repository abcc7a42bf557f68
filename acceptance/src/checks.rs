//! Reusable assertions that compare a resource in Terraform state with the object the
//! control plane holds.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::api::{paths, Api};
use crate::state::{render_flat, State};

/// Region the per-test control planes are started with.
pub const REGION: &str = "us-east-1";
/// Account id the per-test control planes are started with (every owner and ARN).
pub const ACCOUNT_ID: &str = "123456789012";

/// The resource type of an address: `appmesh_mesh` for `module.m.appmesh_mesh.test[0]`.
pub fn resource_type(address: &str) -> &str {
    // The type is the second-to-last dot-separated segment once instance keys (`[0]`,
    // `["a.b"]`, on the resource or on a module) are set aside.
    let mut segments = Vec::new();
    let (mut start, mut depth, mut quoted) = (0, 0, false);
    for (i, c) in address.char_indices() {
        match c {
            '"' if depth > 0 => quoted = !quoted,
            '[' if !quoted => {
                if depth == 0 {
                    segments.push(&address[start..i]);
                }
                depth += 1;
            }
            ']' if !quoted => depth -= 1,
            '.' if depth == 0 => {
                if start < i && !address[start..i].ends_with(']') {
                    segments.push(&address[start..i]);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth == 0 && !address[start..].ends_with(']') {
        segments.push(&address[start..]);
    }
    segments
        .len()
        .checked_sub(2)
        .map(|i| segments[i])
        .unwrap_or_else(|| panic!("{address} is not a resource address"))
}

/// The API's name members for a resource type: (TF attribute, API member) pairs.
fn name_members(resource_type: &str) -> &'static [(&'static str, &'static str)] {
    match resource_type {
        "appmesh_mesh" => &[("name", "meshName")],
        "appmesh_virtual_service" => &[("name", "virtualServiceName"), ("mesh_name", "meshName")],
        "appmesh_virtual_node" => &[("name", "virtualNodeName"), ("mesh_name", "meshName")],
        "appmesh_virtual_router" => &[("name", "virtualRouterName"), ("mesh_name", "meshName")],
        "appmesh_route" => &[
            ("name", "routeName"),
            ("mesh_name", "meshName"),
            ("virtual_router_name", "virtualRouterName"),
        ],
        "appmesh_virtual_gateway" => &[("name", "virtualGatewayName"), ("mesh_name", "meshName")],
        "appmesh_gateway_route" => &[
            ("name", "gatewayRouteName"),
            ("mesh_name", "meshName"),
            ("virtual_gateway_name", "virtualGatewayName"),
        ],
        other => panic!("not an App Mesh resource type: {other}"),
    }
}

/// The API path (Describe/Delete URI) of the object behind `address`, built from the
/// name attributes in state.
pub fn api_path(state: &State, address: &str) -> String {
    let ty = resource_type(address);
    let attr = |k: &str| state.expect_attr(address, k);
    match ty {
        "appmesh_mesh" => paths::mesh(&attr("name")),
        "appmesh_virtual_service" => paths::virtual_service(&attr("mesh_name"), &attr("name")),
        "appmesh_virtual_node" => paths::virtual_node(&attr("mesh_name"), &attr("name")),
        "appmesh_virtual_router" => paths::virtual_router(&attr("mesh_name"), &attr("name")),
        "appmesh_route" => paths::route(
            &attr("mesh_name"),
            &attr("virtual_router_name"),
            &attr("name"),
        ),
        "appmesh_virtual_gateway" => paths::virtual_gateway(&attr("mesh_name"), &attr("name")),
        "appmesh_gateway_route" => paths::gateway_route(
            &attr("mesh_name"),
            &attr("virtual_gateway_name"),
            &attr("name"),
        ),
        other => panic!("not an App Mesh resource type: {other}"),
    }
}

/// The ID `terraform import` takes for the resource at `address`, from its state: `MESH`,
/// `MESH/NAME` or `MESH/PARENT/NAME`.
pub fn import_id(state: &State, address: &str) -> String {
    let attr = |k: &str| state.expect_attr(address, k);
    match resource_type(address) {
        "appmesh_mesh" => attr("name"),
        "appmesh_route" => format!(
            "{}/{}/{}",
            attr("mesh_name"),
            attr("virtual_router_name"),
            attr("name")
        ),
        "appmesh_gateway_route" => format!(
            "{}/{}/{}",
            attr("mesh_name"),
            attr("virtual_gateway_name"),
            attr("name")
        ),
        _ => format!("{}/{}", attr("mesh_name"), attr("name")),
    }
}

/// Asserts the identity and metadata attributes of `address` against the API object `data`
/// (the bare `XxxData` JSON from a Describe):
///
/// - `id` is the mesh name for `appmesh_mesh` and `metadata.uid` for every other type;
/// - `name`, `mesh_name`, `virtual_router_name`, `virtual_gateway_name` match the API names;
/// - `arn`, `mesh_owner`, `resource_owner` match `metadata` (and the test account);
/// - `created_date` / `last_updated_date` are RFC 3339 renderings of `createdAt` /
///   `lastUpdatedAt` (to the second).
pub fn assert_metadata(state: &State, address: &str, data: &Value) {
    let ty = resource_type(address);
    let meta = &data["metadata"];
    let flat = state.flat(address);
    let get = |k: &str| flat.get(k).cloned();
    let fail = |msg: String| -> ! {
        panic!(
            "{address}: {msg}\nAPI object: {data:#}\nstate attributes:\n{}",
            render_flat(&flat)
        )
    };
    let expect_eq = |attr: &str, expected: Option<&str>| {
        let expected =
            expected.unwrap_or_else(|| fail(format!("API object lacks the value for {attr}")));
        if get(attr).as_deref() != Some(expected) {
            fail(format!("{attr} is {:?}, expected {expected:?}", get(attr)));
        }
    };

    let id = if ty == "appmesh_mesh" {
        data["meshName"].as_str()
    } else {
        meta["uid"].as_str()
    };
    expect_eq("id", id);
    for (attr, member) in name_members(ty) {
        expect_eq(attr, data[*member].as_str());
    }
    expect_eq("arn", meta["arn"].as_str());
    expect_eq("mesh_owner", meta["meshOwner"].as_str());
    expect_eq("resource_owner", meta["resourceOwner"].as_str());
    expect_eq("mesh_owner", Some(ACCOUNT_ID));
    expect_eq("resource_owner", Some(ACCOUNT_ID));
    for (attr, member) in [
        ("created_date", "createdAt"),
        ("last_updated_date", "lastUpdatedAt"),
    ] {
        let text = get(attr).unwrap_or_else(|| fail(format!("{attr} is not set")));
        let secs = parse_rfc3339(&text)
            .unwrap_or_else(|| fail(format!("{attr} = {text:?} is not an RFC 3339 timestamp")));
        let api = meta[member]
            .as_f64()
            .unwrap_or_else(|| fail(format!("API metadata.{member} is not a number")));
        if (secs - api).abs() >= 1.0 {
            fail(format!(
                "{attr} = {text:?} ({secs}) differs from metadata.{member} = {api}"
            ));
        }
    }
}

/// Asserts `tags` and `tags_all` of `address` and the API's ListTagsForResource all equal
/// `expected` (there are no provider default tags in the tests).
pub fn assert_tags(state: &State, api: &Api, address: &str, expected: &[(&str, &str)]) {
    let expected: BTreeMap<String, String> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let tags = state.map(address, "tags");
    let tags_all = state.map(address, "tags_all");
    assert_eq!(tags, expected, "{address}: tags in state");
    assert_eq!(tags_all, expected, "{address}: tags_all in state");
    let arn = state.expect_attr(address, "arn");
    assert_eq!(
        api.tags(&arn),
        expected,
        "{address}: tags in the API ({arn})"
    );
}

/// The weights of a route action's `weightedTargets` (API JSON), by virtual node.
pub fn weights(action: &Value) -> BTreeMap<String, i64> {
    action["weightedTargets"]
        .as_array()
        .unwrap_or_else(|| panic!("no weighted targets in {action:#}"))
        .iter()
        .map(|t| {
            let node = t["virtualNode"].as_str().unwrap_or_default().to_owned();
            let weight = t["weight"]
                .as_i64()
                .unwrap_or_else(|| panic!("a target without a weight: {t}"));
            (node, weight)
        })
        .collect()
}

/// The API object's `metadata.version`.
pub fn version(data: &Value) -> i64 {
    data["metadata"]["version"]
        .as_i64()
        .unwrap_or_else(|| panic!("no metadata.version in {data:#}"))
}

/// Parses an RFC 3339 timestamp (`2026-11-24T15:59:36Z`, `...36.492+01:00`) into seconds
/// since the Unix epoch. Returns `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        frac = format!("0.{}", &r[..digits]).parse().ok()?;
        rest = &r[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                return None;
            }
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            let sign = if rb[0] == b'-' { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + min * 60 + sec - offset) as f64 + frac)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_rfc3339("2026-11-24T15:59:36Z"), Some(1_795_535_976.0));
        let t = parse_rfc3339("2026-11-24T16:59:36.492+01:00").expect("valid");
        assert!((t - 1_795_535_976.492).abs() < 1e-6);
        assert_eq!(parse_rfc3339("2026-11-24 15:59:36"), None);
        assert_eq!(parse_rfc3339("1795535976"), None);
    }

    #[test]
    fn resource_types_from_addresses() {
        assert_eq!(resource_type("appmesh_mesh.test"), "appmesh_mesh");
        assert_eq!(
            resource_type("module.m.appmesh_route.r[0]"),
            "appmesh_route"
        );
        assert_eq!(
            resource_type("module.service[\"web.v1\"].appmesh_virtual_node.this"),
            "appmesh_virtual_node"
        );
        assert_eq!(
            resource_type("module.a[0].module.b.appmesh_mesh.m[\"x\"]"),
            "appmesh_mesh"
        );
    }
}
