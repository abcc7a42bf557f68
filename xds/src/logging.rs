//! Access logs: a virtual node's or gateway's `logging.accessLog.file` becomes an
//! `envoy.access_loggers.file` logger on every HTTP connection manager and TCP proxy of its
//! proxy, ingress and egress alike, as App Mesh configured them.
//!
//! The format is the user's: `text` is Envoy's format string, passed as it is (Envoy adds no
//! newline, so a pattern should end with `\n`, as the guide's example does); `json` is a list
//! of keys and value patterns that becomes Envoy's JSON format. Without a format Envoy's
//! default format is used: App Mesh set none of its own, and the access-log line the guide
//! shows (`"- - HTTP/1.1" 400 DPE 0 11 0 - "-" "-" "-" "-" "-"`) is Envoy's default.

use appmesh_model::common::{AccessLog as ApiAccessLog, JsonFormatRef, Logging, LoggingFormat};
use envoy_types::pb::envoy::config::accesslog::v3::{access_log, AccessLog};
use envoy_types::pb::envoy::config::core::v3::{
    data_source, substitution_format_string, DataSource, SubstitutionFormatString,
};
use envoy_types::pb::envoy::extensions::access_loggers::file::v3::{
    file_access_log, FileAccessLog,
};
use envoy_types::pb::google::protobuf::{value, Any, Struct, Value};
use prost::Message;

use crate::envoy::Typed;

/// The access loggers of a proxy whose resource has `logging`; none without a file.
pub(crate) fn access_logs(logging: Option<&Logging>) -> Vec<AccessLog> {
    let Some(ApiAccessLog::File(file)) = logging.and_then(|l| l.access_log.as_ref()) else {
        return Vec::new();
    };
    vec![AccessLog {
        name: "envoy.access_loggers.file".into(),
        config_type: Some(access_log::ConfigType::TypedConfig(file_logger(
            &file.path,
            file.format.as_ref(),
        ))),
        ..Default::default()
    }]
}

/// A `FileAccessLog` writing to `path` in `format`, packed.
fn file_logger(path: &str, format: Option<&LoggingFormat>) -> Any {
    let base = FileAccessLog {
        path: path.to_string(),
        access_log_format: None,
    };
    let value = match format {
        None => base.encode_to_vec(),
        Some(LoggingFormat::Text(text)) => FileAccessLog {
            access_log_format: Some(file_access_log::AccessLogFormat::LogFormat(
                SubstitutionFormatString {
                    format: Some(substitution_format_string::Format::TextFormatSource(
                        DataSource {
                            specifier: Some(data_source::Specifier::InlineString(text.clone())),
                            ..Default::default()
                        },
                    )),
                    ..Default::default()
                },
            )),
            ..base
        }
        .encode_to_vec(),
        Some(LoggingFormat::Json(pairs)) => {
            // FileAccessLog { path = 1; log_format = 5 { json_format = 2 } } with the struct's
            // entries written in list order (see `json_struct`).
            let mut format = Vec::new();
            prost::encoding::bytes::encode(2, &json_struct(pairs), &mut format);
            let mut value = base.encode_to_vec();
            prost::encoding::bytes::encode(5, &format, &mut value);
            value
        }
    };
    Any {
        type_url: FileAccessLog::TYPE_URL.to_string(),
        value,
    }
}

/// The encoding of a `google.protobuf.Struct` with a string value per key.
///
/// prost keeps a `Struct`'s fields in a `HashMap`, whose order changes from one map to the
/// next, so encoding it would make the translation's output differ between runs. A map is a
/// repeated field of entries on the wire, so the entries are encoded one by one, in the
/// user's order; a key given twice keeps its last value, as in any protobuf map.
fn json_struct(pairs: &[JsonFormatRef]) -> Vec<u8> {
    pairs
        .iter()
        .flat_map(|p| {
            Struct {
                fields: [(
                    p.key.clone(),
                    Value {
                        kind: Some(value::Kind::StringValue(p.value.clone())),
                    },
                )]
                .into(),
            }
            .encode_to_vec()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_format_encodes_the_same_every_time_and_decodes_to_every_key() {
        let pairs: Vec<JsonFormatRef> = (0..20)
            .map(|i| JsonFormatRef {
                key: format!("k{i}"),
                value: format!("%REQ(x-{i})%"),
            })
            .collect();
        let format = LoggingFormat::Json(pairs);
        let once = file_logger("/dev/stdout", Some(&format));
        assert_eq!(once, file_logger("/dev/stdout", Some(&format)));
        let decoded = FileAccessLog::decode(once.value.as_slice()).expect("decodes");
        assert_eq!(decoded.path, "/dev/stdout");
        let Some(file_access_log::AccessLogFormat::LogFormat(f)) = decoded.access_log_format else {
            panic!("a log format")
        };
        let Some(substitution_format_string::Format::JsonFormat(s)) = f.format else {
            panic!("a JSON format")
        };
        assert_eq!(s.fields.len(), 20);
        assert_eq!(
            s.fields["k7"].kind,
            Some(value::Kind::StringValue("%REQ(x-7)%".into()))
        );
    }
}
