//! Who may call the control plane: the operator's access file, and the identity each request
//! is made under.
//!
//! The file is TOML, kept apart from the quota config because it holds secrets:
//!
//! ```toml
//! [[keys]]
//! access_key_id = "AKIAOWNER00000000001"
//! secret_access_key = "..."
//! account = "111111111111"
//! principal = "platform"                 # arn:aws:iam::111111111111:user/platform
//! policy_files = ["policies/platform.json"]   # optional IAM-style policies; relative paths
//! policies = ['''{"Statement": ...}''']       # or inline JSON documents
//! requests_per_second = 20               # optional, overrides [rate_limit]
//!
//! [[shares]]                             # mesh sharing, as AWS RAM did it
//! owner = "111111111111"
//! mesh = "apps"
//! consumers = ["222222222222"]
//!
//! [[roles]]                              # for AssumeRole (see `sts`)
//! name = "deployer"
//! account = "111111111111"
//! trusted = ["arn:aws:iam::111111111111:user/platform"]  # or whole accounts
//! external_id = "ci"                     # optional
//!
//! [rate_limit]                           # per principal; none when absent
//! requests_per_second = 100
//! burst = 200
//! ```
//!
//! A key without policies acts with the whole authority of its account (like an account's
//! administrator); a key with policies may do exactly what they allow, minus what they deny.
//! [`AccessHandle`] reloads the file on SIGHUP or when it changes, keeping the last good
//! version when a new one does not parse.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use serde::Deserialize;

use crate::policy::Policy;

/// The principal a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The 12-digit account.
    pub account: String,
    /// The principal's name (an IAM user name, or `role/session` for assumed roles).
    pub name: String,
    /// The principal's ARN, as CloudTrail and error messages show it.
    pub arn: String,
    /// IAM-style policies; `None` means the account's full authority.
    pub policies: Option<Arc<[Policy]>>,
    /// This principal's request rate limit, if any.
    pub rate: Option<Rate>,
}

impl Identity {
    /// The account's own root identity: what `--insecure-dev` acts as for unknown keys.
    pub fn root(account: &str) -> Identity {
        Identity {
            account: account.to_owned(),
            name: "root".to_owned(),
            arn: format!("arn:aws:iam::{account}:root"),
            policies: None,
            rate: None,
        }
    }
}

/// A token-bucket rate: sustained requests per second and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Sustained requests per second.
    pub per_second: f64,
    /// How many requests may arrive at once.
    pub burst: f64,
}

impl Eq for Rate {}

/// A long-term access key.
#[derive(Debug, Clone)]
pub struct Key {
    /// The secret access key.
    pub secret: String,
    /// Who signs with it.
    pub identity: Arc<Identity>,
}

/// A mesh shared by its owner with other accounts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Share {
    /// The owner's account.
    pub owner: String,
    /// The mesh name.
    pub mesh: String,
    /// Accounts that may use it.
    pub consumers: Vec<String>,
}

/// A role principals may assume through the control plane's STS (`AssumeRole`).
#[derive(Debug, Clone)]
pub struct Role {
    /// `arn:aws:iam::<account>:role/<name>`.
    pub arn: String,
    /// The role's name.
    pub name: String,
    /// The account sessions act in.
    pub account: String,
    /// Who may assume it: principal ARNs, or 12-digit accounts (any principal of them).
    pub trusted: Vec<String>,
    /// The `ExternalId` callers must give, if any.
    pub external_id: Option<String>,
    /// The sessions' policies; `None` for the account's full authority.
    pub policies: Option<Arc<[Policy]>>,
    /// The longest session, in seconds.
    pub max_session_secs: i64,
    /// The sessions' rate limit.
    pub rate: Option<Rate>,
}

impl Role {
    /// Whether `caller` may assume the role.
    pub fn trusts(&self, caller: &Identity) -> bool {
        self.trusted
            .iter()
            .any(|t| *t == caller.arn || *t == caller.account)
    }

    /// The ARN of a session of this role.
    pub fn session_arn(&self, session: &str) -> String {
        format!(
            "arn:aws:sts::{}:assumed-role/{}/{session}",
            self.account, self.name
        )
    }

