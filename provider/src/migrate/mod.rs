//! `terraform-provider-appmesh migrate`: moves a Terraform workspace written for the AWS
//! provider's `aws_appmesh_*` resources onto this provider and an App Mesh control plane.
//!
//! 1. Reads the old state (`terraform state pull`, or a `.tfstate` / `terraform show -json`
//!    file) and finds every `aws_appmesh_*` object in it, legacy shapes included.
//! 2. Checks that every object converts and that the control plane answers, before
//!    changing anything.
//! 3. Recreates the objects in the control plane, in dependency order, with the same names,
//!    specs and tags; objects that already exist are left alone (a rerun changes nothing).
//! 4. Rewrites the configuration: `aws_appmesh_*` type names and references become
//!    `appmesh_*`, every other byte stays; each module that uses them gains the
//!    `appmesh` provider requirement, the root module a `provider "appmesh"` block (with the
//!    AWS provider's `default_tags` and `ignore_tags`) and one `import {}` block per object.
//! 5. Removes the `aws_appmesh_*` entries from the state with `terraform state rm` (which
//!    keeps a backup), so that the next `terraform plan` imports every object with no
//!    changes: 0 to add, 0 to change, 0 to destroy.
//!
//! Why imports rather than `moved` blocks: Terraform refuses to plan a state that names a
//! provider it cannot load, and a `moved` block from `aws_appmesh_*` needs the AWS provider
//! installed. `terraform state rm` and `import {}` work without it.

pub mod hcl;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use appmesh_model::{rules, Kind, Spec};
use http::Method;
use serde_json::Value as Json;

use crate::client::{collection_path, create_body, ApiError};
use crate::provider::{connect, Configured};
use crate::read;
use hcl::{Item, Tok};
use state::{desired, old_instances, Desired, OldInstance, AWS_PREFIX};

/// The source address of this provider.
pub const SOURCE: &str = "appmesh-community/appmesh";
/// The file with the provider block the command adds to the root module.
pub const PROVIDER_FILE: &str = "appmesh.tf";
/// The file with the provider requirement the command adds to a child module.
pub const VERSIONS_FILE: &str = "appmesh_versions.tf";
/// The file with the `import {}` blocks.
pub const IMPORTS_FILE: &str = "appmesh_migration.tf";

const USAGE: &str = "\
Moves a Terraform workspace written for the AWS provider's aws_appmesh_* resources onto
terraform-provider-appmesh and an App Mesh control plane.

Usage: terraform-provider-appmesh migrate [OPTIONS] [WORKSPACE]

  WORKSPACE            the root module's directory (default: the current directory)

Options:
  --endpoint URL       the control plane (default: AWS_ENDPOINT_URL_APP_MESH, AWS_ENDPOINT_URL)
  --region NAME        the region ARNs name (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's)
  --profile NAME       the shared config/credentials profile for signing requests
  --state FILE         the old state: a .tfstate file or `terraform show -json` output.
                       Default: `terraform state pull` in WORKSPACE; the aws_appmesh_*
                       entries are then removed with `terraform state rm` at the end.
                       With --state, the command prints that step instead of running it.
  --remove-aws-provider
                       once nothing in the configuration uses the AWS provider, remove its
                       provider blocks and its required_providers entry as well
  --moved              hand the state over with `moved` blocks (Terraform 1.8+) instead of
                       `import` blocks and `terraform state rm`; needs the AWS provider
                       installed, since the old state names it
  --dry-run            change nothing; show what would be done
  -h, --help           this text

Credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the shared files, as for
the provider. The terraform CLI is taken from $TERRAFORM, else PATH.
";

/// What the command was asked to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// The root module.
    pub workspace: PathBuf,
    /// The control plane's URL.
    pub endpoint: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// The profile.
    pub profile: Option<String>,
    /// The old state, when given as a file.
    pub state: Option<PathBuf>,
    /// Change nothing.
    pub dry_run: bool,
    /// Remove `provider "aws"` and its requirement once nothing uses them.
    pub remove_aws_provider: bool,
    /// Hand the state over with `moved` blocks instead of imports.
    pub moved: bool,
}

