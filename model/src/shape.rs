//! The walkable description of the API model.
//!
//! Every API shape is declared once, with the [`structure!`](crate::structure),
//! [`union!`](crate::union) and [`enumeration!`](crate::enumeration) macros. Each declaration
//! yields a serde type (the wire format) *and* a static [`Shape`] describing it: member names,
//! documentation, required flags, length and range limits, enum values and "exactly one of"
//! unions. The generic [`validate`](crate::validate) walker, the control plane's error messages
//! and the Terraform provider's schema all read that one description, so a constraint is
//! written in exactly one place.

use std::borrow::Cow;

/// One node of the model description.
#[derive(Debug)]
pub enum Shape {
    /// A structure with named members.
    Structure(&'static Structure),
    /// A tagged union: an object that must set exactly one of its members.
    Union(&'static Union),
    /// A list of items of one shape.
    List(List),
    /// A string with length limits and an optional character rule.
    String(Text),
    /// A string restricted to a fixed set of values.
    Enum(&'static Enumeration),
    /// A whole number (the model's `integer` and `long`) with an allowed range.
    Integer(Integer),
    /// `true` or `false`.
    Boolean,
    /// A point in time; epoch seconds as a JSON number on the wire.
    Timestamp,
}

/// A structure shape.
#[derive(Debug)]
pub struct Structure {
    /// The shape's name in the API model, e.g. `PortMapping`.
    pub name: &'static str,
    /// What the structure is for.
    pub doc: &'static str,
    /// The members, in declaration order.
    pub members: &'static [Member],
}

/// A union shape: exactly one member is set.
#[derive(Debug)]
pub struct Union {
    /// The shape's name in the API model, e.g. `ServiceDiscovery`.
    pub name: &'static str,
    /// What the union chooses between.
    pub doc: &'static str,
    /// The alternatives; `required` is always false.
    pub members: &'static [Member],
}

/// A member of a structure or an alternative of a union.
#[derive(Debug)]
pub struct Member {
    /// The Rust name (`port_mapping`, or `AwsCloudMap` for a union alternative).
    pub rust_name: &'static str,
    /// What the member means.
    pub doc: &'static str,
    /// Whether the API requires the member.
    pub required: bool,
    /// The member's shape.
    pub shape: &'static Shape,
}

/// A list shape.
#[derive(Debug)]
pub struct List {
    /// The item shape.
    pub item: &'static Shape,
    /// The fewest items allowed.
    pub min: usize,
    /// The most items allowed, if limited.
    pub max: Option<usize>,
}

/// A string shape.
#[derive(Debug)]
pub struct Text {
    /// The shortest length, in characters.
    pub min: usize,
    /// The longest length, in characters, if limited.
    pub max: Option<usize>,
    /// An extra character rule, if any.
    pub rule: Option<&'static TextRule>,
}

/// A character rule on a string, with the wording used when it is broken.
#[derive(Debug)]
pub struct TextRule {
    /// Completes "must ...", e.g. "contain only printable ASCII characters".
    pub requirement: &'static str,
    /// Whether a value satisfies the rule.
    pub check: fn(&str) -> bool,
}

/// An enumeration shape.
#[derive(Debug)]
pub struct Enumeration {
    /// The shape's name in the API model, e.g. `PortProtocol`.
    pub name: &'static str,
    /// What the enumeration chooses.
    pub doc: &'static str,
    /// The allowed wire values with their meaning.
    pub values: &'static [(&'static str, &'static str)],
}

/// A whole-number shape.
#[derive(Debug)]
pub struct Integer {
    /// The smallest allowed value.
    pub min: i64,
    /// The largest allowed value.
    pub max: i64,
}

impl Member {
    /// The member's name on the wire (`portMapping`, `awsCloudMap`).
    pub fn wire_name(&self) -> Cow<'static, str> {
        wire_name(self.rust_name)
    }
}

impl Shape {
    /// The member of a structure or union with the given wire name.
    pub fn member(&self, wire: &str) -> Option<&'static Member> {
        self.members().iter().find(|m| m.wire_name() == wire)
    }

    /// The members of a structure or the alternatives of a union; empty for other shapes.
    pub fn members(&self) -> &'static [Member] {
        match self {
            Shape::Structure(s) => s.members,
            Shape::Union(u) => u.members,
            _ => &[],
        }
    }
}

/// Turns a Rust member name into its wire name: `port_mapping` → `portMapping`,
/// `AwsCloudMap` → `awsCloudMap`, `r#type` → `type`. This is the same rule as serde's
/// `rename_all = "camelCase"`, which the generated types use.
pub fn wire_name(rust: &'static str) -> Cow<'static, str> {
    let rust = rust.strip_prefix("r#").unwrap_or(rust);
    let first_upper = rust.starts_with(|c: char| c.is_ascii_uppercase());
    if !first_upper && !rust.contains('_') {
        return Cow::Borrowed(rust);
    }
    let mut out = String::with_capacity(rust.len());
    let mut upper_next = false;
    for (i, c) in rust.chars().enumerate() {
        if c == '_' {
            upper_next = true;
        } else if i == 0 {
            out.push(c.to_ascii_lowercase());
        } else if upper_next {
            out.push(c.to_ascii_uppercase());
            upper_next = false;
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A type with a static description. Generated for every model type; `REQUIRED` is false only
/// for `Option<T>`, which is how a member is declared optional.
pub trait Described {
    /// The description of values of this type.
    const SHAPE: &'static Shape;
    /// Whether a member of this type must be present.
    const REQUIRED: bool = true;
}

/// Whether a member value is absent and so left out of the JSON (only `None` is).
pub trait Absent {
    /// True for `None`.
    fn is_absent(&self) -> bool {
        false
    }
}

impl<T: Described> Described for Option<T> {
    const SHAPE: &'static Shape = T::SHAPE;
    const REQUIRED: bool = false;
}

impl<T> Absent for Option<T> {
    fn is_absent(&self) -> bool {
        self.is_none()
    }
}

impl<T: Described> Described for Vec<T> {
    const SHAPE: &'static Shape = &Shape::List(List {
        item: T::SHAPE,
        min: 0,
        max: None,
    });
}
impl<T> Absent for Vec<T> {}

impl Described for String {
    const SHAPE: &'static Shape = &Shape::String(Text {
        min: 0,
        max: None,
        rule: None,
    });
}
impl Absent for String {}

