//! AWS Signature Version 4, the server's side: parse the `Authorization` header, rebuild the
//! canonical request from what arrived, and check the signature, the credential scope and the
//! clock.
//!
//! The canonical form follows the published algorithm for services other than S3, as the AWS
//! SDKs and botocore produce it: the path is normalised (`.` and `..` segments removed) and
//! URI-encoded again on top of the encoding it arrived with; the query is decoded and
//! re-encoded with the unreserved set and sorted; header values are trimmed with runs of
//! spaces collapsed; the payload hash is SHA-256 of the body (and must match
//! `x-amz-content-sha256` when a client sends it).
//!
//! Nothing here knows where keys come from: [`verify`] asks a closure for the secret of an
//! access key id, so the same code serves static keys and session credentials.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// The only signing algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's `x-amz-date` may be from the server's clock (AWS: 15 minutes).
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Why a request's signature is refused, each mapped to the exception AWS answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header (and no other form of credentials).
    Missing,
    /// The header is there but lacks parts, or names another algorithm.
    Incomplete(String),
    /// The access key id is not one the server knows.
    UnknownKey,
    /// A session token is missing, unexpected or wrong for the key.
    BadToken,
    /// The session credentials have expired.
    ExpiredToken,
    /// The signature, scope, date or payload hash does not check out.
    Invalid(String),
}

impl Refusal {
    /// The exception name for `x-amzn-ErrorType`.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Missing => "MissingAuthenticationTokenException",
            Refusal::Incomplete(_) => "IncompleteSignatureException",
            Refusal::UnknownKey | Refusal::BadToken => "UnrecognizedClientException",
            Refusal::ExpiredToken => "ExpiredTokenException",
            Refusal::Invalid(_) => "InvalidSignatureException",
        }
    }

    /// The message, in AWS's words where AWS has fixed ones.
    pub fn message(&self) -> String {
        match self {
            Refusal::Missing => "Missing Authentication Token".to_owned(),
            Refusal::Incomplete(why) | Refusal::Invalid(why) => why.clone(),
            Refusal::UnknownKey | Refusal::BadToken => {
                "The security token included in the request is invalid.".to_owned()
            }
            Refusal::ExpiredToken => {
                "The security token included in the request is expired".to_owned()
            }
        }
    }
}

/// What the server knows about an access key id.
#[derive(Debug, Clone)]
pub struct KeySecret {
    /// The secret access key.
    pub secret: String,
    /// The session token the request must carry (`x-amz-security-token`), for temporary
    /// credentials; `None` for long-term keys, which must carry none.
    pub session_token: Option<String>,
}

/// A request as it arrived, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// `GET`, `PUT`, ...
    pub method: &'a str,
    /// The path exactly as sent (still percent-encoded).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// Header names (any case) and values.
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
}

impl Incoming<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a verified signature proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The access key id that signed.
    pub access_key_id: String,
    /// The scope's region.
    pub region: String,
    /// The scope's service.
    pub service: String,
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
/// Signature=...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, Refusal> {
    let incomplete = |what: &str| {
        Refusal::Incomplete(format!(
            "Authorization header requires {what}. Authorization={value}"
        ))
    };
    let Some(rest) = value.strip_prefix(ALGORITHM) else {
        let algorithm = value.split_whitespace().next().unwrap_or_default();
        return Err(Refusal::Incomplete(format!(
            "Unsupported signing algorithm {algorithm:?}; only {ALGORITHM} is accepted"
        )));
    };
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential = credential.ok_or_else(|| incomplete("'Credential' parameter"))?;
    let signed = signed.ok_or_else(|| incomplete("'SignedHeaders' parameter"))?;
    let signature = signature.ok_or_else(|| incomplete("'Signature' parameter"))?;
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = parts.as_slice() else {
        return Err(Refusal::Incomplete(format!(
            "Credential must be <access key>/<date>/<region>/<service>/aws4_request, got {credential:?}"
        )));
    };
    if access_key_id.is_empty() {
        return Err(incomplete("an access key id in 'Credential'"));
    }
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