impl Args {
    /// Parses the arguments after `migrate`; `Ok(None)` for `--help`.
    pub fn parse(args: &[String]) -> Result<Option<Args>, String> {
        let mut out = Args::default();
        let mut workspace = None;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
                _ => (arg.as_str(), None),
            };
            let mut value = |name: &str| {
                inline
                    .clone()
                    .or_else(|| it.next().cloned())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match flag {
                "-h" | "--help" => return Ok(None),
                "--endpoint" => out.endpoint = Some(value(flag)?),
                "--region" => out.region = Some(value(flag)?),
                "--profile" => out.profile = Some(value(flag)?),
                "--state" => out.state = Some(PathBuf::from(value(flag)?)),
                "--dry-run" => out.dry_run = true,
                "--remove-aws-provider" => out.remove_aws_provider = true,
                "--moved" => out.moved = true,
                f if f.starts_with('-') => return Err(format!("unknown option {f}")),
                _ if workspace.is_none() => workspace = Some(PathBuf::from(arg)),
                _ => return Err(format!("unexpected argument {arg:?}")),
            }
        }
        out.workspace = workspace.unwrap_or_else(|| PathBuf::from("."));
        Ok(Some(out))
    }
}

/// Runs `migrate` with the arguments after the subcommand; the process exit code.
pub async fn main(args: &[String]) -> i32 {
    let args = match Args::parse(args) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return 0;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return 2;
        }
    };
    match run(&args).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn terraform() -> String {
    std::env::var("TERRAFORM").unwrap_or_else(|_| "terraform".to_owned())
}

/// Runs `terraform ARGS` in `dir`; its stdout, or an error with its stderr.
fn run_terraform(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(terraform())
        .args(args)
        .current_dir(dir)
        .env("TF_IN_AUTOMATION", "1")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", terraform()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "terraform {} failed:\n{}",
            args.join(" "),
            plain(&String::from_utf8_lossy(&out.stderr)).trim()
        ))
    }
}