impl Described for i32 {
    const SHAPE: &'static Shape = &Shape::Integer(Integer {
        min: i32::MIN as i64,
        max: i32::MAX as i64,
    });
}
impl Absent for i32 {}

impl Described for i64 {
    const SHAPE: &'static Shape = &Shape::Integer(Integer {
        min: i64::MIN,
        max: i64::MAX,
    });
}
impl Absent for i64 {}

impl Described for bool {
    const SHAPE: &'static Shape = &Shape::Boolean;
}
impl Absent for bool {}

/// A string of `min..=max` characters.
pub const fn text(min: usize, max: usize) -> Shape {
    Shape::String(Text {
        min,
        max: Some(max),
        rule: None,
    })
}

/// A whole number in `min..=max`.
pub const fn int(min: i64, max: i64) -> Shape {
    Shape::Integer(Integer { min, max })
}

/// A list of `min..=max` items of `item`.
pub const fn list(item: &'static Shape, min: usize, max: usize) -> Shape {
    Shape::List(List {
        item,
        min,
        max: Some(max),
    })
}

/// Declares an API structure: a serde struct plus its [`Shape`].
///
/// Members typed `Option<T>` are optional; all others are required. A member may name its
/// shape explicitly after `=` (for limits the Rust type cannot carry, such as a port range);
/// otherwise the type's own description is used.
#[macro_export]
macro_rules! structure {
    ($(#[doc = $doc:literal])* $name:ident {
        $($(#[doc = $mdoc:literal])* $member:ident : $ty:ty $(= $shape:expr)?),* $(,)?
    }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $(
                $(#[doc = $mdoc])*
                #[serde(skip_serializing_if = "crate::shape::Absent::is_absent")]
                pub $member: $ty,
            )*
        }

        impl $crate::shape::Described for $name {
            const SHAPE: &'static $crate::shape::Shape =
                &$crate::shape::Shape::Structure(&$crate::shape::Structure {
                    name: stringify!($name),
                    doc: concat!($($doc),*),
                    members: &[$(
                        $crate::shape::Member {
                            rust_name: stringify!($member),
                            doc: concat!($($mdoc),*),
                            required: <$ty as $crate::shape::Described>::REQUIRED,
                            shape: $crate::member_shape!($ty $(, $shape)?),
                        }
                    ),*],
                });
        }

        impl $crate::shape::Absent for $name {}
    };
}

/// Declares an API union: a serde enum (externally tagged, so `{"dns": {...}}`) plus its
/// [`Shape`].
#[macro_export]
macro_rules! union {
    ($(#[doc = $doc:literal])* $name:ident {
        $($(#[doc = $mdoc:literal])* $variant:ident ( $ty:ty ) $(= $shape:expr)?),* $(,)?
    }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub enum $name {
            $(
                $(#[doc = $mdoc])*
                $variant($ty),
            )*
        }

        impl $crate::shape::Described for $name {
            const SHAPE: &'static $crate::shape::Shape =
                &$crate::shape::Shape::Union(&$crate::shape::Union {
                    name: stringify!($name),
                    doc: concat!($($doc),*),
                    members: &[$(
                        $crate::shape::Member {
                            rust_name: stringify!($variant),
                            doc: concat!($($mdoc),*),
                            required: false,
                            shape: $crate::member_shape!($ty $(, $shape)?),
                        }
                    ),*],
                });
        }

        impl $crate::shape::Absent for $name {}
    };
}

/// Declares an API string enumeration: a Rust enum with the exact wire spellings plus its
/// [`Shape`].
#[macro_export]
macro_rules! enumeration {
    ($(#[doc = $doc:literal])* $name:ident {
        $($(#[doc = $vdoc:literal])* $variant:ident = $wire:literal),* $(,)?
    }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(
                $(#[doc = $vdoc])*
                #[serde(rename = $wire)]
                $variant,
            )*
        }

        impl $name {
            /// The value's spelling on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::shape::Described for $name {
            const SHAPE: &'static $crate::shape::Shape =
                &$crate::shape::Shape::Enum(&$crate::shape::Enumeration {
                    name: stringify!($name),
                    doc: concat!($($doc),*),
                    values: &[$(($wire, concat!($($vdoc),*))),*],
                });
        }

        impl $crate::shape::Absent for $name {}
    };
}

/// The shape of a member: the explicit one if given, else the type's own.
#[doc(hidden)]
#[macro_export]
macro_rules! member_shape {
    ($ty:ty) => {
        <$ty as $crate::shape::Described>::SHAPE
    };
    ($ty:ty, $shape:expr) => {
        $shape
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_follow_serde_camel_case() {
        assert_eq!(wire_name("port_mapping"), "portMapping");
        assert_eq!(wire_name("http2_route"), "http2Route");
        assert_eq!(wire_name("r#type"), "type");
        assert_eq!(wire_name("AwsCloudMap"), "awsCloudMap");
        assert_eq!(wire_name("Http2"), "http2");
        assert_eq!(wire_name("spec"), "spec");
    }
}