    /// Who a session of this role is.
    pub fn session_identity(&self, session: &str) -> Identity {
        Identity {
            account: self.account.clone(),
            name: format!("{}/{session}", self.name),
            arn: self.session_arn(session),
            policies: self.policies.clone(),
            rate: self.rate,
        }
    }
}

/// One parsed, validated access file.
#[derive(Debug, Clone, Default)]
pub struct Access {
    keys: HashMap<String, Key>,
    shares: Vec<Share>,
    roles: HashMap<String, Role>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    keys: Vec<KeyEntry>,
    #[serde(default)]
    shares: Vec<Share>,
    #[serde(default)]
    roles: Vec<RoleEntry>,
    rate_limit: Option<RateEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleEntry {
    name: String,
    account: String,
    trusted: Vec<String>,
    external_id: Option<String>,
    #[serde(default)]
    policy_files: Vec<PathBuf>,
    #[serde(default)]
    policies: Vec<String>,
    max_session_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    access_key_id: String,
    secret_access_key: String,
    account: String,
    principal: String,
    #[serde(default)]
    policy_files: Vec<PathBuf>,
    #[serde(default)]
    policies: Vec<String>,
    requests_per_second: Option<f64>,
    burst: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateEntry {
    requests_per_second: f64,
    burst: Option<f64>,
}

fn check_account(account: &str, what: &str) -> anyhow::Result<()> {
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        anyhow::bail!("{what}: account {account:?} is not 12 digits");
    }
    Ok(())
}

fn rate(per_second: f64, burst: Option<f64>, what: &str) -> anyhow::Result<Rate> {
    if !(per_second.is_finite() && per_second > 0.0) {
        anyhow::bail!("{what}: requests_per_second must be a positive number, got {per_second}");
    }
    let burst = burst.unwrap_or(per_second.max(1.0));
    if !(burst.is_finite() && burst >= 1.0) {
        anyhow::bail!("{what}: burst must be at least 1, got {burst}");
    }
    Ok(Rate { per_second, burst })
}

impl Access {
    /// Parses an access file's text; relative policy files are read from `base`.
    pub fn parse(text: &str, base: &Path) -> anyhow::Result<Access> {
        let file: File = toml::from_str(text)?;
        let default_rate = file
            .rate_limit
            .map(|r| rate(r.requests_per_second, r.burst, "[rate_limit]"))
            .transpose()?;
        let mut keys = HashMap::new();
        for (i, entry) in file.keys.into_iter().enumerate() {
            let what = format!("keys[{i}] ({})", entry.access_key_id);
            if entry.access_key_id.len() < 3
                || !entry
                    .access_key_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric())
            {
                anyhow::bail!("{what}: access_key_id must be 3 or more letters and digits");
            }
            if entry.secret_access_key.is_empty() {
                anyhow::bail!("{what}: secret_access_key must not be empty");
            }
            if entry.secret_access_key.len() < 16 {
                tracing::warn!(key = %entry.access_key_id,
                    "secret_access_key is shorter than 16 characters: fine for a laptop, guessable on a network");
            }
            check_account(&entry.account, &what)?;
            if entry.principal.is_empty()
                || !entry
                    .principal
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
            {
                anyhow::bail!(
                    "{what}: principal {:?} is not an IAM user name",
                    entry.principal
                );
            }
            let policies = load_policies(&entry.policy_files, &entry.policies, base, &what)?;
            let identity = Identity {
                arn: format!("arn:aws:iam::{}:user/{}", entry.account, entry.principal),
                account: entry.account,
                name: entry.principal,
                policies,
                rate: match entry.requests_per_second {
                    Some(rps) => Some(rate(rps, entry.burst, &what)?),
                    None => default_rate,
                },
            };
            let key = Key {
                secret: entry.secret_access_key,
                identity: Arc::new(identity),
            };
            if keys.insert(entry.access_key_id.clone(), key).is_some() {
                anyhow::bail!("{what}: access_key_id is listed twice");
            }
        }
        for (i, share) in file.shares.iter().enumerate() {
            let what = format!("shares[{i}] ({})", share.mesh);
            check_account(&share.owner, &what)?;
            for c in &share.consumers {
                check_account(c, &what)?;
                if *c == share.owner {
                    anyhow::bail!("{what}: the owner {c} cannot be a consumer of its own mesh");
                }
            }
        }
        let mut roles = HashMap::new();
        for (i, entry) in file.roles.into_iter().enumerate() {
            let what = format!("roles[{i}] ({})", entry.name);
            check_account(&entry.account, &what)?;
            if entry.name.is_empty()
                || !entry
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
            {
                anyhow::bail!("{what}: name {:?} is not an IAM role name", entry.name);
            }
            for t in &entry.trusted {
                let account_like = t.len() == 12 && t.bytes().all(|b| b.is_ascii_digit());
                if !account_like
                    && !t.starts_with("arn:aws:iam::")
                    && !t.starts_with("arn:aws:sts::")
                {
                    anyhow::bail!(
                        "{what}: trusted {t:?} is neither a 12-digit account nor a principal ARN"
                    );
                }
            }
            let max = entry.max_session_seconds.unwrap_or(3600);
            if !(900..=43_200).contains(&max) {
                anyhow::bail!("{what}: max_session_seconds must be from 900 to 43200, got {max}");
            }
            let role = Role {
                arn: format!("arn:aws:iam::{}:role/{}", entry.account, entry.name),
                policies: load_policies(&entry.policy_files, &entry.policies, base, &what)?,
                name: entry.name,
                account: entry.account,
                trusted: entry.trusted,
                external_id: entry.external_id,
                max_session_secs: max,
                rate: default_rate,
            };
            if roles.insert(role.arn.clone(), role).is_some() {
                anyhow::bail!("{what}: the role is listed twice");
            }
        }
        Ok(Access {
            keys,
            shares: file.shares,
            roles,
        })
    }

