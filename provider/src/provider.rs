//! The provider: its configuration (endpoint, region, credentials, retries, default tags)
//! and the registry of resources.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use aws_credential_types::provider::ProvideCredentials;
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
        ("profile".to_owned(), attribute(string(), "The shared config/credentials profile to use. Defaults to `AWS_PROFILE`, then `default`.", false)),
        ("access_key".to_owned(), attribute(string(), "A static access key id; needs `secret_key`. Defaults to the standard credential chain (environment, then shared files).", false)),
        ("secret_key".to_owned(), attribute(string(), "The static secret access key.", true)),
        ("token".to_owned(), attribute(string(), "A session token for temporary static credentials.", true)),
        ("max_retries".to_owned(), attribute(AttributeType::Number, "How many times a throttled, failed or unanswered request is retried, with exponential backoff. Defaults to 5.", false)),
    ]);
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
                ("default_tags".to_owned(), NestedBlock::Optional(default_tags)),
                ("ignore_tags".to_owned(), NestedBlock::Optional(ignore_tags)),
            ]),
            description: Description::markdown("The App Mesh provider manages meshes and their resources through the App Mesh API, such as the bundled `appmesh-control-plane`."),
            ..Block::default()
        },
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

    let region = match setting("region")
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
    {
        Some(r) => r,
        None => load_profiles(profile.as_deref())
            .await
            .ok()
            .and_then(|set| {
                let p = set.get_profile(set.selected_profile())?;
                p.get("region").map(str::to_owned)
            })
            .ok_or((
                Some("region"),
                "no region: set `region`, AWS_REGION or a profile region".to_owned(),
            ))?,
    };
    let endpoint = setting("endpoint")
        .or_else(|| env("AWS_ENDPOINT_URL_APP_MESH"))
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|| format!("https://appmesh.{region}.amazonaws.com"));
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err((
            Some("endpoint"),
            format!("endpoint must be an http:// or https:// URL, got {endpoint:?}"),
        ));
    }

    let credentials = match (setting("access_key"), setting("secret_key")) {
        (Some(ak), Some(sk)) => {
            Credentials::new(ak, sk, setting("token"), None, "terraform-provider-config")
        }
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
        (None, None) => chain_credentials(profile.as_deref()).await?,
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

    let client = Client::new(&endpoint, &region, credentials, max_retries)
        .map_err(|e| (None, format!("{e:#}")))?;
    Ok(Configured {
        client,
        default_tags,
        ignore_tags,
    })
}

/// The standard chain without network lookups: environment variables, then static keys
/// of the selected profile in the shared config and credentials files.
async fn chain_credentials(profile: Option<&str>) -> Result<Credentials, ConfigError> {
    let env_provider = aws_config::environment::EnvironmentVariableCredentialsProvider::new();
    let env_error = match env_provider.provide_credentials().await {
        Ok(c) => return Ok(c),
        Err(e) => e.to_string(),
    };
    let no_credentials = |why: String| {
        (
            None,
            format!(
                "no credentials: set access_key/secret_key, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or keys in a shared credentials/config profile ({env_error}; {why})"
            ),
        )
    };
    let profiles = load_profiles(profile).await.map_err(no_credentials)?;
    let name = profiles.selected_profile().to_owned();
    let Some(p) = profiles.get_profile(&name) else {
        return Err(no_credentials(format!(
            "profile {name:?} is not in the shared files"
        )));
    };
    match (p.get("aws_access_key_id"), p.get("aws_secret_access_key")) {
        (Some(ak), Some(sk)) => Ok(Credentials::new(
            ak,
            sk,
            p.get("aws_session_token").map(str::to_owned),
            None,
            "shared-profile",
        )),
        _ => Err(no_credentials(format!(
            "profile {name:?} has no aws_access_key_id/aws_secret_access_key (role assumption, SSO and credential_process are not supported)"
        ))),
    }
}

/// The shared config and credentials files (`~/.aws/config`, `~/.aws/credentials`, or
/// `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE`), with `profile` (else `AWS_PROFILE`,
/// else `default`) selected. Reading them needs no network.
async fn load_profiles(profile: Option<&str>) -> Result<aws_config::profile::ProfileSet, String> {
    aws_config::profile::load(
        &aws_types::os_shim_internal::Fs::real(),
        &aws_types::os_shim_internal::Env::real(),
        &aws_runtime::env_config::file::EnvConfigFiles::default(),
        profile.map(|p| std::borrow::Cow::Owned(p.to_owned())),
    )
    .await
    .map_err(|e| e.to_string())
}
