//! The provider: its configuration (endpoint, region, credentials, retries, default tags)
//! and the registry of resources.

pub mod credentials;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use aws_credential_types::Credentials;
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
};
use tf_provider::value::ValueAny;
use tf_provider::{AttributePath, Diagnostics, DynamicDataSource, DynamicResource, Provider};

use crate::client::Client;
use crate::data_source::AppMeshDataSource;
use crate::describe::RESOURCES;
use crate::resource::AppMeshResource;
use crate::value::{get_str, obj};

/// Retries of throttled or failed requests when `max_retries` is not set.
const DEFAULT_MAX_RETRIES: u32 = 5;

/// What resources need once the provider is configured.
#[derive(Debug)]
pub struct Configured {
    /// The API client.
    pub client: Client,
    /// `default_tags { tags = {...} }`.
    pub default_tags: BTreeMap<String, String>,
    /// `ignore_tags { keys = [...], key_prefixes = [...] }`.
    pub ignore_tags: IgnoreTags,
}

impl Configured {
    /// The tags a resource carries: the provider's `default_tags`, then the resource's own
    /// (which win), without the keys `ignore_tags` names.
    pub fn all_tags(&self, own: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut all = self.default_tags.clone();
        all.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.ignore_tags.retain(&mut all);
        all
    }
}

/// Tag keys the provider neither reads, writes nor removes (tags other tools manage), as in
/// the AWS provider's `ignore_tags` block.
#[derive(Debug, Clone, Default)]
pub struct IgnoreTags {
    /// Exact keys.
    pub keys: BTreeSet<String>,
    /// Key prefixes.
    pub key_prefixes: BTreeSet<String>,
}

impl IgnoreTags {
    /// Whether `key` is ignored.
    pub fn ignores(&self, key: &str) -> bool {
        self.keys.contains(key)
            || self
                .key_prefixes
                .iter()
                .any(|p| key.starts_with(p.as_str()))
    }

    /// Drops the ignored keys from `tags`.
    pub fn retain(&self, tags: &mut BTreeMap<String, String>) {
        tags.retain(|k, _| !self.ignores(k));
    }
}

/// Shared between the provider and its resources: resources exist before configuration.
pub type Shared = Arc<RwLock<Option<Arc<Configured>>>>;

/// What `configure` set up, or an error diagnostic when the provider is not configured.
pub fn configured(shared: &Shared, diags: &mut Diagnostics) -> Option<Arc<Configured>> {
    let configured = shared.read().unwrap_or_else(|p| p.into_inner()).clone();
    if configured.is_none() {
        diags.root_error_short("the App Mesh provider is not configured");
    }
    configured
}

/// The App Mesh provider.
#[derive(Debug, Default)]
pub struct AppMeshProvider {
    shared: Shared,
}

fn attribute(attr_type: AttributeType, doc: &str, sensitive: bool) -> Attribute {
    let mut a = crate::schema::attribute(attr_type, AttributeConstraint::Optional, doc);
    a.sensitive = sensitive;
    a
}

