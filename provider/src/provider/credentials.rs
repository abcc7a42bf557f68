//! The provider's AWS credentials: static keys from the block, else the AWS SDK's standard
//! chain (environment, shared profile, web identity, container, instance metadata), then
//! `assume_role` on top through STS. Resolved once when the provider is configured and
//! refreshed before they expire ([`CachedCredentials`]), so long applies keep signing with
//! valid temporary credentials.
//!
//! Nothing here parses a profile: the shared files, `credential_process`, SSO, `aws login`
//! sessions, `role_arn` + `source_profile` chains and web identity are the SDK's providers
//! (`aws-config`). They are composed in the order of `DefaultCredentialsChain`, whose own
//! builder cannot take custom file lists (`shared_config_files`, `shared_credentials_files`),
//! and so that every source tried can be named when none has credentials.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_http_client::tls;
use aws_smithy_types::error::ErrorMetadata;
use aws_types::sdk_config::{SharedHttpClient, SharedTimeSource};

/// Credentials whose expiry is nearer than this are refreshed before the next request.
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// Where the shared config and credentials files are: the provider's lists, or the SDK's
/// defaults (`AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/...`).
#[derive(Debug, Clone, Default)]
pub struct SharedFiles {
    /// `shared_config_files`; `None` means the default config file.
    pub config: Option<Vec<PathBuf>>,
    /// `shared_credentials_files`; `None` means the default credentials file.
    pub credentials: Option<Vec<PathBuf>>,
}

impl SharedFiles {
    /// The file set the SDK loads, in its order (config files, then credentials files).
    pub fn env_config_files(&self) -> EnvConfigFiles {
        let mut builder = EnvConfigFiles::builder()
            .include_default_config_file(self.config.is_none())
            .include_default_credentials_file(self.credentials.is_none());
        for path in self.config.iter().flatten() {
            builder = builder.with_file(EnvConfigFileKind::Config, path);
        }
        for path in self.credentials.iter().flatten() {
            builder = builder.with_file(EnvConfigFileKind::Credentials, path);
        }
        builder.build()
    }

