//! The generic validator: walks a JSON value against a [`Shape`] and reports every broken
//! constraint with the path of the offending member (`spec.listeners[0].portMapping.port`).
//!
//! Both the control plane (to answer 400 BadRequestException) and the provider (to fail at
//! plan time) run it, so a request that passes here deserialises into the model types.

use std::fmt;

use serde_json::Value;

use crate::shape::{Member, Shape};

/// A path into a JSON document, rendered as `spec.listeners[0].port`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path(Vec<Step>);

/// One step of a [`Path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A member of an object.
    Key(String),
    /// An item of a list.
    Index(usize),
}

impl Path {
    /// The empty path (the document itself).
    pub fn root() -> Self {
        Path(Vec::new())
    }

    /// This path extended by a member name.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut p = self.clone();
        p.0.push(Step::Key(key.into()));
        p
    }

    /// This path extended by a list index.
    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Step::Index(i));
        p
    }

    /// The steps, outermost first.
    pub fn steps(&self) -> &[Step] {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(k) if i == 0 => f.write_str(k)?,
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// One broken rule: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The offending member.
    pub path: Path,
    /// What is wrong, as a phrase that follows the path ("must be between 1 and 65535").
    pub problem: String,
}

impl Violation {
    /// A violation at `path`.
    pub fn new(path: Path, problem: impl Into<String>) -> Self {
        Violation {
            path,
            problem: problem.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.path, self.problem)
    }
}

/// Checks `value` against `shape`; an empty result means it conforms.
pub fn validate(shape: &Shape, value: &Value, path: &Path) -> Vec<Violation> {
    let mut out = Vec::new();
    walk(shape, value, path, &mut out);
    out
}

fn walk(shape: &Shape, value: &Value, path: &Path, out: &mut Vec<Violation>) {
    match shape {
        Shape::Structure(s) => {
            let Some(obj) = expect_object(value, path, out) else {
                return;
            };
            check_unknown(s.members, obj, path, s.name, out);
            for m in s.members {
                let name = m.wire_name();
                match obj.get(name.as_ref()) {
                    None | Some(Value::Null) if m.required => {
                        out.push(Violation::new(path.key(name), "is required"))
                    }
                    None | Some(Value::Null) => {}
                    Some(v) => walk(m.shape, v, &path.key(name), out),
                }
            }
        }
        Shape::Union(u) => {
            let Some(obj) = expect_object(value, path, out) else {
                return;
            };
            check_unknown(u.members, obj, path, u.name, out);
            let set: Vec<&Member> = u
                .members
                .iter()
                .filter(|m| {
                    obj.get(m.wire_name().as_ref())
                        .is_some_and(|v| !v.is_null())
                })
                .collect();
            match set.as_slice() {
                [] => out.push(Violation::new(
                    path.clone(),
                    format!(
                        "must set exactly one of {}",
                        join(u.members.iter().map(|m| m.wire_name()))
                    ),
                )),
                [_] => {}
                [first, rest @ ..] => {
                    for m in rest {
                        out.push(Violation::new(
                            path.key(m.wire_name()),
                            format!(
                                "cannot be set together with {} (set exactly one of {})",
                                first.wire_name(),
                                join(u.members.iter().map(|m| m.wire_name()))
                            ),
                        ));
                    }
                }
            }
            for m in set {
                let name = m.wire_name();
                walk(m.shape, &obj[name.as_ref()], &path.key(name), out);
            }
        }
        Shape::List(l) => {
            let Some(items) = value.as_array() else {
                out.push(type_error(path, "a list", value));
                return;
            };
            let n = items.len();
            if n < l.min || l.max.is_some_and(|max| n > max) {
                out.push(Violation::new(
                    path.clone(),
                    count_problem(l.min, l.max, n, "item"),
                ));
            }
            for (i, item) in items.iter().enumerate() {
                walk(l.item, item, &path.index(i), out);
            }
        }
        Shape::String(t) => {
            let Some(s) = value.as_str() else {
                out.push(type_error(path, "a string", value));
                return;
            };
            let n = s.chars().count();
            if n < t.min || t.max.is_some_and(|max| n > max) {
                out.push(Violation::new(
                    path.clone(),
                    count_problem(t.min, t.max, n, "character"),
                ));
            }
            if let Some(rule) = t.rule {
                if !(rule.check)(s) {
                    out.push(Violation::new(
                        path.clone(),
                        format!("must {}", rule.requirement),
                    ));
                }
            }
        }
        Shape::Enum(e) => {
            let Some(s) = value.as_str() else {
                out.push(type_error(path, "a string", value));
                return;
            };
            if !e.values.iter().any(|(v, _)| *v == s) {
                let allowed = join(e.values.iter().map(|(v, _)| *v));
                out.push(Violation::new(
                    path.clone(),
                    format!("must be one of {allowed} (found {:?})", shown(s)),
                ));
            }
        }
        Shape::Integer(i) => {
            let range = || match (i.min, i.max) {
                (min, i64::MAX) | (min, 0x7fff_ffff) => format!("must be at least {min}"),
                (min, max) => format!("must be between {min} and {max}"),
            };
            match value {
                Value::Number(n) => match n.as_i64() {
                    Some(v) if v < i.min || v > i.max => out.push(Violation::new(
                        path.clone(),
                        format!("{} (found {v})", range()),
                    )),
                    Some(_) => {}
                    // Whole numbers beyond 64 bits arrive as u64 or as integral floats.
                    None if n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) => out.push(
                        Violation::new(path.clone(), format!("{} (found {n})", range())),
                    ),
                    None => out.push(type_error(path, "a whole number", value)),
                },
                _ => out.push(type_error(path, "a whole number", value)),
            }
        }
        Shape::Boolean => {
            if !value.is_boolean() {
                out.push(type_error(path, "true or false", value));
            }
        }
        Shape::Timestamp => {
            if !value.is_number() {
                out.push(type_error(
                    path,
                    "a number of seconds since the epoch",
                    value,
                ));
            }
        }
    }
}

