//! IAM-style identity policies: the JSON documents operators already write for App Mesh
//! (`Effect`, `Action`/`NotAction`, `Resource`/`NotResource`, `*` and `?` wildcards), and the
//! evaluation IAM does for one principal: an explicit `Deny` wins, then an `Allow`, and
//! otherwise the call is denied.
//!
//! `Condition` blocks are refused when the file is loaded rather than ignored, so that nobody
//! believes a condition protects them when it does not.

use serde::Deserialize;
use serde_json::Value;

/// One policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    allow: bool,
    actions: Patterns,
    resources: Patterns,
}

/// `Action` or `NotAction` (and the same for resources): which values a statement covers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Patterns {
    negated: bool,
    patterns: Vec<String>,
}

impl Patterns {
    fn covers(&self, value: &str, case_insensitive: bool) -> bool {
        let hit = self
            .patterns
            .iter()
            .any(|p| wildcard_match(p, value, case_insensitive));
        hit != self.negated
    }
}

/// The outcome of evaluating a principal's policies for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Some statement allows it and none denies it.
    Allow,
    /// A statement denies it explicitly.
    ExplicitDeny,
    /// No statement allows it.
    ImplicitDeny,
}

impl Policy {
    /// Parses a policy document (`{"Version": ..., "Statement": [...]}`); the error names the
    /// statement and element at fault.
    pub fn parse(value: &Value) -> Result<Policy, String> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            #[serde(rename = "Version")]
            version: Option<String>,
            #[serde(rename = "Id")]
            _id: Option<String>,
            #[serde(rename = "Statement")]
            statement: Value,
        }
        let doc: Doc = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        if let Some(v) = &doc.version {
            if v != "2012-10-17" && v != "2008-10-17" {
                return Err(format!("Version {v:?} is not 2012-10-17"));
            }
        }
        let raw = match doc.statement {
            Value::Array(items) => items,
            one @ Value::Object(_) => vec![one],
            _ => return Err("Statement must be an object or a list of objects".to_owned()),
        };
        let statements = raw
            .iter()
            .enumerate()
            .map(|(i, s)| Statement::parse(s).map_err(|e| format!("Statement[{i}]: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Policy { statements })
    }

    /// Does any statement of this policy say `allow` for the action on the resource?
    fn says(&self, allow: bool, action: &str, resource: &str) -> bool {
        self.statements.iter().any(|s| {
            s.allow == allow
                && s.actions.covers(action, true)
                && s.resources.covers(resource, false)
        })
    }
}

impl Statement {
    fn parse(value: &Value) -> Result<Statement, String> {
        let Value::Object(map) = value else {
            return Err("must be an object".to_owned());
        };
        for key in map.keys() {
            match key.as_str() {
                "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource" => {}
                "Condition" => {
                    return Err("Condition is not supported by this control plane; express the rule with Action and Resource".to_owned())
                }
                "Principal" | "NotPrincipal" => {
                    return Err(format!("{key} belongs in resource policies; identity policies name no principal"))
                }
                other => return Err(format!("unknown element {other:?}")),
            }
        }
        let allow = match map.get("Effect").and_then(Value::as_str) {
            Some("Allow") => true,
            Some("Deny") => false,
            _ => return Err("Effect must be \"Allow\" or \"Deny\"".to_owned()),
        };
        let actions = patterns(map, "Action", "NotAction")?;
        for p in &actions.patterns {
            if p != "*" && !p.to_ascii_lowercase().starts_with("appmesh:") {
                return Err(format!(
                    "action {p:?} is not an App Mesh action (appmesh:...)"
                ));
            }
        }
        let resources = patterns(map, "Resource", "NotResource")?;
        Ok(Statement {
            allow,
            actions,
            resources,
        })
    }
}

fn patterns(
    map: &serde_json::Map<String, Value>,
    name: &str,
    not_name: &str,
) -> Result<Patterns, String> {
    let (negated, value) = match (map.get(name), map.get(not_name)) {
        (Some(v), None) => (false, v),
        (None, Some(v)) => (true, v),
        (Some(_), Some(_)) => return Err(format!("give {name} or {not_name}, not both")),
        (None, None) => return Err(format!("{name} (or {not_name}) is required")),
    };
    let patterns = match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{name} must hold strings"))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(format!("{name} must be a string or a list of strings")),
    };
    if patterns.is_empty() {
        return Err(format!("{name} must not be empty"));
    }
    Ok(Patterns { negated, patterns })
}