    /// The files, for messages: `~/.aws/config, /tmp/creds (missing)`.
    pub fn describe(&self) -> String {
        let defaults = |files: &Option<Vec<PathBuf>>, var: &str, default: &str| match files {
            Some(files) => files.iter().map(|p| p.display().to_string()).collect(),
            None => vec![std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())],
        };
        let mut all = defaults(&self.config, "AWS_CONFIG_FILE", "~/.aws/config");
        all.extend(defaults(
            &self.credentials,
            "AWS_SHARED_CREDENTIALS_FILE",
            "~/.aws/credentials",
        ));
        all.iter()
            .map(|f| {
                if expand_home(f).exists() {
                    f.clone()
                } else {
                    format!("{f} (missing)")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The files parsed, with `profile` (else `AWS_PROFILE`, else `default`) selected.
    /// Reading them needs no network.
    pub async fn load(
        &self,
        profile: Option<&str>,
    ) -> Result<aws_config::profile::ProfileSet, String> {
        aws_config::profile::load(
            &aws_types::os_shim_internal::Fs::real(),
            &aws_types::os_shim_internal::Env::real(),
            &self.env_config_files(),
            profile.map(|p| Cow::Owned(p.to_owned())),
        )
        .await
        .map_err(|e| {
            format!(
                "reading the shared config/credentials files ({}): {}",
                self.describe(),
                causes(&e)
            )
        })
    }

    /// The selected profile's `region`, if the files have one.
    pub async fn region(&self, profile: Option<&str>) -> Option<String> {
        let set = self.load(profile).await.ok()?;
        let p = set.get_profile(set.selected_profile())?;
        p.get("region").map(str::to_owned)
    }
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// The `assume_role` block.
#[derive(Debug, Clone, Default)]
pub struct AssumeRole {
    /// `role_arn`.
    pub role_arn: String,
    /// `session_name`.
    pub session_name: Option<String>,
    /// `external_id`.
    pub external_id: Option<String>,
    /// `duration`, parsed.
    pub duration: Option<Duration>,
    /// `policy` (JSON).
    pub policy: Option<String>,
    /// `policy_arns`.
    pub policy_arns: Vec<String>,
    /// `tags` (session tags).
    pub tags: BTreeMap<String, String>,
}

/// Everything the credentials depend on, as `configure` read it from the block and the
/// environment.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The signing region; also the region of the chain's own STS calls (web identity,
    /// profile role chains).
    pub region: String,
    /// The profile named by `profile` or `AWS_PROFILE`.
    pub profile: Option<String>,
    /// The shared files.
    pub files: SharedFiles,
    /// `access_key` / `secret_key` / `token`: when set, the chain is not consulted.
    pub static_credentials: Option<Credentials>,
    /// `skip_metadata_api_check`: leave the instance metadata service out of the chain.
    pub skip_metadata_api_check: bool,
    /// `assume_role`.
    pub assume_role: Option<AssumeRole>,
    /// `sts_region`, else `region`.
    pub sts_region: String,
    /// The STS endpoint for `assume_role`; `None` means the SDK's (`https://sts.<region>...`).
    pub sts_endpoint: Option<String>,
    /// `max_retries` (for the STS, SSO and metadata clients).
    pub max_retries: u32,
    /// `custom_ca_bundle`: PEM certificates trusted besides the system's.
    pub ca_bundle: Option<Vec<u8>>,
}

/// Credentials resolved once and refreshed when they are about to expire. Concurrent
/// requests share one refresh.
#[derive(Debug)]
pub struct CachedCredentials {
    provider: SharedCredentialsProvider,
    /// What the provider is, for errors: "the credential chain", "role ... via STS at ...".
    source: String,
    cached: tokio::sync::Mutex<Option<Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    credentials: Credentials,
    /// When to fetch new ones; `None` for credentials that do not expire.
    refresh_at: Option<SystemTime>,
}

impl Entry {
    fn new(credentials: Credentials, now: SystemTime) -> Entry {
        // 5 minutes before expiry, but not before half the lifetime is used (credentials
        // that live 10 minutes are not fetched for every request).
        let refresh_at = credentials.expiry().map(|expiry| {
            let lifetime = expiry.duration_since(now).unwrap_or_default();
            let early = expiry.checked_sub(REFRESH_BEFORE).unwrap_or(now);
            early.max(now + lifetime / 2)
        });
        Entry {
            credentials,
            refresh_at,
        }
    }
}

impl CachedCredentials {
    /// Credentials that never change (the block's static keys, tests).
    pub fn fixed(credentials: Credentials) -> CachedCredentials {
        let now = SystemTime::now();
        CachedCredentials {
            source: "static credentials".to_owned(),
            cached: tokio::sync::Mutex::new(Some(Entry::new(credentials.clone(), now))),
            provider: SharedCredentialsProvider::new(credentials),
        }
    }

    /// Wraps `provider`; nothing is fetched until [`CachedCredentials::get`].
    pub fn new(
        provider: SharedCredentialsProvider,
        source: impl Into<String>,
    ) -> CachedCredentials {
        CachedCredentials {
            provider,
            source: source.into(),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// Valid credentials: the cached ones, or fresh ones when those are near expiry. If a
    /// refresh fails while the old credentials are still valid, they are used.
    pub async fn get(&self) -> Result<Credentials, String> {
        let mut cached = self.cached.lock().await;
        let now = SystemTime::now();
        if let Some(entry) = cached.as_ref() {
            if entry.refresh_at.is_none_or(|at| now < at) {
                return Ok(entry.credentials.clone());
            }
        }
        match self.provider.provide_credentials().await {
            Ok(credentials) => {
                let entry = Entry::new(credentials, now);
                let credentials = entry.credentials.clone();
                *cached = Some(entry);
                Ok(credentials)
            }
            Err(e) => {
                let why = format!("getting credentials from {}: {}", self.source, causes(&e));
                match cached.as_ref() {
                    Some(old) if old.credentials.expiry().is_some_and(|x| now < x) => {
                        tracing::warn!(%why, "refreshing credentials failed; using the current ones until they expire");
                        Ok(old.credentials.clone())
                    }
                    _ => Err(why),
                }
            }
        }
    }
}

/// The credentials `settings` describe, fetched once (so a configuration without any is
/// reported when the provider is configured, naming every source tried).
pub async fn resolve(settings: &Settings) -> Result<CachedCredentials, String> {
    let http = http_client(settings.ca_bundle.as_deref());
    let (base, base_source) = match &settings.static_credentials {
        Some(c) => (
            SharedCredentialsProvider::new(c.clone()),
            "access_key/secret_key".to_owned(),
        ),
        None => {
            check_profile(settings).await?;
            (
                SharedCredentialsProvider::new(Chain::new(settings, &http)),
                "the credential chain".to_owned(),
            )
        }
    };
    let cache = match &settings.assume_role {
        None => CachedCredentials::new(base, base_source),
        Some(role) => {
            let endpoint = settings
                .sts_endpoint
                .clone()
                .unwrap_or_else(|| format!("https://sts.{}.amazonaws.com", settings.sts_region));
            let mut sts = SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(settings.sts_region.clone()))
                .http_client(http.clone())
                .time_source(SharedTimeSource::default())
                .sleep_impl(SharedAsyncSleep::new(TokioSleep::new()))
                .retry_config(retry_config(settings.max_retries));
            if let Some(url) = &settings.sts_endpoint {
                sts = sts.endpoint_url(url.clone());
            }
            let mut builder =
                AssumeRoleProvider::builder(role.role_arn.clone()).configure(&sts.build());
            if let Some(name) = &role.session_name {
                builder = builder.session_name(name.clone());
            }
            if let Some(id) = &role.external_id {
                builder = builder.external_id(id.clone());
            }
            if let Some(d) = role.duration {
                builder = builder.session_length(d);
            }
            if let Some(p) = &role.policy {
                builder = builder.policy(p.clone());
            }
            if !role.policy_arns.is_empty() {
                builder = builder.policy_arns(role.policy_arns.clone());
            }
            if !role.tags.is_empty() {
                builder = builder.tags(role.tags.clone());
            }
            let provider = builder.build_from_provider(base).await;
            CachedCredentials::new(
                SharedCredentialsProvider::new(provider),
                format!(
                    "assuming role {} through STS at {endpoint} (with credentials from {base_source})",
                    role.role_arn
                ),
            )
        }
    };
    cache.get().await?;
    Ok(cache)
}

/// A profile named explicitly (`profile`, `AWS_PROFILE`) must exist: the chain would
/// otherwise go on to other sources and sign as someone else.
async fn check_profile(settings: &Settings) -> Result<(), String> {
    let Some(name) = settings.profile.as_deref() else {
        return Ok(());
    };
    let set = settings.files.load(Some(name)).await?;
    if set.get_profile(name).is_none() {
        return Err(format!(
            "profile {name:?} is not in the shared config/credentials files ({})",
            settings.files.describe()
        ));
    }
    Ok(())
}

fn retry_config(max_retries: u32) -> RetryConfig {
    RetryConfig::standard().with_max_attempts(max_retries.saturating_add(1))
}

/// The HTTP client of the STS, SSO, container and instance metadata calls: hyper with
/// rustls on ring, the TLS stack reqwest uses for the App Mesh API.
/// The HTTP client of the SDK's own calls (STS, SSO, metadata), trusting `ca_bundle` too.
fn http_client(ca_bundle: Option<&[u8]>) -> SharedHttpClient {
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::Ring,
    ));
    match ca_bundle {
        None => builder.build_https(),
        Some(pem) => {
            let trust = tls::TrustStore::default().with_pem_certificate(pem.to_vec());
            match tls::TlsContext::builder().with_trust_store(trust).build() {
                Ok(context) => builder.tls_context(context).build_https(),
                Err(_) => builder.build_https(),
            }
        }
    }
}

/// The standard chain, in the order of the SDK's `DefaultCredentialsChain`.
#[derive(Debug)]
struct Chain {
    /// Name, provider, and what to say when it has nothing without saying why.
    sources: Vec<(String, SharedCredentialsProvider, &'static str)>,
    /// Sources left out, with why, for the "no credentials" message.
    skipped: Vec<String>,
}

impl Chain {
    fn new(settings: &Settings, http: &SharedHttpClient) -> Chain {
        let conf = ProviderConfig::default()
            .with_http_client(http.clone())
            .with_region(Some(Region::new(settings.region.clone())))
            .with_retry_config(retry_config(settings.max_retries));
        let mut profile = ProfileFileCredentialsProvider::builder()
            .configure(&conf)
            .profile_files(settings.files.env_config_files());
        if let Some(name) = &settings.profile {
            profile = profile.profile_name(name.clone());
        }
        let profile_name = settings
            .profile
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let mut sources = vec![
            (
                "environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)".to_owned(),
                SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()),
                "not set",
            ),
            (
                format!("profile {profile_name:?} in {}", settings.files.describe()),
                SharedCredentialsProvider::new(profile.build()),
                "no such profile, or no credentials in it",
            ),
            (
                "web identity (AWS_WEB_IDENTITY_TOKEN_FILE/AWS_ROLE_ARN)".to_owned(),
                SharedCredentialsProvider::new(
                    WebIdentityTokenCredentialsProvider::builder()
                        .configure(&conf)
                        .build(),
                ),
                "not set",
            ),
            (
                "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/_FULL_URI)"
                    .to_owned(),
                SharedCredentialsProvider::new(
                    EcsCredentialsProvider::builder().configure(&conf).build(),
                ),
                "not set",
            ),
        ];
        let mut skipped = Vec::new();
        if settings.skip_metadata_api_check {
            skipped.push("instance metadata (IMDS): skipped (skip_metadata_api_check)".to_owned());
        } else {
            sources.push((
                "instance metadata (IMDS)".to_owned(),
                SharedCredentialsProvider::new(
                    ImdsCredentialsProvider::builder().configure(&conf).build(),
                ),
                "no credentials",
            ));
        }
        Chain { sources, skipped }
    }

    async fn credentials(&self) -> Result<Credentials, CredentialsError> {
        let mut tried = vec!["access_key/secret_key: not set".to_owned()];
        for (name, provider, nothing) in &self.sources {
            match provider.provide_credentials().await {
                Ok(c) => {
                    tracing::debug!(source = %name, "loaded credentials");
                    return Ok(c);
                }
                Err(e @ CredentialsError::CredentialsNotLoaded(_)) => {
                    tracing::debug!(source = %name, error = %causes(&e), "no credentials");
                    let mut why = causes(&e);
                    if why == e.to_string() {
                        why = (*nothing).to_owned();
                    }
                    tried.push(format!("{name}: {why}"));
                }
                // A source that is configured but fails ends the search, as in the SDK:
                // a broken profile must not fall through to the instance's role.
                Err(e) => {
                    return Err(CredentialsError::provider_error(format!(
                        "{name}: {}",
                        causes(&e)
                    )))
                }
            }
        }
        tried.extend(self.skipped.iter().cloned());
        Err(CredentialsError::not_loaded(format!(
            "no credentials found; tried {}",
            tried.join("; ")
        )))
    }
}

impl ProvideCredentials for Chain {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.credentials())
    }
}

