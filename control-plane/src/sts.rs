//! A small STS for the control plane's own accounts: `AssumeRole` for the roles the access
//! file declares, so the AWS credential chain's role assumption (the provider's
//! `assume_role {}`, a profile's `role_arn`) works against a local control plane.
//!
//! Session credentials are stateless: the session token carries the key id, role, session
//! name and expiry, sealed with an HMAC under the server's STS key (kept in the data
//! directory, so sessions survive restarts and replicas sharing the key accept each other's);
//! the secret is derived from the token with the same key. Nothing is stored per session.
//!
//! The wire format is STS's query protocol: a form-encoded `POST /` signed for service `sts`,
//! answered with XML.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::access::{Access, Identity, Role};
use crate::sigv4::{constant_time_eq, format_iso8601, hex, hmac_sha256};

/// Shortest and longest sessions STS grants (15 minutes to 12 hours).
pub const MIN_DURATION_SECS: i64 = 900;
/// The longest session.
pub const MAX_DURATION_SECS: i64 = 12 * 3600;
/// The default session length.
pub const DEFAULT_DURATION_SECS: i64 = 3600;

/// The key that seals session tokens.
#[derive(Clone)]
pub struct StsKey([u8; 32]);

impl std::fmt::Debug for StsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StsKey(..)")
    }
}

impl StsKey {
    /// The key in `dir/sts.key`, created (0600) with fresh random bytes if missing.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<StsKey> {
        let path = dir.join("sts.key");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|e| {
                anyhow::anyhow!("{} is not a key this server wrote: {e}", path.display())
            })?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| anyhow::anyhow!("{} does not hold 32 bytes", path.display()))?;
            return Ok(StsKey(key));
        }
        std::fs::create_dir_all(dir)?;
        let key = StsKey::random();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path)?;
        std::io::Write::write_all(&mut file, URL_SAFE_NO_PAD.encode(key.0).as_bytes())?;
        file.sync_all()?;
        Ok(key)
    }

    /// A key from 256 random bits.
    pub fn random() -> StsKey {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        StsKey(key)
    }

    fn seal(&self, payload: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac_sha256(&self.0, payload.as_bytes()))
    }

    fn secret_for(&self, token: &str) -> String {
        hex(&hmac_sha256(&self.0, format!("secret\0{token}").as_bytes()))[..40].to_owned()
    }
}

/// What a session token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Claims {
    /// The session's access key id.
    k: String,
    /// The role's ARN.
    r: String,
    /// The session name.
    s: String,
    /// Expiry, seconds since the epoch.
    x: i64,
}

/// Temporary credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `ASIA...`.
    pub access_key_id: String,
    /// The derived secret.
    pub secret_access_key: String,
    /// The sealed token.
    pub session_token: String,
    /// Seconds since the epoch.
    pub expires: i64,
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub assumed_role_arn: String,
}

/// Why AssumeRole is refused: (HTTP status, STS error code, message).
pub type StsError = (u16, &'static str, String);

/// Answers `AssumeRole` for `caller`: the role must exist and trust the caller, the external
/// id must match when the role asks for one.
pub fn assume_role(
    key: &StsKey,
    access: &Access,
    caller: &Identity,
    form: &[(String, String)],
    now: i64,
) -> Result<Session, StsError> {
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let missing = |name: &str| {
        (400, "ValidationError", format!("1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"))
    };
    let role_arn = get("RoleArn").ok_or_else(|| missing("roleArn"))?;
    let session = get("RoleSessionName").ok_or_else(|| missing("roleSessionName"))?;
    if session.len() < 2
        || session.len() > 64
        || !session
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=,.@_-".contains(&b))
    {
        return Err((
            400,
            "ValidationError",
            format!(
            "RoleSessionName {session:?} must be 2 to 64 characters of letters, digits and =,.@_-"
        ),
        ));
    }
    let duration = match get("DurationSeconds") {
        None => DEFAULT_DURATION_SECS,
        Some(d) => d.parse::<i64>().map_err(|_| {
            (
                400,
                "ValidationError",
                format!("DurationSeconds {d:?} is not a whole number"),
            )
        })?,
    };
    let denied = || {
        (
            403,
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller.arn
            ),
        )
    };
    let role: &Role = access.role(role_arn).ok_or_else(denied)?;
    if !role.trusts(caller) {
        return Err(denied());
    }
    if let Some(want) = &role.external_id {
        if get("ExternalId") != Some(want.as_str()) {
            return Err(denied());
        }
    }
    let max = role.max_session_secs.min(MAX_DURATION_SECS);
    if !(MIN_DURATION_SECS..=max).contains(&duration) {
        return Err((400, "ValidationError", format!(
            "DurationSeconds {duration} must be between {MIN_DURATION_SECS} and the role's maximum session duration {max}"
        )));
    }
    let access_key_id = format!(
        "ASIA{}",
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .to_ascii_uppercase()[..16]
            .to_owned()
    );
    let claims = Claims {
        k: access_key_id.clone(),
        r: role.arn.clone(),
        s: session.to_owned(),
        x: now + duration,
    };
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
    let token = format!("{payload}.{}", key.seal(&payload));
    Ok(Session {
        secret_access_key: key.secret_for(&token),
        session_token: token,
        access_key_id,
        expires: claims.x,
        assumed_role_arn: role.session_arn(session),
    })
}

