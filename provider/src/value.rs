//! Small accessors over Terraform's dynamic values.

use std::collections::BTreeMap;

use tf_provider::value::ValueAny;
use tf_provider::Diagnostics;

/// A Terraform object's attributes.
pub type Obj = BTreeMap<String, ValueAny>;

/// The attributes of an object value.
pub fn obj(v: &ValueAny) -> Option<&Obj> {
    match v {
        ValueAny::Map(m) => Some(m),
        _ => None,
    }
}

/// The attributes of a configuration, plan or state, or an error diagnostic when it is not
/// an object.
pub fn decode(diags: &mut Diagnostics, v: ValueAny) -> Option<Obj> {
    match v {
        ValueAny::Map(m) => Some(m),
        _ => {
            diags.root_error_short("expected an object");
            None
        }
    }
}

/// A known string attribute.
pub fn get_str(o: &Obj, name: &str) -> Option<String> {
    match o.get(name) {
        Some(ValueAny::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Whether an attribute is unknown (or holds something unknown).
pub fn is_unknown(v: &ValueAny) -> bool {
    match v {
        ValueAny::Unknown => true,
        ValueAny::List(items) => items.iter().any(is_unknown),
        ValueAny::Map(m) => m.values().any(is_unknown),
        _ => false,
    }
}

/// A known `map(string)` attribute; `None` when null or unknown.
pub fn get_string_map(o: &Obj, name: &str) -> Option<BTreeMap<String, String>> {
    match o.get(name) {
        Some(ValueAny::Map(m)) if !is_unknown(&ValueAny::Map(m.clone())) => Some(
            m.iter()
                .filter_map(|(k, v)| match v {
                    ValueAny::String(s) => Some((k.clone(), s.clone())),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    }
}

/// A `map(string)` value.
pub fn string_map(m: &BTreeMap<String, String>) -> ValueAny {
    ValueAny::Map(
        m.iter()
            .map(|(k, v)| (k.clone(), ValueAny::String(v.clone())))
            .collect(),
    )
}

/// Renders epoch seconds as RFC 3339 in UTC, to the second: `2026-11-24T15:54:38Z`.
pub fn rfc3339(epoch_seconds: f64) -> String {
    let secs = epoch_seconds.floor() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_renders_utc_seconds() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_535_678.822), "2026-11-24T15:54:38Z");
        assert_eq!(rfc3339(951_782_400.0), "2000-02-29T00:00:00Z");
    }
}