    /// The role with this ARN.
    pub fn role(&self, arn: &str) -> Option<&Role> {
        self.roles.get(arn)
    }

    /// Reads and parses an access file.
    pub fn load(path: &Path) -> anyhow::Result<Access> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading access file {}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Access::parse(&text, base)
            .map_err(|e| anyhow::anyhow!("access file {}: {e:#}", path.display()))
    }

    /// The long-term key with this id.
    pub fn key(&self, access_key_id: &str) -> Option<&Key> {
        self.keys.get(access_key_id)
    }

    /// How many keys the file holds.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Whether `owner`'s mesh `mesh` is shared with `account`.
    pub fn is_shared(&self, owner: &str, mesh: &str, account: &str) -> bool {
        self.shares
            .iter()
            .any(|s| s.owner == owner && s.mesh == mesh && s.consumers.iter().any(|c| c == account))
    }

    /// The meshes other accounts share with `account`, as (owner, mesh name).
    pub fn shared_with(&self, account: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .shares
            .iter()
            .filter(|s| s.consumers.iter().any(|c| c == account))
            .map(|s| (s.owner.clone(), s.mesh.clone()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Accounts that have keys, with how many keys each.
    pub fn accounts(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for key in self.keys.values() {
            *out.entry(key.identity.account.clone()).or_insert(0) += 1;
        }
        out
    }
}

/// The policies listed in files and inline; `None` when there are none at all.
fn load_policies(
    files: &[PathBuf],
    inline: &[String],
    base: &Path,
    what: &str,
) -> anyhow::Result<Option<Arc<[Policy]>>> {
    let mut policies = Vec::new();
    for path in files {
        let path = base.join(path);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("{what}: reading {}: {e}", path.display()))?;
        policies.push(parse_policy(&text, &format!("{what}: {}", path.display()))?);
    }
    for (j, text) in inline.iter().enumerate() {
        policies.push(parse_policy(text, &format!("{what}: policies[{j}]"))?);
    }
    Ok((!files.is_empty() || !inline.is_empty()).then(|| policies.into()))
}

fn parse_policy(text: &str, what: &str) -> anyhow::Result<Policy> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| anyhow::anyhow!("{what}: not JSON: {e}"))?;
    Policy::parse(&value).map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

/// The access file in force, reloaded when it changes.
#[derive(Debug)]
pub struct AccessHandle {
    path: Option<PathBuf>,
    current: RwLock<(Arc<Access>, Option<Stamp>)>,
}

/// What identifies a version of a file on disk.
pub(crate) type Stamp = (SystemTime, u64);