/// Checks `request`'s signature for `region` and `service` at `now` (seconds since the epoch);
/// `secret_of` answers the secret (and session token) of an access key id it knows.
pub fn verify(
    request: &Incoming<'_>,
    region: &str,
    service: &str,
    now: i64,
    secret_of: impl FnOnce(&str) -> Option<KeySecret>,
) -> Result<Verified, Refusal> {
    let header = request.header("authorization").ok_or(Refusal::Missing)?;
    let auth = parse_authorization(header)?;
    let key = secret_of(auth.access_key_id).ok_or(Refusal::UnknownKey)?;
    match (&key.session_token, request.header("x-amz-security-token")) {
        (None, None) => {}
        (Some(want), Some(got)) if constant_time_eq(want.as_bytes(), got.as_bytes()) => {}
        _ => return Err(Refusal::BadToken),
    }

    let amz_date = request.header("x-amz-date").ok_or_else(|| {
        Refusal::Incomplete("the request must carry an X-Amz-Date header".to_owned())
    })?;
    let signed_at = parse_amz_date(amz_date).ok_or_else(|| {
        Refusal::Invalid(format!(
            "X-Amz-Date {amz_date:?} is not a date of the form 20150830T123600Z"
        ))
    })?;
    if (now - signed_at).abs() > MAX_SKEW_SECS {
        return Err(Refusal::Invalid(format!(
            "Signature expired: {amz_date} is now earlier or later than the server's time {} by more than 15 minutes.",
            format_amz_date(now)
        )));
    }
    if !amz_date.starts_with(auth.date) || auth.date.len() != 8 {
        return Err(Refusal::Invalid(format!(
            "Credential should be scoped to a valid date: the scope's date {:?} is not the date of X-Amz-Date {amz_date}.",
            auth.date
        )));
    }
    if auth.region != region {
        return Err(Refusal::Invalid(format!(
            "Credential should be scoped to a valid region, not '{}'. This server is in '{region}'.",
            auth.region
        )));
    }
    if auth.service != service {
        return Err(Refusal::Invalid(format!(
            "Credential should be scoped to correct service: '{service}'."
        )));
    }
    for required in ["host", "x-amz-date"] {
        if !auth.signed_headers.contains(&required) {
            return Err(Refusal::Invalid(format!(
                "'{required}' must be a signed header (SignedHeaders={}).",
                auth.signed_headers.join(";")
            )));
        }
    }
    if request.header("x-amz-security-token").is_some()
        && !auth.signed_headers.contains(&"x-amz-security-token")
    {
        return Err(Refusal::Invalid(
            "'x-amz-security-token' must be a signed header.".to_owned(),
        ));
    }

    let body_hash = hex(&Sha256::digest(request.body));
    if let Some(claimed) = request.header("x-amz-content-sha256") {
        if claimed != body_hash {
            return Err(Refusal::Invalid(format!(
                "The provided 'x-amz-content-sha256' header does not match what was computed ({}).",
                if claimed == "UNSIGNED-PAYLOAD" {
                    "payloads must be signed"
                } else {
                    "the body differs"
                }
            )));
        }
    }

    let canonical =
        canonical_request(request, &auth.signed_headers, &body_hash).map_err(Refusal::Invalid)?;
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let signing_key = signing_key(&key.secret, auth.date, auth.region, auth.service);
    let expected = hex(&hmac_sha256(&signing_key, string_to_sign.as_bytes()));
    if !constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        return Err(Refusal::Invalid(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method."
                .to_owned(),
        ));
    }
    Ok(Verified {
        access_key_id: auth.access_key_id.to_owned(),
        region: auth.region.to_owned(),
        service: auth.service.to_owned(),
    })
}

/// Credentials to sign with.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// Its secret.
    pub secret: &'a str,
    /// A session token, for temporary credentials.
    pub session_token: Option<&'a str>,
    /// The region to scope the signature to.
    pub region: &'a str,
    /// The service to scope it to.
    pub service: &'a str,
}