/// The identity and secret of session credentials presented with `token`, if the token is
/// one this server sealed for `access_key_id` and its role still exists. `Err(true)` when it
/// has expired.
pub fn session_identity(
    key: &StsKey,
    access: &Access,
    access_key_id: &str,
    token: &str,
    now: i64,
) -> Result<(Identity, String), bool> {
    let (payload, seal) = token.split_once('.').ok_or(false)?;
    if !constant_time_eq(key.seal(payload).as_bytes(), seal.as_bytes()) {
        return Err(false);
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| false)?;
    let claims: Claims = serde_json::from_slice(&bytes).map_err(|_| false)?;
    if claims.k != access_key_id {
        return Err(false);
    }
    if claims.x <= now {
        return Err(true);
    }
    let role = access.role(&claims.r).ok_or(false)?;
    Ok((role.session_identity(&claims.s), key.secret_for(token)))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The `AssumeRoleResponse` document.
pub fn response_xml(session: &Session, request_id: &str) -> String {
    format!(
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
<AssumeRoleResult><Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey>\
<SessionToken>{}</SessionToken><Expiration>{}</Expiration></Credentials>\
<AssumedRoleUser><AssumedRoleId>{}</AssumedRoleId><Arn>{}</Arn></AssumedRoleUser></AssumeRoleResult>\
<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></AssumeRoleResponse>",
        xml_escape(&session.access_key_id),
        xml_escape(&session.secret_access_key),
        xml_escape(&session.session_token),
        format_iso8601(session.expires),
        xml_escape(&session.access_key_id),
        xml_escape(&session.assumed_role_arn),
        xml_escape(request_id),
    )
}

/// An STS `ErrorResponse` document.
pub fn error_xml(code: &str, message: &str, request_id: &str) -> String {
    let kind = if code == "InternalFailure" {
        "Receiver"
    } else {
        "Sender"
    };
    format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>{kind}</Type>\
<Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        xml_escape(code),
        xml_escape(message),
        xml_escape(request_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[keys]]
access_key_id = "AKIDCI"
secret_access_key = "ci-secret"
account = "111111111111"
principal = "ci"

[[keys]]
access_key_id = "AKIDOTHER"
secret_access_key = "other-secret"
account = "222222222222"
principal = "other"

[[roles]]
name = "deployer"
account = "111111111111"
trusted = ["arn:aws:iam::111111111111:user/ci"]
external_id = "ext-1"
policies = ['{"Statement": {"Effect": "Allow", "Action": "appmesh:Describe*", "Resource": "*"}}']
"#;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn assume_role_issues_sealed_sessions() {
        let access = Access::parse(FILE, Path::new(".")).expect("valid");
        let key = StsKey::random();
        let ci = access.key("AKIDCI").expect("ci").identity.clone();
        let arn = "arn:aws:iam::111111111111:role/deployer";
        let ok = form(&[
            ("RoleArn", arn),
            ("RoleSessionName", "tf"),
            ("ExternalId", "ext-1"),
        ]);
        let s = assume_role(&key, &access, &ci, &ok, 1_000).expect("assumed");
        assert!(s.access_key_id.starts_with("ASIA") && s.access_key_id.len() == 20);
        assert_eq!(
            s.assumed_role_arn,
            "arn:aws:sts::111111111111:assumed-role/deployer/tf"
        );
        assert_eq!(s.expires, 1_000 + DEFAULT_DURATION_SECS);
        let (id, secret) =
            session_identity(&key, &access, &s.access_key_id, &s.session_token, 1_001)
                .expect("valid");
        assert_eq!(secret, s.secret_access_key);
        assert_eq!(
            (id.account.as_str(), id.arn.as_str()),
            ("111111111111", s.assumed_role_arn.as_str())
        );
        assert_eq!(id.policies.map(|p| p.len()), Some(1));
        // Expired, tampered, another key's, or sealed by another server.
        assert_eq!(
            session_identity(&key, &access, &s.access_key_id, &s.session_token, s.expires).err(),
            Some(true)
        );
        let tampered = s.session_token.replacen('e', "f", 1);
        assert!(session_identity(&key, &access, &s.access_key_id, &tampered, 1_001).is_err());
        assert_eq!(
            session_identity(&key, &access, "ASIAOTHER", &s.session_token, 1_001).err(),
            Some(false)
        );
        assert_eq!(
            session_identity(
                &StsKey::random(),
                &access,
                &s.access_key_id,
                &s.session_token,
                1_001
            )
            .err(),
            Some(false)
        );

        // Untrusted callers, wrong external ids and unknown roles are denied alike.
        let other = access.key("AKIDOTHER").expect("other").identity.clone();
        assert_eq!(
            assume_role(&key, &access, &other, &ok, 0)
                .err()
                .map(|e| e.1),
            Some("AccessDenied")
        );
        let bad_ext = form(&[
            ("RoleArn", arn),
            ("RoleSessionName", "tf"),
            ("ExternalId", "nope"),
        ]);
        assert_eq!(
            assume_role(&key, &access, &ci, &bad_ext, 0)
                .err()
                .map(|e| e.1),
            Some("AccessDenied")
        );
        let unknown = form(&[
            ("RoleArn", "arn:aws:iam::111111111111:role/ghost"),
            ("RoleSessionName", "tf"),
        ]);
        assert_eq!(
            assume_role(&key, &access, &ci, &unknown, 0)
                .err()
                .map(|e| e.1),
            Some("AccessDenied")
        );
        let long = form(&[
            ("RoleArn", arn),
            ("RoleSessionName", "tf"),
            ("ExternalId", "ext-1"),
            ("DurationSeconds", "999999"),
        ]);
        assert_eq!(
            assume_role(&key, &access, &ci, &long, 0).err().map(|e| e.1),
            Some("ValidationError")
        );
    }
}