/// Terraform's output without its colours and diagnostic box.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out.lines()
        .map(|l| l.trim_start_matches(['│', '╷', '╵']).trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The order objects can be created in: what a route, a virtual service or a gateway route
/// refers to exists before it.
fn rank(kind: Kind) -> u8 {
    match kind {
        Kind::Mesh => 0,
        Kind::VirtualNode | Kind::VirtualRouter | Kind::VirtualGateway => 1,
        Kind::Route | Kind::VirtualService => 2,
        Kind::GatewayRoute => 3,
    }
}

/// The whole command.
pub async fn run(args: &Args) -> Result<(), String> {
    let ws = &args.workspace;
    if !ws.is_dir() {
        return Err(format!("{} is not a directory", ws.display()));
    }
    let pulled = args.state.is_none();
    let text = match &args.state {
        Some(file) => {
            println!("==> reading the state from {}", file.display());
            std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?
        }
        None => {
            println!(
                "==> reading the state (terraform state pull in {})",
                ws.display()
            );
            run_terraform(ws, &["state", "pull"])?
        }
    };
    let old = old_instances(&text).map_err(|e| e.to_string())?;
    let managed: Vec<&OldInstance> = old.iter().filter(|i| i.mode == "managed").collect();

    // Everything is checked before anything changes.
    let mut objects: Vec<(&OldInstance, Desired)> = Vec::new();
    let mut problems = Vec::new();
    for instance in &managed {
        match desired(instance) {
            Ok(d) => objects.push((instance, d)),
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "{} of the state's App Mesh resources cannot be migrated; nothing was changed:\n  {}",
            problems.len(),
            problems.join("\n  ")
        ));
    }
    objects.sort_by_key(|(_, d)| (rank(d.def.kind), d.key.to_string()));
    println!("    {}", census(&objects));

    let rewrite = plan_rewrite(ws, &objects, args)?;

    let endpoint = args.endpoint.clone().unwrap_or_default();
    let mut settings: Vec<(&str, &str)> = Vec::new();
    for (name, value) in [
        ("endpoint", &args.endpoint),
        ("region", &args.region),
        ("profile", &args.profile),
    ] {
        if let Some(v) = value {
            settings.push((name, v.as_str()));
        }
    }
    let configured = connect(&settings).await?;
    let shown = if endpoint.is_empty() {
        "the control plane".to_owned()
    } else {
        endpoint.clone()
    };
    configured
        .client
        .call(Method::GET, "/v20190125/meshes", &[("limit", "1")], None)
        .await
        .map_err(|e| format!("{e}; nothing was changed"))?;
    println!("==> {shown} answers");

    if args.dry_run {
        println!("==> dry run: would recreate {} objects", objects.len());
        for (_, d) in &objects {
            println!("    {} {}", d.def.kind, d.key);
        }
        for (path, (_, what)) in &rewrite.files {
            println!("    would write {} ({what})", path.display());
        }
        for path in &rewrite.removals {
            println!("    would remove {}", path.display());
        }
        return Ok(());
    }

    println!("==> recreating the objects in dependency order");
    let mut notes = Vec::new();
    for (instance, d) in &objects {
        let outcome = recreate(&configured, d).await?;
        println!("    {outcome:<10} {} {}", d.def.kind, d.key);
        for note in &d.notes {
            notes.push(format!("{}: {note}", instance.address));
        }
        if outcome == "differs" {
            notes.push(format!(
                "{}: {} {} already exists with another spec; it was left as it is",
                instance.address, d.def.kind, d.key
            ));
        }
    }

    println!("==> rewriting the configuration");
    for (path, (content, what)) in &rewrite.files {
        let shown = path.strip_prefix(ws).unwrap_or(path);
        let unchanged = std::fs::read_to_string(path).is_ok_and(|c| &c == content);
        if unchanged {
            println!("    unchanged  {}", shown.display());
            continue;
        }
        std::fs::write(path, content).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("    wrote      {} ({what})", shown.display());
    }
    for path in &rewrite.removals {
        let shown = path.strip_prefix(ws).unwrap_or(path);
        std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "    removed    {} (it held only provider \"aws\")",
            shown.display()
        );
    }
    for warning in &rewrite.warnings {
        notes.push(warning.clone());
    }

    let addresses: Vec<&str> = old.iter().map(|i| i.address.as_str()).collect();
    if args.moved {
        for note in &notes {
            println!("note: {note}");
        }
        println!(
            "==> done. `terraform plan` should now move {} resources: 0 to add, 0 to change, 0 to destroy.",
            objects.len()
        );
        return Ok(());
    }
    if pulled {
        println!("==> removing the aws_appmesh_* entries from the state (terraform state rm)");
        let mut rm = vec!["state", "rm"];
        rm.extend(addresses.iter().copied());
        run_terraform(ws, &rm)?;
    } else {
        println!("==> remove the aws_appmesh_* entries from the workspace's state with:");
        let quoted: Vec<String> = addresses.iter().map(|a| shell_quote(a)).collect();
        println!("    terraform state rm {}", quoted.join(" "));
    }
    for note in &notes {
        println!("note: {note}");
    }
    println!(
        "==> done. `terraform plan` should now import {} objects: 0 to add, 0 to change, 0 to destroy.",
        objects.len()
    );
    Ok(())
}

fn census(objects: &[(&OldInstance, Desired)]) -> String {
    let mut counts: BTreeMap<u8, (Kind, usize)> = BTreeMap::new();
    for (_, d) in objects {
        counts
            .entry(rank(d.def.kind) * 10 + d.def.kind as u8)
            .or_insert((d.def.kind, 0))
            .1 += 1;
    }
    let parts: Vec<String> = counts
        .values()
        .map(|(kind, n)| {
            if *n == 1 {
                format!("1 {kind}")
            } else {
                format!("{n} {}", crate::schema::plural(*kind))
            }
        })
        .collect();
    format!("{} App Mesh objects: {}", objects.len(), parts.join(", "))
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Creates `d` unless it exists: `created`, `unchanged` (exists with this spec) or
/// `differs` (exists with another spec, left alone).
async fn recreate(configured: &Configured, d: &Desired) -> Result<&'static str, String> {
    let query: Vec<(&str, String)> = d
        .mesh_owner
        .iter()
        .map(|o| ("meshOwner", o.clone()))
        .collect();
    let fail = |e: ApiError| format!("creating {} {}: {e}", d.def.kind, d.key);
    if let Some(data) = read::describe(configured, &d.key, &query)
        .await
        .map_err(fail)?
    {
        return Ok(if same_spec(d, &data["spec"]) {
            "unchanged"
        } else {
            "differs"
        });
    }
    let body = create_body(&d.key, d.spec.clone(), &d.tags);
    let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
    configured
        .client
        .call(Method::PUT, &collection_path(&d.key), &q, Some(&body))
        .await
        .map_err(fail)?;
    Ok("created")
}