impl Signer<'_> {
    /// Signs a request as the AWS SDKs do: adds `x-amz-date`, `x-amz-content-sha256`,
    /// `x-amz-security-token` (if any) and `authorization` to `headers`, signing every header
    /// given (which must include `host`). For the tests and the load generator.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &mut Vec<(String, String)>,
        body: &[u8],
        now: i64,
    ) {
        let amz_date = format_amz_date(now);
        let body_hash = hex(&Sha256::digest(body));
        headers.retain(|(k, _)| {
            ![
                "authorization",
                "x-amz-date",
                "x-amz-content-sha256",
                "x-amz-security-token",
            ]
            .contains(&k.to_ascii_lowercase().as_str())
        });
        headers.push(("x-amz-date".to_owned(), amz_date.clone()));
        headers.push(("x-amz-content-sha256".to_owned(), body_hash.clone()));
        if let Some(token) = self.session_token {
            headers.push(("x-amz-security-token".to_owned(), token.to_owned()));
        }
        let mut names: Vec<String> = headers
            .iter()
            .map(|(k, _)| k.to_ascii_lowercase())
            .collect();
        names.sort();
        names.dedup();
        let signed: Vec<&str> = names.iter().map(String::as_str).collect();
        let request = Incoming {
            method,
            path,
            query,
            headers,
            body,
        };
        let canonical = canonical_request(&request, &signed, &body_hash).unwrap_or_default();
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign = format!(
            "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let key = signing_key(self.secret, date, self.region, self.service);
        let signature = hex(&hmac_sha256(&key, string_to_sign.as_bytes()));
        headers.push((
            "authorization".to_owned(),
            format!(
                "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
                self.access_key_id,
                signed.join(";")
            ),
        ));
    }
}

/// The canonical request over the headers the client signed.
fn canonical_request(
    request: &Incoming<'_>,
    signed_headers: &[&str],
    body_hash: &str,
) -> Result<String, String> {
    let mut out = String::with_capacity(256);
    out.push_str(request.method);
    out.push('\n');
    out.push_str(&canonical_path(request.path));
    out.push('\n');
    out.push_str(&canonical_query(request.query));
    out.push('\n');
    let mut previous = "";
    for name in signed_headers {
        if name.is_empty() || *name <= previous || name.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "SignedHeaders must be lower-case names in sorted order without repeats (found {:?}).",
                signed_headers.join(";")
            ));
        }
        previous = name;
        let values: Vec<&str> = request
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        if values.is_empty() {
            return Err(format!("The signed header '{name}' is not in the request."));
        }
        out.push_str(name);
        out.push(':');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&collapse_spaces(v));
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(body_hash);
    Ok(out)
}

/// The path with dot segments removed and every segment encoded once more.
fn canonical_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let trailing = path.len() > 1 && path.ends_with('/');
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 8);
    for seg in &segments {
        out.push('/');
        encode_into(&mut out, seg.as_bytes());
    }
    if out.is_empty() || trailing {
        out.push('/');
    }
    out
}

/// Query parameters decoded, re-encoded with the unreserved set, sorted by name then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let mut ek = String::new();
            encode_into(&mut ek, &percent_decode(k));
            let mut ev = String::new();
            encode_into(&mut ev, &percent_decode(v));
            (ek, ev)
        })
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(query.len() + 8);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// `%XX` sequences decoded; `+` stays `+` (SigV4 clients encode spaces as `%20`).
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hexpair = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hexpair.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Appends `bytes` URI-encoded: unreserved characters as they are, the rest as `%XX`.
fn encode_into(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn collapse_spaces(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, word) in value.split(' ').filter(|w| !w.is_empty()).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    out.trim().to_owned()
}