fn expect_object<'v>(
    value: &'v Value,
    path: &Path,
    out: &mut Vec<Violation>,
) -> Option<&'v serde_json::Map<String, Value>> {
    let obj = value.as_object();
    if obj.is_none() {
        out.push(type_error(path, "an object", value));
    }
    obj
}

fn check_unknown(
    members: &[Member],
    obj: &serde_json::Map<String, Value>,
    path: &Path,
    shape_name: &str,
    out: &mut Vec<Violation>,
) {
    for key in obj.keys() {
        if !members.iter().any(|m| m.wire_name() == key.as_str()) {
            let known = join(members.iter().map(|m| m.wire_name()));
            out.push(Violation::new(
                path.key(key.as_str()),
                format!("is not a member of {shape_name} (members: {known})"),
            ));
        }
    }
}

fn type_error(path: &Path, expected: &str, found: &Value) -> Violation {
    let found = match found {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    Violation::new(path.clone(), format!("must be {expected} (found {found})"))
}

fn count_problem(min: usize, max: Option<usize>, n: usize, unit: &str) -> String {
    let of = |count: usize| {
        if count == 1 {
            format!("{count} {unit}")
        } else {
            format!("{count} {unit}s")
        }
    };
    match max {
        Some(max) if min == max => format!("must have exactly {} (found {n})", of(min)),
        Some(max) if min == 0 => format!("must have at most {} (found {n})", of(max)),
        Some(max) => format!("must have between {min} and {} (found {n})", of(max)),
        None => format!("must have at least {} (found {n})", of(min)),
    }
}

/// A value as a message quotes it: whole, or its first 100 characters and an ellipsis, so an
/// answer never echoes a huge value back.
fn shown(s: &str) -> String {
    match s.char_indices().nth(100) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

fn join<S: AsRef<str>>(items: impl Iterator<Item = S>) -> String {
    items
        .map(|s| s.as_ref().to_owned())
        .collect::<Vec<_>>()
        .join(", ")
}