/// Whether the stored spec is what creating `d` would store.
fn same_spec(d: &Desired, stored: &Json) -> bool {
    let path = appmesh_model::Path::root().key("spec");
    match Spec::parse(d.def.kind, &d.spec, &path) {
        Ok(mut spec) => {
            rules::fill_service_defaults(&mut spec);
            sorted(&spec.to_value()) == sorted(stored)
        }
        Err(_) => false,
    }
}

/// A JSON value with every array sorted, so stored sets compare regardless of order.
fn sorted(v: &Json) -> Json {
    match v {
        Json::Array(items) => {
            let mut items: Vec<Json> = items.iter().map(sorted).collect();
            items.sort_by_key(Json::to_string);
            Json::Array(items)
        }
        Json::Object(o) => Json::Object(o.iter().map(|(k, v)| (k.clone(), sorted(v))).collect()),
        other => other.clone(),
    }
}

/// The files the rewrite writes (path → content, what changed) and what a user must do
/// by hand.
#[derive(Debug, Default)]
pub struct Rewrite {
    /// Every file to write, with a few words on what changes.
    pub files: BTreeMap<PathBuf, (String, String)>,
    /// Files left with nothing in them (only `provider "aws"`, removed).
    pub removals: Vec<PathBuf>,
    /// Warnings.
    pub warnings: Vec<String>,
}

/// The `.tf` files of a directory tree, without `.terraform/` and hidden directories.
fn tf_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if !name.starts_with('.') {
                tf_files(&path, out)?;
            }
        } else if name.ends_with(".tf") {
            out.push(path);
        }
    }
    Ok(())
}

/// What `aws_appmesh_*` types become, and how many were renamed in a file.
pub struct Renamed {
    /// The new text.
    pub text: String,
    /// Type names renamed.
    pub count: usize,
}