/// The key derived from the secret for one date, region and service.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Compares without an early exit, so timing does not tell how much of a guess was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `20150830T123600Z` as seconds since the epoch.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Seconds since the epoch as `20150830T123600Z`.
pub fn format_amz_date(secs: i64) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}{mo:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Seconds since the epoch as `2015-08-30T12:36:00Z` (ISO 8601, as CloudTrail and STS write).
pub fn format_iso8601(secs: i64) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// Howard Hinnant's days-from-civil algorithms (proleptic Gregorian calendar).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn key(_: &str) -> Option<KeySecret> {
        Some(KeySecret {
            secret: SECRET.to_owned(),
            session_token: None,
        })
    }

    /// The `get-vanilla` case of AWS's SigV4 test suite.
    #[test]
    fn aws_test_suite_get_vanilla() {
        let h = headers(&[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        ]);
        let req = Incoming {
            method: "GET",
            path: "/",
            query: "",
            headers: &h,
            body: b"",
        };
        let now = parse_amz_date("20150830T123600Z").expect("date");
        let ok = verify(&req, "us-east-1", "service", now, key).expect("valid");
        assert_eq!(ok.access_key_id, "AKIDEXAMPLE");
        // The same request a minute outside the window, in another region, or tampered.
        assert!(
            matches!(verify(&req, "us-east-1", "service", now + 16 * 60, key), Err(Refusal::Invalid(m)) if m.contains("expired"))
        );
        assert!(
            matches!(verify(&req, "eu-west-1", "service", now, key), Err(Refusal::Invalid(m)) if m.contains("region"))
        );
        assert!(
            matches!(verify(&req, "us-east-1", "appmesh", now, key), Err(Refusal::Invalid(m)) if m.contains("service"))
        );
        let tampered = Incoming {
            method: "PUT",
            ..req
        };
        assert!(
            matches!(verify(&tampered, "us-east-1", "service", now, key), Err(Refusal::Invalid(m)) if m.contains("does not match"))
        );
        assert_eq!(
            verify(&req, "us-east-1", "service", now, |_| None),
            Err(Refusal::UnknownKey)
        );
        let bare = Incoming {
            headers: &[],
            ..req
        };
        assert_eq!(
            verify(&bare, "us-east-1", "service", now, key),
            Err(Refusal::Missing)
        );
    }

    /// `get-vanilla-query-order-key-case`: parameters sorted in the canonical form.
    #[test]
    fn aws_test_suite_query_order() {
        let h = headers(&[
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        ]);
        let req = Incoming {
            method: "GET",
            path: "/",
            query: "Param2=value2&Param1=value1",
            headers: &h,
            body: b"",
        };
        let now = parse_amz_date("20150830T123600Z").expect("date");
        verify(&req, "us-east-1", "service", now, key).expect("valid");
    }

    #[test]
    fn signed_requests_verify() {
        let signer = Signer {
            access_key_id: "AKIDEXAMPLE",
            secret: SECRET,
            session_token: None,
            region: "us-east-1",
            service: "appmesh",
        };
        let mut h = headers(&[
            ("host", "127.0.0.1:9080"),
            ("content-type", "application/json"),
        ]);
        let now = 1_764_633_600;
        signer.sign(
            "PUT",
            "/v20190125/meshes/a.b",
            "meshOwner=111111111111",
            &mut h,
            b"{}",
            now,
        );
        let req = Incoming {
            method: "PUT",
            path: "/v20190125/meshes/a.b",
            query: "meshOwner=111111111111",
            headers: &h,
            body: b"{}",
        };
        verify(&req, "us-east-1", "appmesh", now, key).expect("valid");
        let other_body = Incoming {
            body: b"{\"x\":1}",
            ..req
        };
        assert!(
            matches!(verify(&other_body, "us-east-1", "appmesh", now, key), Err(Refusal::Invalid(m)) if m.contains("x-amz-content-sha256"))
        );
        let wrong_secret = |_: &str| {
            Some(KeySecret {
                secret: "other".to_owned(),
                session_token: None,
            })
        };
        assert!(
            matches!(verify(&req, "us-east-1", "appmesh", now, wrong_secret), Err(Refusal::Invalid(m)) if m.contains("does not match"))
        );
        let wants_token = |_: &str| {
            Some(KeySecret {
                secret: SECRET.to_owned(),
                session_token: Some("t".to_owned()),
            })
        };
        assert_eq!(
            verify(&req, "us-east-1", "appmesh", now, wants_token),
            Err(Refusal::BadToken)
        );
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(
            canonical_path("/v20190125/meshes/a%20b/./x/../y/"),
            "/v20190125/meshes/a%2520b/y/"
        );
        assert_eq!(canonical_path(""), "/");
        assert_eq!(canonical_query("b=2&a=%7E+x&a=1"), "a=1&a=~%2Bx&b=2");
        assert_eq!(collapse_spaces("  a   b  c "), "a b c");
        assert_eq!(percent_decode("%41%4"), b"A%4");
    }

    #[test]
    fn dates_round_trip() {
        for s in [
            "20150830T123600Z",
            "20000229T000000Z",
            "19700101T000000Z",
            "20261202T235959Z",
        ] {
            let secs = parse_amz_date(s).expect("parses");
            assert_eq!(format_amz_date(secs), s);
        }
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(format_iso8601(0), "1970-01-01T00:00:00Z");
        for bad in [
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "20150830T123600",
            "",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