/// The provider block's schema.
pub fn provider_schema() -> Schema {
    let string = || AttributeType::String;
    let attributes = HashMap::from([
        ("endpoint".to_owned(), attribute(string(), "The App Mesh API base URL, e.g. `http://127.0.0.1:9080` for the bundled control plane. Defaults to `AWS_ENDPOINT_URL_APP_MESH`, then `AWS_ENDPOINT_URL`, then `https://appmesh.<region>.amazonaws.com`.", false)),
        ("region".to_owned(), attribute(string(), "The region requests are signed for and ARNs name. Defaults to `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's region.", false)),
        ("profile".to_owned(), attribute(string(), "The shared config/credentials profile to use. Defaults to `AWS_PROFILE`, then `default`. A profile named here or in `AWS_PROFILE` must exist in the shared files.", false)),
        ("shared_config_files".to_owned(), attribute(AttributeType::List(Box::new(string())), "Paths of the shared config files to read, instead of `AWS_CONFIG_FILE` or `~/.aws/config`. A leading `~/` is the home directory.", false)),
        ("shared_credentials_files".to_owned(), attribute(AttributeType::List(Box::new(string())), "Paths of the shared credentials files to read, instead of `AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`. A leading `~/` is the home directory.", false)),
        ("access_key".to_owned(), attribute(string(), "A static access key id; needs `secret_key`. Without it, credentials come from the standard AWS chain, first found wins: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`; the profile in the shared files (static keys, `credential_process`, SSO, `aws login` sessions, `role_arn` with `source_profile` or `credential_source`, `web_identity_token_file`); `AWS_WEB_IDENTITY_TOKEN_FILE` with `AWS_ROLE_ARN`; the container credentials endpoint (ECS, EKS Pod Identity); the EC2 instance metadata service. Temporary credentials are renewed before they expire.", false)),
        ("secret_key".to_owned(), attribute(string(), "The static secret access key.", true)),
        ("token".to_owned(), attribute(string(), "A session token for temporary static credentials.", true)),
        ("max_retries".to_owned(), attribute(AttributeType::Number, "How many times a throttled, failed or unanswered request is retried, with exponential backoff. Defaults to 5.", false)),
        ("skip_metadata_api_check".to_owned(), attribute(AttributeType::Bool, "Leave the EC2 instance metadata service (IMDS) out of the credential chain, e.g. off EC2 where nothing answers it. Defaults to false.", false)),
        ("sts_region".to_owned(), attribute(string(), "The region `assume_role` calls STS in and signs those calls for. Defaults to `region`.", false)),
        ("custom_ca_bundle".to_owned(), attribute(string(), "Path of a PEM bundle of certificate authorities to trust, besides the system's, for HTTPS to the App Mesh and STS endpoints: a control plane serving TLS with a private CA. Defaults to `AWS_CA_BUNDLE`.", false)),
        ("sts_endpoint".to_owned(), attribute(string(), "The STS endpoint `assume_role` calls. Defaults to `AWS_ENDPOINT_URL_STS`, then the App Mesh `endpoint` when one is set (the argument, `AWS_ENDPOINT_URL_APP_MESH` or `AWS_ENDPOINT_URL`), so that a self-hosted deployment that answers STS at the App Mesh address needs no second setting, then `https://sts.<sts_region>.amazonaws.com`. Role chains inside profiles and web identity use the SDK's STS endpoint (`AWS_ENDPOINT_URL_STS`, the profile's `endpoint_url`).", false)),
    ]);
    let assume_role = assume_role_block();
    let default_tags = Block {
        attributes: HashMap::from([(
            "tags".to_owned(),
            attribute(
                AttributeType::Map(Box::new(string())),
                "Tags added to every resource; a resource's own tags win.",
                false,
            ),
        )]),
        description: Description::markdown("Tags applied to every resource this provider manages."),
        ..Block::default()
    };
    let strings = || AttributeType::Set(Box::new(string()));
    let ignore_tags = Block {
        attributes: HashMap::from([
            (
                "keys".to_owned(),
                attribute(strings(), "Tag keys the provider neither reads, writes nor removes.", false),
            ),
            (
                "key_prefixes".to_owned(),
                attribute(strings(), "Tag key prefixes the provider neither reads, writes nor removes.", false),
            ),
        ]),
        description: Description::markdown("Tags managed outside Terraform: they are left out of `tags` and `tags_all`, never sent and never removed."),
        ..Block::default()
    };
    Schema {
        version: 1,
        block: Block {
            attributes,
            blocks: HashMap::from([
                ("assume_role".to_owned(), NestedBlock::Optional(assume_role)),
                ("default_tags".to_owned(), NestedBlock::Optional(default_tags)),
                ("ignore_tags".to_owned(), NestedBlock::Optional(ignore_tags)),
            ]),
            description: Description::markdown("The App Mesh provider manages meshes and their resources through the App Mesh API, such as the bundled `appmesh-control-plane`."),
            ..Block::default()
        },
    }
}

/// `assume_role { role_arn = ... }`, as in the AWS provider.
fn assume_role_block() -> Block {
    let string = || AttributeType::String;
    let role_arn = crate::schema::attribute(
        string(),
        AttributeConstraint::Required,
        "The ARN of the IAM role to assume.",
    );
    Block {
        attributes: HashMap::from([
            ("role_arn".to_owned(), role_arn),
            ("session_name".to_owned(), attribute(string(), "The role session name. Defaults to one the SDK makes up (`assume-role-provider-<time>`).", false)),
            ("external_id".to_owned(), attribute(string(), "The external ID the role's trust policy asks for.", false)),
            ("duration".to_owned(), attribute(string(), "How long a role session lasts, such as `1h`, `15m` or `1h30m`, from 15 minutes to 12 hours. Defaults to 1 hour. Sessions are renewed before they expire.", false)),
            ("policy".to_owned(), attribute(string(), "An IAM policy document (JSON) that further restricts the session.", false)),
            ("policy_arns".to_owned(), attribute(AttributeType::Set(Box::new(string())), "ARNs of managed IAM policies that further restrict the session.", false)),
            ("tags".to_owned(), attribute(AttributeType::Map(Box::new(string())), "Session tags.", false)),
        ]),
        description: Description::markdown("Assume an IAM role, through STS at `sts_endpoint`, with the credentials found otherwise (`access_key`/`secret_key`, else the credential chain), and sign with the role's."),
        ..Block::default()
    }
}