/// The modification time and size of `path`, if it can be read.
pub(crate) fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl AccessHandle {
    /// Loads `path`; fails if it does not parse.
    pub fn open(path: &Path) -> anyhow::Result<AccessHandle> {
        let access = Access::load(path)?;
        warn_if_readable_by_others(path);
        Ok(AccessHandle {
            path: Some(path.to_owned()),
            current: RwLock::new((Arc::new(access), stamp(path))),
        })
    }

    /// A fixed access set, not backed by a file (for embedding and tests).
    pub fn fixed(access: Access) -> AccessHandle {
        AccessHandle {
            path: None,
            current: RwLock::new((Arc::new(access), None)),
        }
    }

    /// The access set in force now.
    pub fn current(&self) -> Arc<Access> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    /// Re-reads the file if `force` or if it changed on disk since the last load. A file that
    /// does not parse is logged and the previous version stays in force.
    pub fn reload(&self, force: bool) {
        let Some(path) = &self.path else { return };
        let now = stamp(path);
        {
            let current = self.current.read().unwrap_or_else(|p| p.into_inner());
            if !force && current.1 == now {
                return;
            }
        }
        match Access::load(path) {
            Ok(access) => {
                tracing::info!(path = %path.display(), keys = access.key_count(), "access file reloaded");
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = (Arc::new(access), now);
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "access file not reloaded; the previous version stays in force");
                // Remember the stamp so a broken file is reported once, not every second.
                self.current.write().unwrap_or_else(|p| p.into_inner()).1 = now;
            }
        }
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "the access file holds secret keys but is readable by other users; chmod 600 it");
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[keys]]
access_key_id = "AKIDOWNER"
secret_access_key = "owner-secret"
account = "111111111111"
principal = "owner"

[[keys]]
access_key_id = "AKIDREADER"
secret_access_key = "reader-secret"
account = "111111111111"
principal = "reader"
policies = ['{"Statement": {"Effect": "Allow", "Action": "appmesh:Describe*", "Resource": "*"}}']
requests_per_second = 5

[[shares]]
owner = "111111111111"
mesh = "apps"
consumers = ["222222222222"]

[rate_limit]
requests_per_second = 50
burst = 100
"#;

    #[test]
    fn parses_keys_policies_shares_and_rates() {
        let a = Access::parse(FILE, Path::new(".")).expect("valid");
        let owner = &a.key("AKIDOWNER").expect("key").identity;
        assert_eq!(owner.arn, "arn:aws:iam::111111111111:user/owner");
        assert!(owner.policies.is_none());
        assert_eq!(
            owner.rate,
            Some(Rate {
                per_second: 50.0,
                burst: 100.0
            })
        );
        let reader = &a.key("AKIDREADER").expect("key").identity;
        assert_eq!(reader.policies.as_ref().map(|p| p.len()), Some(1));
        assert_eq!(
            reader.rate,
            Some(Rate {
                per_second: 5.0,
                burst: 5.0
            })
        );
        assert!(a.is_shared("111111111111", "apps", "222222222222"));
        assert!(!a.is_shared("111111111111", "apps", "333333333333"));
        assert_eq!(
            a.shared_with("222222222222"),
            vec![("111111111111".to_owned(), "apps".to_owned())]
        );
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let cases = [
            ("[[keys]]\naccess_key_id='A'\nsecret_access_key='12345678'\naccount='1'\nprincipal='p'", "3 or more"),
            ("[[keys]]\naccess_key_id='AKID'\nsecret_access_key='12345678'\naccount='1'\nprincipal='p'", "12 digits"),
            ("[[keys]]\naccess_key_id='AKID'\nsecret_access_key=''\naccount='111111111111'\nprincipal='p'", "must not be empty"),
            ("[[keys]]\naccess_key_id='AKID'\nsecret_access_key='12345678'\naccount='111111111111'\nprincipal='p'\npolicies=['{']", "not JSON"),
            ("[[shares]]\nowner='111111111111'\nmesh='m'\nconsumers=['111111111111']", "own mesh"),
            ("[keys]", "invalid type"),
            ("surprise = 1", "unknown field"),
        ];
        for (text, want) in cases {
            let err = format!("{:#}", Access::parse(text, Path::new(".")).expect_err(text));
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
    }
}