/// Evaluates a principal's policies for `action` (e.g. `appmesh:CreateMesh`) on `resource` (an
/// ARN, or `*` for calls such as ListMeshes that name no resource).
pub fn evaluate(policies: &[Policy], action: &str, resource: &str) -> Decision {
    if policies.iter().any(|p| p.says(false, action, resource)) {
        Decision::ExplicitDeny
    } else if policies.iter().any(|p| p.says(true, action, resource)) {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// IAM's wildcard match: `*` is any run of characters, `?` any one character.
pub fn wildcard_match(pattern: &str, value: &str, case_insensitive: bool) -> bool {
    let norm = |s: &str| -> Vec<char> {
        if case_insensitive {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, v) = (norm(pattern), norm(value));
    // Iterative matcher with backtracking to the last `*`: linear in practice, no recursion.
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MESH: &str = "arn:aws:appmesh:us-east-1:111111111111:mesh/apps";
    const NODE: &str = "arn:aws:appmesh:us-east-1:111111111111:mesh/apps/virtualNode/b";

    #[test]
    fn wildcards() {
        assert!(wildcard_match(
            "appmesh:Describe*",
            "appmesh:describemesh",
            true
        ));
        assert!(!wildcard_match(
            "appmesh:Describe*",
            "appmesh:ListMeshes",
            true
        ));
        assert!(wildcard_match(
            "arn:aws:appmesh:*:*:mesh/apps/*",
            NODE,
            false
        ));
        assert!(!wildcard_match(
            "arn:aws:appmesh:*:*:mesh/apps/*",
            MESH,
            false
        ));
        assert!(wildcard_match(
            "arn:aws:appmesh:us-east-1:11111111111?:mesh/apps",
            MESH,
            false
        ));
        assert!(!wildcard_match(
            "arn:aws:appmesh:*:*:mesh/APPS",
            MESH,
            false
        ));
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match("a*b*c", "aXbYbZc", false));
        assert!(!wildcard_match("a*b*c", "aXbYbZ", false));
    }

    #[test]
    fn explicit_deny_wins_and_default_is_deny() {
        let p = Policy::parse(&json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["appmesh:*"], "Resource": "arn:aws:appmesh:*:*:mesh/apps*"},
                {"Sid": "no-deletes", "Effect": "Deny", "Action": "appmesh:Delete*", "Resource": "*"},
                {"Effect": "Allow", "Action": "appmesh:ListMeshes", "Resource": "*"}
            ]
        }))
        .expect("valid");
        let ps = [p];
        assert_eq!(
            evaluate(&ps, "appmesh:UpdateVirtualNode", NODE),
            Decision::Allow
        );
        assert_eq!(
            evaluate(&ps, "appmesh:DeleteVirtualNode", NODE),
            Decision::ExplicitDeny
        );
        assert_eq!(evaluate(&ps, "appmesh:ListMeshes", "*"), Decision::Allow);
        assert_eq!(
            evaluate(
                &ps,
                "appmesh:DescribeMesh",
                "arn:aws:appmesh:us-east-1:111111111111:mesh/other"
            ),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(&[], "appmesh:ListMeshes", "*"),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn not_action_and_not_resource() {
        let p = Policy::parse(&json!({"Statement": {
            "Effect": "Allow", "NotAction": "appmesh:Delete*", "NotResource": MESH
        }}))
        .expect("valid");
        let ps = [p];
        assert_eq!(
            evaluate(&ps, "appmesh:UpdateVirtualNode", NODE),
            Decision::Allow
        );
        assert_eq!(
            evaluate(&ps, "appmesh:UpdateMesh", MESH),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(&ps, "appmesh:DeleteVirtualNode", NODE),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn bad_documents_name_the_fault() {
        let cases = [
            (
                json!({"Statement": [{"Effect": "Permit", "Action": "*", "Resource": "*"}]}),
                "Statement[0]: Effect",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Resource": "*"}]}),
                "Action (or NotAction) is required",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}),
                "not an App Mesh action",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {}}]}),
                "Condition is not supported",
            ),
            (json!({"Version": "2020-01-01", "Statement": []}), "Version"),
            (json!({"Statement": 3}), "Statement must be"),
        ];
        for (doc, want) in cases {
            let err = Policy::parse(&doc).expect_err("invalid");
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
    }
}