#[async_trait]
impl Provider for AppMeshProvider {
    type Config<'a> = ValueAny;
    type MetaState<'a> = ValueAny;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(provider_schema())
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: ValueAny,
    ) -> Option<()> {
        let config = obj(&config);
        match configure(config).await {
            Ok(configured) => {
                let mut slot = self.shared.write().unwrap_or_else(|p| p.into_inner());
                *slot = Some(Arc::new(configured));
                Some(())
            }
            Err((attr, message)) => {
                match attr {
                    Some(a) => diags.error_short(
                        format!("configuring the App Mesh provider: {message}"),
                        AttributePath::new(a),
                    ),
                    None => diags
                        .root_error_short(format!("configuring the App Mesh provider: {message}")),
                }
                None
            }
        }
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        let mut all: HashMap<String, Box<dyn DynamicDataSource>> = HashMap::new();
        for def in RESOURCES {
            for source in [
                AppMeshDataSource::object(def, self.shared.clone()),
                AppMeshDataSource::list(def, self.shared.clone()),
            ] {
                all.insert(source.type_name(), Box::new(source));
            }
        }
        Some(all)
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(
            RESOURCES
                .iter()
                .map(|def| {
                    let resource: Box<dyn DynamicResource> =
                        Box::new(AppMeshResource::new(def, self.shared.clone()));
                    (def.type_name.to_owned(), resource)
                })
                .collect(),
        )
    }
}

/// A client configured as a `provider "appmesh"` block with these string settings
/// (`endpoint`, `region`, `profile`, ...) would be, with the same environment fallbacks and
/// credential chain. For the provider's own commands (`migrate`).
pub async fn connect(settings: &[(&str, &str)]) -> Result<Configured, String> {
    let config: BTreeMap<String, ValueAny> = settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), ValueAny::String((*v).to_owned())))
        .collect();
    configure(Some(&config))
        .await
        .map_err(|(attr, message)| match attr {
            Some(attr) => format!("{attr}: {message}"),
            None => message,
        })
}

type ConfigError = (Option<&'static str>, String);

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

async fn configure(config: Option<&BTreeMap<String, ValueAny>>) -> Result<Configured, ConfigError> {
    let setting = |name: &str| {
        config
            .and_then(|c| get_str(c, name))
            .filter(|s| !s.is_empty())
    };
    let profile = setting("profile").or_else(|| env("AWS_PROFILE"));
    let files = credentials::SharedFiles {
        config: paths(config, "shared_config_files"),
        credentials: paths(config, "shared_credentials_files"),
    };

    let region = match setting("region")
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
    {
        Some(r) => r,
        None => files.region(profile.as_deref()).await.ok_or((
            Some("region"),
            "no region: set `region`, AWS_REGION or a profile region".to_owned(),
        ))?,
    };
    let configured_endpoint = setting("endpoint")
        .or_else(|| env("AWS_ENDPOINT_URL_APP_MESH"))
        .or_else(|| env("AWS_ENDPOINT_URL"));
    let endpoint = configured_endpoint
        .clone()
        .unwrap_or_else(|| format!("https://appmesh.{region}.amazonaws.com"));
    check_url("endpoint", &endpoint)?;

    let static_credentials = match (setting("access_key"), setting("secret_key")) {
        (Some(ak), Some(sk)) => Some(Credentials::new(
            ak,
            sk,
            setting("token"),
            None,
            "terraform-provider-config",
        )),
        (Some(_), None) => {
            return Err((
                Some("secret_key"),
                "access_key is set but secret_key is not".to_owned(),
            ))
        }
        (None, Some(_)) => {
            return Err((
                Some("access_key"),
                "secret_key is set but access_key is not".to_owned(),
            ))
        }
        (None, None) => None,
    };

    let max_retries = match config.and_then(|c| c.get("max_retries")) {
        Some(ValueAny::Number(n)) => u32::try_from(*n).map_err(|_| {
            (
                Some("max_retries"),
                format!("max_retries must be 0 or more, got {n}"),
            )
        })?,
        _ => DEFAULT_MAX_RETRIES,
    };

    let mut default_tags = BTreeMap::new();
    if let Some(ValueAny::List(blocks)) = config.and_then(|c| c.get("default_tags")) {
        if let Some(ValueAny::Map(tags)) = blocks
            .first()
            .and_then(|b| obj(b))
            .and_then(|b| b.get("tags"))
        {
            for (k, v) in tags {
                if let ValueAny::String(v) = v {
                    default_tags.insert(k.clone(), v.clone());
                }
            }
        }
    }

    let mut ignore_tags = IgnoreTags::default();
    if let Some(ValueAny::List(blocks)) = config.and_then(|c| c.get("ignore_tags")) {
        if let Some(block) = blocks.first().and_then(|b| obj(b)) {
            let strings = |name: &str| -> BTreeSet<String> {
                match block.get(name) {
                    Some(ValueAny::List(items)) => items
                        .iter()
                        .filter_map(|i| match i {
                            ValueAny::String(s) if !s.is_empty() => Some(s.clone()),
                            _ => None,
                        })
                        .collect(),
                    _ => BTreeSet::new(),
                }
            };
            ignore_tags.keys = strings("keys");
            ignore_tags.key_prefixes = strings("key_prefixes");
        }
    }

    let sts_endpoint = setting("sts_endpoint")
        .or_else(|| env("AWS_ENDPOINT_URL_STS"))
        .or(configured_endpoint);
    if let Some(url) = &sts_endpoint {
        check_url("sts_endpoint", url)?;
    }
    let ca_bundle = match setting("custom_ca_bundle").or_else(|| env("AWS_CA_BUNDLE")) {
        None => None,
        Some(path) => Some(std::fs::read(&path).map_err(|e| {
            (
                Some("custom_ca_bundle"),
                format!("reading the CA bundle {path}: {e}"),
            )
        })?),
    };
    let settings = credentials::Settings {
        ca_bundle: ca_bundle.clone(),
        sts_region: setting("sts_region").unwrap_or_else(|| region.clone()),
        region: region.clone(),
        profile,
        files,
        static_credentials,
        skip_metadata_api_check: matches!(
            config.and_then(|c| c.get("skip_metadata_api_check")),
            Some(ValueAny::Bool(true))
        ),
        assume_role: assume_role(config)?,
        sts_endpoint,
        max_retries,
    };
    let credentials = credentials::resolve(&settings)
        .await
        .map_err(|e| (None, e))?;

    let mut client = Client::with_credentials(&endpoint, &region, credentials, max_retries)
        .map_err(|e| (None, format!("{e:#}")))?;
    if let Some(pem) = &ca_bundle {
        client = client
            .trusting(pem)
            .map_err(|e| (Some("custom_ca_bundle"), format!("{e:#}")))?;
    }
    Ok(Configured {
        client,
        default_tags,
        ignore_tags,
    })
}

fn check_url(name: &'static str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(());
    }
    Err((
        Some(name),
        format!("{name} must be an http:// or https:// URL, got {url:?}"),
    ))
}

