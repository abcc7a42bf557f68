//! The audit log: one JSON line per mutating call, in the shape of the CloudTrail records App
//! Mesh wrote (`eventName`, `userIdentity`, `requestID`, `resources`, `errorCode`, ...), so
//! tools that read CloudTrail can read it.
//!
//! The file is opened for appending and every record is one `write` of one line, so several
//! writers (or a log shipper reading it) never see a torn line. For rotation, rename the file
//! and send SIGHUP (as logrotate's `postrotate` does), or just rename it: the log notices
//! within a second that its path names another file, and reopens it.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::access::Identity;
use crate::sigv4::format_iso8601;

/// An append-only audit file.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<(File, Option<u64>)>,
}

/// What one audited call did.
#[derive(Debug)]
pub struct AuditRecord<'a> {
    /// The request id answered in `x-amzn-RequestId`.
    pub request_id: &'a str,
    /// Who called, if the request was authenticated.
    pub identity: Option<&'a Identity>,
    /// The access key that signed.
    pub access_key_id: Option<&'a str>,
    /// The action, e.g. `CreateMesh`.
    pub action: Option<&'a str>,
    /// The resource ARN.
    pub resource: Option<&'a str>,
    /// The server's region.
    pub region: &'a str,
    /// The caller's address.
    pub source: Option<&'a str>,
    /// The caller's `User-Agent`.
    pub user_agent: Option<&'a str>,
    /// The HTTP status answered.
    pub status: u16,
    /// The exception, when it failed.
    pub error_code: Option<&'a str>,
    /// Its message.
    pub error_message: Option<&'a str>,
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    Some(meta.ino())
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> Option<u64> {
    None
}

fn open(path: &Path) -> std::io::Result<(File, Option<u64>)> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let ino = inode(&file.metadata()?);
    Ok((file, ino))
}

impl AuditLog {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path) -> anyhow::Result<AuditLog> {
        let file = open(path)
            .map_err(|e| anyhow::anyhow!("opening the audit log {}: {e}", path.display()))?;
        Ok(AuditLog {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// Reopens the path if `force`, or if the file there is no longer the one being written
    /// (it was rotated away or removed).
    pub fn reopen(&self, force: bool) {
        let current = std::fs::metadata(&self.path).ok().and_then(|m| inode(&m));
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if !force && current.is_some() && current == file.1 {
            return;
        }
        match open(&self.path) {
            Ok(f) => {
                *file = f;
                tracing::info!(path = %self.path.display(), "audit log reopened");
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, "cannot reopen the audit log")
            }
        }
    }

    /// Appends one record as one line.
    pub fn write(&self, record: &AuditRecord<'_>) {
        let mut line = render(record, now_secs()).to_string();
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = file.0.write_all(line.as_bytes()) {
            tracing::error!(path = %self.path.display(), error = %e, "cannot write the audit log");
        }
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `AWS::AppMesh::VirtualNode` for an ARN ending in `.../virtualNode/<name>`.
fn resource_type(arn: &str) -> Option<String> {
    let path = arn.splitn(6, ':').nth(5)?;
    let segments: Vec<&str> = path.split('/').collect();
    let kind = segments.get(segments.len().checked_sub(2)?)?;
    let mut chars = kind.chars();
    let first = chars.next()?.to_ascii_uppercase();
    Some(format!("AWS::AppMesh::{first}{}", chars.as_str()))
}

/// The CloudTrail-shaped record.
pub fn render(r: &AuditRecord<'_>, at: i64) -> Value {
    let identity = match r.identity {
        Some(id) => json!({
            "type": if id.name == "root" { "Root" } else { "IAMUser" },
            "principalId": r.access_key_id.unwrap_or(&id.name),
            "arn": id.arn,
            "accountId": id.account,
            "accessKeyId": r.access_key_id,
            "userName": id.name,
        }),
        None => json!({ "type": "Unknown", "accessKeyId": r.access_key_id }),
    };
    let account = r.identity.map(|i| i.account.as_str());
    let mut record = json!({
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": format_iso8601(at),
        "eventSource": "appmesh.amazonaws.com",
        "eventName": r.action,
        "awsRegion": r.region,
        "sourceIPAddress": r.source,
        "userAgent": r.user_agent,
        "requestID": r.request_id,
        "eventID": uuid::Uuid::new_v4().to_string(),
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "eventCategory": "Management",
        "recipientAccountId": account,
        "additionalEventData": { "httpStatus": r.status },
    });
    if let Some(arn) = r.resource {
        let owner = arn.split(':').nth(4).unwrap_or_default();
        record["resources"] =
            json!([{ "ARN": arn, "accountId": owner, "type": resource_type(arn) }]);
    }
    if let Some(code) = r.error_code {
        record["errorCode"] = json!(code);
        if let Some(message) = r.error_message {
            record["errorMessage"] = json!(message);
        }
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_have_cloudtrail_shape_and_append_whole_lines() {
        let dir = std::env::temp_dir().join(format!("appmesh-audit-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("audit.log");
        let log = AuditLog::open(&path).expect("open");
        let who = Identity::root("111111111111");
        let record = AuditRecord {
            request_id: "r-1",
            identity: Some(&who),
            access_key_id: Some("AKID"),
            action: Some("DeleteVirtualNode"),
            resource: Some("arn:aws:appmesh:us-east-1:111111111111:mesh/apps/virtualNode/b"),
            region: "us-east-1",
            source: Some("127.0.0.1"),
            user_agent: None,
            status: 409,
            error_code: Some("ResourceInUseException"),
            error_message: None,
        };
        log.write(&record);
        // Rotation: rename the file away; the next reopen check starts a new one.
        std::fs::rename(&path, dir.join("audit.log.1")).expect("rotate");
        log.reopen(false);
        log.write(&record);
        let old = std::fs::read_to_string(dir.join("audit.log.1")).expect("old");
        let new = std::fs::read_to_string(&path).expect("new");
        assert_eq!((old.lines().count(), new.lines().count()), (1, 1));
        let v: Value = serde_json::from_str(new.trim()).expect("json");
        assert_eq!(v["eventName"], "DeleteVirtualNode");
        assert_eq!(v["errorCode"], "ResourceInUseException");
        assert_eq!(v["userIdentity"]["accountId"], "111111111111");
        assert_eq!(v["resources"][0]["type"], "AWS::AppMesh::VirtualNode");
        assert_eq!(v["requestID"], "r-1");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