/// An error and its causes, most general first, without the SDK's generic wrappers
/// ("the credential provider was not enabled") and without repeating itself.
pub fn causes(e: &(dyn Error + 'static)) -> String {
    const GENERIC: &[&str] = &[
        "the credential provider was not enabled",
        "an error occurred while loading credentials",
        "the credentials provider was not properly configured",
        "unexpected credentials error",
        "dispatch failure",
        "io error",
        "service error",
    ];
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(err) = next {
        next = err.source();
        // A service's answer: `AccessDenied: User ... is not authorized ...` rather than
        // the SDK's `Error { code: "AccessDenied", message: ..., aws_request_id: ... }`.
        let text = match err.downcast_ref::<ErrorMetadata>() {
            Some(meta) => match (meta.code(), meta.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(text), None) | (None, Some(text)) => text.to_owned(),
                (None, None) => meta.to_string(),
            },
            None => err.to_string(),
        };
        // hyper's "client error (Connect)" only says which stage failed.
        if (GENERIC.contains(&text.as_str())
            || text.starts_with("client error (")
            || text.starts_with("unhandled error ("))
            && next.is_some()
        {
            continue;
        }
        if parts.iter().any(|p| p.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
}

/// Parses a Go-style duration of hours, minutes and seconds: `1h`, `15m`, `1h30m`, `900s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration such as \"1h\", \"15m\" or \"1h30m\"");
    let mut total = 0u64;
    let mut number = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        number.clear();
        any = true;
    }
    if !any || !number.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::credential_fn::provide_credentials_fn;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("900s"), Ok(Duration::from_secs(900)));
        for bad in ["", "1", "h", "1d", "-1h", "1.5h", "1h 30m"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    fn counting(lifetime: Option<Duration>) -> (SharedCredentialsProvider, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let provider = provide_credentials_fn(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                Ok(Credentials::new(
                    format!("AKID{n}"),
                    "secret",
                    None,
                    lifetime.map(|l| SystemTime::now() + l),
                    "test",
                ))
            }
        });
        (SharedCredentialsProvider::new(provider), calls)
    }

    #[tokio::test]
    async fn credentials_are_fetched_once_while_valid() {
        let (provider, calls) = counting(Some(Duration::from_secs(3600)));
        let cache = CachedCredentials::new(provider, "test");
        for _ in 0..3 {
            assert_eq!(cache.get().await.expect("creds").access_key_id(), "AKID1");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let (provider, calls) = counting(None);
        let cache = CachedCredentials::new(provider, "test");
        cache.get().await.expect("creds");
        cache.get().await.expect("creds");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "no expiry: never refreshed"
        );
    }

    #[tokio::test]
    async fn expiring_credentials_are_refreshed() {
        // Already past the refresh point (half of a 1 s lifetime) after a short wait.
        let (provider, calls) = counting(Some(Duration::from_secs(1)));
        let cache = CachedCredentials::new(provider, "test");
        assert_eq!(cache.get().await.expect("creds").access_key_id(), "AKID1");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(cache.get().await.expect("creds").access_key_id(), "AKID2");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_valid_credentials_and_reports_expired_ones() {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let provider = provide_credentials_fn(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Ok(Credentials::new(
                        "AKIDOLD",
                        "s",
                        None,
                        Some(SystemTime::now() + Duration::from_millis(1500)),
                        "test",
                    ))
                } else {
                    Err(CredentialsError::provider_error("STS is down"))
                }
            }
        });
        let cache =
            CachedCredentials::new(SharedCredentialsProvider::new(provider), "the test source");
        cache.get().await.expect("first");
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(
            cache.get().await.expect("still valid").access_key_id(),
            "AKIDOLD"
        );
        tokio::time::sleep(Duration::from_millis(900)).await;
        let err = cache.get().await.expect_err("expired");
        assert_eq!(err, "getting credentials from the test source: STS is down");
    }

    /// STS at a local address that refuses: the request carries the block's arguments,
    /// signed with the base keys for `sts_region`, and the error names role, endpoint and
    /// STS's answer.
    #[tokio::test]
    async fn assume_role_sends_the_block_to_sts() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut seen = Vec::new();
            let mut buf = vec![0u8; 16 * 1024];
            // Headers, then the form body (its length is in content-length).
            loop {
                let n = socket.read(&mut buf).await.expect("read");
                seen.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&seen).to_ascii_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if seen.len() >= end + 4 + length || n == 0 {
                        break;
                    }
                }
            }
            let body = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