/// A list of paths; `None` when unset or empty (the SDK's default file then).
fn paths(config: Option<&BTreeMap<String, ValueAny>>, name: &str) -> Option<Vec<PathBuf>> {
    let Some(ValueAny::List(items)) = config.and_then(|c| c.get(name)) else {
        return None;
    };
    let paths: Vec<PathBuf> = items
        .iter()
        .filter_map(|i| match i {
            ValueAny::String(s) if !s.is_empty() => Some(PathBuf::from(s)),
            _ => None,
        })
        .collect();
    (!paths.is_empty()).then_some(paths)
}

/// The `assume_role` block, if there is one.
fn assume_role(
    config: Option<&BTreeMap<String, ValueAny>>,
) -> Result<Option<credentials::AssumeRole>, ConfigError> {
    let Some(ValueAny::List(blocks)) = config.and_then(|c| c.get("assume_role")) else {
        return Ok(None);
    };
    let Some(block) = blocks.first().and_then(obj) else {
        return Ok(None);
    };
    let text = |name: &str| get_str(block, name).filter(|s| !s.is_empty());
    let Some(role_arn) = text("role_arn") else {
        return Err((
            Some("assume_role"),
            "assume_role needs a role_arn".to_owned(),
        ));
    };
    let duration = match text("duration") {
        None => None,
        Some(d) => {
            let parsed = credentials::parse_duration(&d)
                .map_err(|e| (Some("assume_role"), format!("assume_role duration: {e}")))?;
            if !(15 * 60..=12 * 3600).contains(&parsed.as_secs()) {
                return Err((
                    Some("assume_role"),
                    format!("assume_role duration must be from 15 minutes to 12 hours, got {d:?}"),
                ));
            }
            Some(parsed)
        }
    };
    let policy_arns = match block.get("policy_arns") {
        Some(ValueAny::List(items)) => items
            .iter()
            .filter_map(|i| match i {
                ValueAny::String(s) if !s.is_empty() => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Some(credentials::AssumeRole {
        role_arn,
        session_name: text("session_name"),
        external_id: text("external_id"),
        duration,
        policy: text("policy"),
        policy_arns,
        tags: crate::value::get_string_map(block, "tags").unwrap_or_default(),
    }))
}