/// Renames `aws_appmesh_<kind>` to `appmesh_<kind>` in one file: resource and data block
/// type labels, and references (`aws_appmesh_mesh.x.id`, `data.aws_appmesh_mesh.x`,
/// addresses in `moved`/`import`/`removed` blocks, `depends_on`), inside interpolations too.
/// Comments and string literals are left alone.
pub fn rename_types(src: &str) -> Result<Renamed, hcl::SyntaxError> {
    let tokens = hcl::lex(src)?;
    let text = |t: &hcl::Token| &src[t.span.clone()];
    let is_type = |s: &str| state::target(s).is_some();
    let significant: Vec<&hcl::Token> = tokens
        .iter()
        .filter(|t| t.kind != Tok::Comment && t.kind != Tok::Newline)
        .collect();
    let mut edits = Vec::new();
    for (i, t) in significant.iter().enumerate() {
        let next = significant.get(i + 1).copied();
        match t.kind {
            Tok::Ident
                if is_type(text(t))
                    && next.is_some_and(|n| n.kind == Tok::Punct && text(n) == ".") =>
            {
                edits.push((
                    t.span.start..t.span.start + AWS_PREFIX.len(),
                    "appmesh_".to_owned(),
                ));
            }
            Tok::Ident if matches!(text(t), "resource" | "data") => {
                let label = (
                    significant.get(i + 1),
                    significant.get(i + 2),
                    significant.get(i + 3),
                );
                if let (Some(q1), Some(lit), Some(q2)) = label {
                    if q1.kind == Tok::Quote
                        && lit.kind == Tok::Literal
                        && q2.kind == Tok::Quote
                        && is_type(text(lit))
                    {
                        edits.push((
                            lit.span.start..lit.span.start + AWS_PREFIX.len(),
                            "appmesh_".to_owned(),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    let count = edits.len();
    Ok(Renamed {
        text: hcl::splice(src, edits),
        count,
    })
}

fn plan_rewrite(
    ws: &Path,
    objects: &[(&OldInstance, Desired)],
    args: &Args,
) -> Result<Rewrite, String> {
    let mut files = Vec::new();
    tf_files(ws, &mut files)?;
    let mut rewrite = Rewrite::default();
    // Every file's text as it is, and as it becomes; with what changed in it.
    let mut originals: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut texts: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut changes: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    // Module directories whose configuration uses the provider.
    let mut users: BTreeSet<PathBuf> = BTreeSet::new();
    for path in &files {
        let src = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let renamed = rename_types(&src)
            .map_err(|e| format!("{}: {e}; nothing was changed", path.display()))?;
        let dir = path.parent().unwrap_or(ws).to_path_buf();
        if renamed.count > 0 || src.contains("appmesh_") {
            users.insert(dir);
        }
        if renamed.count > 0 {
            changes
                .entry(path.clone())
                .or_default()
                .push(match renamed.count {
                    1 => "1 type name".to_owned(),
                    n => format!("{n} type names"),
                });
        }
        texts.insert(path.clone(), renamed.text);
        originals.insert(path.clone(), src);
    }
    users.insert(ws.to_path_buf());

    let generated = |p: &Path| {
        matches!(
            p.file_name().and_then(|n| n.to_str()),
            Some(PROVIDER_FILE | IMPORTS_FILE)
        )
    };
    let mut new_files: BTreeMap<PathBuf, (String, String)> = BTreeMap::new();
    for dir in &users {
        // The module's own files (what this command wrote before is left out, so a rerun
        // plans the same files).
        let own = |texts: &BTreeMap<PathBuf, String>| -> Vec<(PathBuf, String)> {
            texts
                .iter()
                .filter(|(p, _)| p.parent() == Some(dir.as_path()) && !generated(p))
                .map(|(p, t)| (p.clone(), t.clone()))
                .collect()
        };
        let in_dir = own(&texts);
        let refs: Vec<(&PathBuf, &String)> = in_dir.iter().map(|(p, t)| (p, t)).collect();
        let root = dir == ws;
        let requirement = requirement_edit(&refs)?;
        let needs_requirement = matches!(requirement, Requirement::Missing);
        match requirement {
            Requirement::Present => {}
            Requirement::Insert(path, text) => {
                texts.insert(path.clone(), text);
                changes
                    .entry(path)
                    .or_default()
                    .push("the appmesh provider requirement".to_owned());
            }
            // What an earlier run wrote stays as it is (the user may have edited it).
            Requirement::Missing if !root && !dir.join(VERSIONS_FILE).exists() => {
                new_files.insert(
                    dir.join(VERSIONS_FILE),
                    (
                        versions_file(),
                        "the appmesh provider requirement".to_owned(),
                    ),
                );
            }
            Requirement::Missing if !root => {}
            Requirement::Missing => {}
        }
        let configured = in_dir
            .iter()
            .any(|(_, t)| provider_block(t, "appmesh").is_some())
            || dir.join(PROVIDER_FILE).exists();
        if root && !configured {
            let aws = in_dir
                .iter()
                .find_map(|(_, t)| provider_block(t, "aws").map(|b| (t.clone(), b)));
            let content = provider_file(args, needs_requirement, aws.as_ref());
            new_files.insert(
                dir.join(PROVIDER_FILE),
                (content, "provider \"appmesh\"".to_owned()),
            );
        }
    }

    if args.remove_aws_provider {
        let users_of_aws: Vec<String> = texts
            .iter()
            .flat_map(|(p, t)| {
                aws_uses(t)
                    .into_iter()
                    .map(move |u| format!("{}: {u}", p.strip_prefix(ws).unwrap_or(p).display()))
            })
            .collect();
        if !users_of_aws.is_empty() {
            return Err(format!(
                "--remove-aws-provider: the configuration still uses the AWS provider; nothing was changed:\n  {}",
                users_of_aws.join("\n  ")
            ));
        }
        for (path, text) in texts.iter_mut() {
            let (new, removed) = without_aws_provider(text)
                .map_err(|e| format!("{}: {e}; nothing was changed", path.display()))?;
            if removed > 0 {
                *text = new;
                changes
                    .entry(path.clone())
                    .or_default()
                    .push("provider \"aws\" removed".to_owned());
            }
        }
    }

    for (path, text) in &texts {
        if Some(text) == originals.get(path) {
            continue;
        }
        let what = changes.remove(path).unwrap_or_default().join(", ");
        if text.trim().is_empty() {
            rewrite.removals.push(path.clone());
        } else {
            rewrite.files.insert(path.clone(), (text.clone(), what));
        }
    }
    rewrite.files.extend(new_files);
    rewrite.files.insert(
        ws.join(IMPORTS_FILE),
        (
            if args.moved {
                moved_file(objects)
            } else {
                imports_file(objects)
            },
            format!(
                "{} {} blocks",
                objects.len(),
                if args.moved { "moved" } else { "import" }
            ),
        ),
    );
    for (path, text) in &texts {
        for warning in provider_meta_arguments(text) {
            rewrite.warnings.push(format!(
                "{}: {warning}",
                path.strip_prefix(ws).unwrap_or(path).display()
            ));
        }
    }
    if !args.remove_aws_provider && texts.values().all(|t| aws_uses(t).is_empty()) {
        let configured = texts
            .values()
            .any(|t| provider_block(t, "aws").is_some() || t.contains("hashicorp/aws"));
        if configured {
            rewrite.warnings.push(
                "nothing in the configuration uses the AWS provider any more: rerun with --remove-aws-provider (or delete provider \"aws\" and its requirement) if this workspace should not need it".to_owned(),
            );
        }
    }
    Ok(rewrite)
}

/// The 1-based line of byte `at`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

/// What in a file still uses the AWS provider: `aws_*` resources and data sources, and
/// `provider = aws...` arguments.
fn aws_uses(text: &str) -> Vec<String> {
    let Ok(items) = hcl::parse(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in &items {
        let Item::Block(b) = item else { continue };
        let line = line_of(text, b.span.start);
        let label = b.labels.first().map_or("", |l| l.0.as_str());
        if matches!(b.kind.as_str(), "resource" | "data") && label.starts_with("aws_") {
            out.push(format!("line {line}: {} {label:?}", b.kind));
        }
        if let Some(v) = b.attribute("provider") {
            if text[v].starts_with("aws") {
                out.push(format!(
                    "line {line}: {} {label:?} sets provider = aws",
                    b.kind
                ));
            }
        }
        let passes_aws = b
            .attribute("providers")
            .is_some_and(|v| text[v].contains("aws"));
        if b.kind == "module" && passes_aws {
            out.push(format!(
                "line {line}: module {label:?} passes providers = {{ aws ... }}"
            ));
        }
    }
    out
}

/// The text without its `provider "aws"` blocks and `aws` provider requirement, and how
/// many were removed.
fn without_aws_provider(text: &str) -> Result<(String, usize), hcl::SyntaxError> {
    let items = hcl::parse(text)?;
    let mut cuts = Vec::new();
    for item in &items {
        let Item::Block(b) = item else { continue };
        if b.kind == "provider" && b.labels.first().is_some_and(|(l, _)| l == "aws") {
            cuts.push(whole_lines(text, b.span.clone()));
        }
        if b.kind == "terraform" {
            for rp in b.blocks("required_providers") {
                for entry in &rp.body {
                    if let Item::Attribute { name, span, .. } = entry {
                        if name == "aws" {
                            cuts.push(whole_lines(text, span.clone()));
                        }
                    }
                }
            }
        }
    }
    let n = cuts.len();
    Ok((
        hcl::splice(text, cuts.into_iter().map(|r| (r, String::new())).collect()),
        n,
    ))
}

/// `range` widened to the whole lines it covers, with their line break, and one blank line
/// after it when it stood between blank lines (so no double blank line is left).
fn whole_lines(text: &str, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let mut end = text[range.end..]
        .find('\n')
        .map_or(text.len(), |i| range.end + i + 1);
    let blank_before = start == 0 || text[..start].ends_with("\n\n");
    let rest = &text[end..];
    if blank_before && (rest.starts_with('\n') || rest.starts_with("\r\n")) {
        end += if rest.starts_with('\n') { 1 } else { 2 };
    }
    start..end
}

enum Requirement {
    /// The module already requires the provider.
    Present,
    /// This file's `required_providers` block gains the entry: its new text.
    Insert(PathBuf, String),
    /// The module has no `required_providers` block.
    Missing,
}

/// How a module (its files, already renamed) comes to require the `appmesh` provider.
fn requirement_edit(files: &[(&PathBuf, &String)]) -> Result<Requirement, String> {
    for (path, text) in files {
        let items = hcl::parse(text).map_err(|e| format!("{}: {e}", path.display()))?;
        for item in &items {
            let Item::Block(tf) = item else { continue };
            if tf.kind != "terraform" {
                continue;
            }
            if let Some(rp) = tf.blocks("required_providers").next() {
                if rp.attribute("appmesh").is_some() {
                    return Ok(Requirement::Present);
                }
                let crlf = text.contains("\r\n");
                let nl = if crlf { "\r\n" } else { "\n" };
                // Indent like the block's first entry, else two more than the block.
                let line_start = text[..rp.span.start].rfind('\n').map_or(0, |i| i + 1);
                let block_indent = &text[line_start..rp.span.start];
                let indent = rp
                    .body
                    .first()
                    .map(|item| {
                        let start = match item {
                            Item::Attribute { span, .. } => span.start,
                            Item::Block(b) => b.span.start,
                        };
                        let ls = text[..start].rfind('\n').map_or(0, |i| i + 1);
                        text[ls..start].to_owned()
                    })
                    .unwrap_or_else(|| format!("{block_indent}  "));
                let after_brace = text[rp.body_start..]
                    .find('\n')
                    .map_or(rp.body_start, |i| rp.body_start + i + 1);
                let entry = format!(
                    "{indent}appmesh = {{{nl}{indent}  source = \"{SOURCE}\"{nl}{indent}}}{nl}"
                );
                let new = hcl::splice(text, vec![(after_brace..after_brace, entry)]);
                return Ok(Requirement::Insert((*path).clone(), new));
            }
        }
    }
    Ok(Requirement::Missing)
}

/// A top-level `provider "<name>"` block without an alias.
fn provider_block(text: &str, name: &str) -> Option<hcl::Block> {
    hcl::parse(text)
        .ok()?
        .into_iter()
        .find_map(|item| match item {
            Item::Block(b)
                if b.kind == "provider"
                    && b.labels.first().is_some_and(|(l, _)| l == name)
                    && b.attribute("alias").is_none() =>
            {
                Some(b)
            }
            _ => None,
        })
}

fn versions_file() -> String {
    format!(
        "# Added by `terraform-provider-appmesh migrate`: this module's App Mesh resources come\n\
         # from the appmesh provider.\n\
         terraform {{\n  required_providers {{\n    appmesh = {{\n      source = \"{SOURCE}\"\n    }}\n  }}\n}}\n"
    )
}

fn provider_file(args: &Args, requirement: bool, aws: Option<&(String, hcl::Block)>) -> String {
    let mut out = String::from(
        "# Added by `terraform-provider-appmesh migrate`: the provider that manages this\n\
         # configuration's App Mesh resources. Credentials come from the environment or the\n\
         # shared AWS files, as before.\n",
    );
    if requirement {
        out.push_str(&format!(
            "terraform {{\n  required_providers {{\n    appmesh = {{\n      source = \"{SOURCE}\"\n    }}\n  }}\n}}\n\n"
        ));
    }
    out.push_str("provider \"appmesh\" {\n");
    let quote = |s: &str| Json::String(s.to_owned()).to_string();
    if let Some(endpoint) = &args.endpoint {
        out.push_str(&format!("  endpoint = {}\n", quote(endpoint)));
    }
    if let Some(region) = &args.region {
        out.push_str(&format!("  region   = {}\n", quote(region)));
    }
    if let Some(profile) = &args.profile {
        out.push_str(&format!("  profile  = {}\n", quote(profile)));
    }
    if let Some((text, block)) = aws {
        for kind in ["default_tags", "ignore_tags"] {
            if let Some(b) = block.blocks(kind).next() {
                out.push_str(&format!(
                    "\n  # As in provider \"aws\":\n  {}\n",
                    &text[b.span.clone()]
                ));
            }
        }
    }
    out.push_str("}\n");
    out
}

fn moved_file(objects: &[(&OldInstance, Desired)]) -> String {
    let mut out = String::from(
        "# Written by `terraform-provider-appmesh migrate --moved`: hands each aws_appmesh_*\n\
         # resource's state to this provider (Terraform 1.8 or later, with the AWS provider still\n\
         # installed). Once applied, these blocks do nothing and can be deleted.\n",
    );
    for (instance, _) in objects {
        out.push_str(&format!(
            "\nmoved {{\n  from = {}\n  to   = {}\n}}\n",
            instance.address,
            instance.new_address()
        ));
    }
    out
}

fn imports_file(objects: &[(&OldInstance, Desired)]) -> String {
    let mut out = String::from(
        "# Written by `terraform-provider-appmesh migrate`: puts the objects it recreated in the\n\
         # control plane under this provider's management. Once applied, these blocks do nothing\n\
         # and can be deleted.\n",
    );
    for (instance, d) in objects {
        out.push_str(&format!(
            "\nimport {{\n  to = {}\n  id = {}\n}}\n",
            instance.new_address(),
            Json::String(d.import_id())
        ));
    }
    out
}

/// `provider = aws...` on an App Mesh resource: the alias must become an appmesh one.
fn provider_meta_arguments(text: &str) -> Vec<String> {
    let Ok(items) = hcl::parse(text) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Item::Block(b)
                if matches!(b.kind.as_str(), "resource" | "data")
                    && b.labels.first().is_some_and(|(l, _)| l.starts_with("appmesh_")) =>
            {
                let value = b.attribute("provider")?;
                let value = &text[value];
                value.starts_with("aws").then(|| {
                    let line = line_of(text, b.span.start);
                    format!(
                        "line {line}: {} {:?} uses `provider = {value}`; declare a `provider \"appmesh\"` with the same alias and point it there",
                        b.kind,
                        b.labels.iter().map(|l| l.0.as_str()).collect::<Vec<_>>().join(".")
                    )
                })
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_type_names_change() {
        let src = r#"# aws_appmesh_mesh.apps is the mesh   (a comment: untouched)
resource "aws_appmesh_mesh" "apps" {
  name = "apps"  # "aws_appmesh_mesh" here too
}

data "aws_appmesh_virtual_node" "b" {
  name      = "b"
  mesh_name = aws_appmesh_mesh.apps.id
}

output "x" {
  value       = "${aws_appmesh_mesh.apps.arn}/${data.aws_appmesh_virtual_node.b.name}"
  description = "aws_appmesh_mesh stays in plain strings"
  depends_on  = [aws_appmesh_mesh.apps]
}

moved {
  from = module.old.aws_appmesh_route.r
  to   = module.new.aws_appmesh_route.r
}
"#;
        let out = rename_types(src).unwrap();
        assert_eq!(out.count, 8);
        let expected = src
            .replace("\"aws_appmesh_mesh\" \"apps\"", "\"appmesh_mesh\" \"apps\"")
            .replace(
                "\"aws_appmesh_virtual_node\" \"b\"",
                "\"appmesh_virtual_node\" \"b\"",
            )
            .replace("= aws_appmesh_mesh.apps.id", "= appmesh_mesh.apps.id")
            .replace("${aws_appmesh_mesh.apps.arn}", "${appmesh_mesh.apps.arn}")
            .replace("data.aws_appmesh_virtual_node", "data.appmesh_virtual_node")
            .replace("[aws_appmesh_mesh.apps]", "[appmesh_mesh.apps]")
            .replace(".aws_appmesh_route", ".appmesh_route");
        assert_eq!(out.text, expected);
    }

    #[test]
    fn requirements_join_an_existing_block() {
        let path = PathBuf::from("versions.tf");
        let text = "terraform {\n  required_version = \">= 1.5\"\n  required_providers {\n    aws = {\n      source = \"hashicorp/aws\"\n    }\n  }\n}\n".to_owned();
        let Requirement::Insert(_, new) = requirement_edit(&[(&path, &text)]).unwrap() else {
            panic!("expected an insert")
        };
        assert_eq!(
            new,
            "terraform {\n  required_version = \">= 1.5\"\n  required_providers {\n    appmesh = {\n      source = \"appmesh-community/appmesh\"\n    }\n    aws = {\n      source = \"hashicorp/aws\"\n    }\n  }\n}\n"
        );
        assert!(matches!(
            requirement_edit(&[(&path, &new)]).unwrap(),
            Requirement::Present
        ));
        let none = "resource \"appmesh_mesh\" \"m\" {\n  name = \"m\"\n}\n".to_owned();
        assert!(matches!(
            requirement_edit(&[(&path, &none)]).unwrap(),
            Requirement::Missing
        ));
    }

    #[test]
    fn arguments_parse() {
        let a = Args::parse(&[
            "--endpoint=http://x".into(),
            "ws".into(),
            "--dry-run".into(),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.endpoint.as_deref(), Some("http://x"));
        assert_eq!(a.workspace, PathBuf::from("ws"));
        assert!(a.dry_run);
        assert!(Args::parse(&["--nope".into()]).is_err());
        assert_eq!(Args::parse(&["-h".into()]).unwrap(), None);
    }
}