<Message>not for you</Message></Error><RequestId>r-1</RequestId></ErrorResponse>";
            let reply = format!(
                "HTTP/1.1 403 Forbidden\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(reply.as_bytes()).await.expect("write");
            String::from_utf8_lossy(&seen).into_owned()
        });
        let settings = Settings {
            region: "us-east-1".to_owned(),
            static_credentials: Some(Credentials::new("AKIDBASE", "s", None, None, "test")),
            assume_role: Some(AssumeRole {
                role_arn: "arn:aws:iam::123456789012:role/deployer".to_owned(),
                session_name: Some("tf-session".to_owned()),
                external_id: Some("ext-1".to_owned()),
                duration: Some(Duration::from_secs(3600)),
                policy: None,
                policy_arns: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".to_owned()],
                tags: BTreeMap::from([("team".to_owned(), "mesh".to_owned())]),
            }),
            sts_region: "eu-central-1".to_owned(),
            sts_endpoint: Some(endpoint.clone()),
            max_retries: 0,
            ..Settings::default()
        };
        let err = resolve(&settings).await.expect_err("STS refuses");
        assert_eq!(
            err,
            format!(
                "getting credentials from assuming role arn:aws:iam::123456789012:role/deployer \
                 through STS at {endpoint} (with credentials from access_key/secret_key): \
                 AccessDenied: not for you"
            )
        );
        let request = server.await.expect("server");
        let lower = request.to_ascii_lowercase();
        assert!(lower.starts_with("post / http/1.1"), "{request}");
        assert!(
            lower.contains("credential=akidbase/")
                && lower.contains("/eu-central-1/sts/aws4_request"),
            "{request}"
        );
        for field in [
            "Action=AssumeRole",
            "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdeployer",
            "RoleSessionName=tf-session",
            "ExternalId=ext-1",
            "DurationSeconds=3600",
            "PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess",
            "Tags.member.1.Key=team",
            "Tags.member.1.Value=mesh",
        ] {
            assert!(request.contains(field), "{field} missing from\n{request}");
        }
    }

    #[test]
    fn shared_files_replace_the_defaults_they_name() {
        let files = SharedFiles {
            config: Some(vec![PathBuf::from("/nonexistent/config")]),
            credentials: None,
        };
        let text = files.describe();
        assert!(
            text.starts_with("/nonexistent/config (missing), "),
            "{text}"
        );
        assert!(!text.contains("~/.aws/config"), "{text}");
    }
}
