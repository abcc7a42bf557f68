//! `cargo xtask docs [--check]`: the Terraform Registry documentation under `docs/`.
//!
//! Everything comes from the provider itself, the way Terraform sees it: the provider is
//! instantiated and asked, through the `tf_provider::Provider` trait, for its schema, its
//! resources and its data sources, and each of those for its schema; nothing is listed here.
//! Around the schemas go the files under `examples/` (`provider/provider.tf`,
//! `resources/<type>/resource.tf` and `import.sh`, `data-sources/<type>/data-source.tf`,
//! `scenarios/*`) and the hand-written guides under `templates/guides/`. A type without its
//! example is an error naming the missing file.
//!
//! Output (paths under `docs/`): `index.md`, `resources/<name>.md` and
//! `data-sources/<name>.md` (the type name without `appmesh_`), `guides/<guide>.md`.
//! The result is deterministic: sorted, no timestamps, LF endings, one final newline.
//!
//! `--check` generates the same tree in memory and compares it with `docs/`; any stale,
//! missing or extra file fails the check, with a diff excerpt of each stale one. `docs/benchmarks/`
//! holds the reports `scripts/bench` writes; this command leaves it alone.

mod diff;
mod include;
mod render;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use terraform_provider_appmesh::describe::RESOURCES;
use terraform_provider_appmesh::provider::AppMeshProvider;
use tf_provider::schema::Schema;
use tf_provider::{Diagnostics, Provider};

use render::{Import, Index, Kind, Link, Page};

/// Generated files: path under `docs/` → content.
type Tree = BTreeMap<String, String>;

/// The guide that pages' Import sections point to, when it exists.
const IMPORT_GUIDE: &str = "importing-existing-meshes.md";

/// The part of `docs/` that is not Registry documentation and not generated here: the
/// benchmark reports that `scripts/bench` writes.
const UNMANAGED: &str = "benchmarks/";

/// How many diff lines `--check` shows per stale file.
const DIFF_LINES: usize = 40;

/// Regenerates `docs/`: writes what changed and removes files that are no longer generated.
pub(crate) fn write(root: &Path) -> Result<()> {
    let tree = generate(root)?;
    let docs = root.join("docs");
    let existing = read_tree(&docs)?;
    let (mut written, mut removed) = (0, 0);
    for (path, content) in &tree {
        if existing.get(path).map(Vec::as_slice) == Some(content.as_bytes()) {
            continue;
        }
        let file = docs.join(path);
        if let Some(dir) = file.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        fs::write(&file, content).with_context(|| format!("writing {}", file.display()))?;
        written += 1;
    }
    for path in existing.keys().filter(|p| !tree.contains_key(*p)) {
        let file = docs.join(path);
        fs::remove_file(&file).with_context(|| format!("removing {}", file.display()))?;
        removed += 1;
    }
    remove_empty_dirs(&docs)?;
    println!(
        "docs: {} files, {written} written, {removed} removed",
        tree.len()
    );
    Ok(())
}

/// Compares `docs/` with what would be generated; `Ok(false)` (after a report on stderr)
/// when they differ.
pub(crate) fn check(root: &Path) -> Result<bool> {
    let tree = generate(root)?;
    let existing = read_tree(&root.join("docs"))?;
    let mut report = Vec::new();
    let mut diffs = Vec::new();
    for (path, content) in &tree {
        match existing.get(path) {
            None => report.push(format!("  missing: docs/{path}")),
            Some(old) if old.as_slice() != content.as_bytes() => {
                report.push(format!("  stale:   docs/{path}"));
                let old = String::from_utf8_lossy(old);
                diffs.push(format!(
                    "--- docs/{path} (checked in)\n+++ docs/{path} (generated)\n{}",
                    diff::excerpt(&old, content, DIFF_LINES)
                ));
            }
            Some(_) => {}
        }
    }
    for path in existing.keys().filter(|p| !tree.contains_key(*p)) {
        report.push(format!("  extra:   docs/{path}"));
    }
    if report.is_empty() {
        println!("docs: {} files, up to date", tree.len());
        return Ok(true);
    }
    eprintln!("docs/ is out of date; run `cargo xtask docs` and commit the result:");
    eprintln!("{}", report.join("\n"));
    for d in diffs {
        eprintln!("\n{d}");
    }
    Ok(false)
}

/// The whole `docs/` tree, from the provider and the repository's examples and templates.
fn generate(root: &Path) -> Result<Tree> {
    let provider = AppMeshProvider::default();
    let name = terraform_provider_appmesh::NAME;
    let mut tree = Tree::new();
    let mut problems = Vec::new();

    let provider_schema = schema_of("the provider", |d| Provider::schema(&provider, d))?;
    let resources = {
        let mut diags = Diagnostics::default();
        let found = provider.get_resources(&mut diags);
        let found = answer("the provider's resources", found, &diags)?;
        sorted_schemas(name, found, |r, d| r.schema(d))?
    };
    let data_sources = {
        let mut diags = Diagnostics::default();
        let found = provider.get_data_sources(&mut diags);
        let found = answer("the provider's data sources", found, &diags)?;
        sorted_schemas(name, found, |ds, d| ds.schema(d))?
    };

    // Guides first: pages link to them.
    let mut guides = Vec::new();
    let templates = root.join("templates/guides");
    for file in files_in(&templates, ".md")? {
        let rel = format!("templates/guides/{file}");
        let template = read(root, &rel)?;
        let title = include::page_title(&template).with_context(|| rel.clone())?;
        let note =
            format!("# generated by `cargo xtask docs` from {rel}; edit that file, not this one");
        let page = include::expand(&template, &note, &mut |p| read(root, p))
            .with_context(|| rel.clone())?;
        tree.insert(format!("guides/{file}"), page);
        guides.push((file, title));
    }
    let import_guide = guides
        .iter()
        .find(|(f, _)| f == IMPORT_GUIDE)
        .map(|(f, t)| Link {
            title: t.clone(),
            path: format!("../guides/{f}"),
        });

    let scenarios = scenarios(root)?;
    let using = |pattern: String| -> Vec<Link> {
        scenarios
            .iter()
            .filter(|(_, hcl)| hcl.contains(&pattern))
            .map(|(dir, _)| Link {
                title: format!("examples/scenarios/{dir}"),
                path: format!(
                    "{}/tree/main/examples/scenarios/{dir}",
                    env!("CARGO_PKG_REPOSITORY")
                ),
            })
            .collect()
    };

    let mut resource_links = Vec::new();
    for (key, schema) in &resources {
        let ty = format!("{name}_{key}");
        let dir = format!("examples/resources/{ty}");
        let example = required(root, &format!("{dir}/resource.tf"), &ty, &mut problems);
        let import =
            required(root, &format!("{dir}/import.sh"), &ty, &mut problems).and_then(|script| {
                match import_command(&script) {
                    Ok((address, id)) => Some(Import {
                        script,
                        address,
                        id,
                        id_format: RESOURCES
                            .iter()
                            .find(|r| r.type_name == key.as_str())
                            .map(|r| r.import_id.to_owned()),
                    }),
                    Err(e) => {
                        problems.push(format!("{ty}: {dir}/import.sh: {e}"));
                        None
                    }
                }
            });
        let (Some(example), Some(import)) = (example, import) else {
            continue;
        };
        let page = render::object_page(&Page {
            kind: Kind::Resource,
            type_name: &ty,
            schema,
            example: &example,
            scenarios: &using(format!("resource \"{ty}\"")),
            import: Some(&import),
            import_guide: import_guide.as_ref(),
        })
        .with_context(|| format!("rendering {ty}"))?;
        let path = format!("{}/{key}.md", Kind::Resource.dir());
        tree.insert(path.clone(), page);
        resource_links.push((Link { title: ty, path }, description(schema)));
    }

    let mut data_source_links = Vec::new();
    for (key, schema) in &data_sources {
        let ty = format!("{name}_{key}");
        let file = format!("examples/data-sources/{ty}/data-source.tf");
        let Some(example) = required(root, &file, &ty, &mut problems) else {
            continue;
        };
        let page = render::object_page(&Page {
            kind: Kind::DataSource,
            type_name: &ty,
            schema,
            example: &example,
            scenarios: &using(format!("data \"{ty}\"")),
            import: None,
            import_guide: None,
        })
        .with_context(|| format!("rendering {ty}"))?;
        let path = format!("{}/{key}.md", Kind::DataSource.dir());
        tree.insert(path.clone(), page);
        data_source_links.push((Link { title: ty, path }, description(schema)));
    }

    let example = required(
        root,
        "examples/provider/provider.tf",
        "the provider",
        &mut problems,
    );
    if !problems.is_empty() {
        bail!("cannot generate docs/:\n  - {}", problems.join("\n  - "));
    }
    let guide_links: Vec<Link> = guides
        .iter()
        .map(|(f, t)| Link {
            title: t.clone(),
            path: format!("guides/{f}"),
        })
        .collect();
    let index = render::index_page(&Index {
        name,
        schema: &provider_schema,
        example: &example.unwrap_or_default(),
        resources: &resource_links,
        data_sources: &data_source_links,
        guides: &guide_links,
    })
    .context("rendering the provider page")?;
    tree.insert("index.md".to_owned(), index);

    for (path, content) in &tree {
        render::check_page(path, content)?;
    }
    Ok(tree)
}

/// A schema the provider answers, or an error with its diagnostics.
/// The schema of every resource (or data source) the provider registered, by type name.
fn sorted_schemas<T: ?Sized>(
    provider: &str,
    found: std::collections::HashMap<String, Box<T>>,
    schema: impl Fn(&T, &mut Diagnostics) -> Option<Schema>,
) -> Result<Vec<(String, Schema)>> {
    let mut out = Vec::new();
    for (key, item) in found {
        let schema = schema_of(&format!("{provider}_{key}"), |d| schema(&item, d))?;
        out.push((key, schema));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn schema_of(what: &str, get: impl FnOnce(&mut Diagnostics) -> Option<Schema>) -> Result<Schema> {
    let mut diags = Diagnostics::default();
    let schema = get(&mut diags);
    answer(&format!("the schema of {what}"), schema, &diags)
}

fn answer<T>(what: &str, value: Option<T>, diags: &Diagnostics) -> Result<T> {
    if !diags.errors.is_empty() {
        let errors: Vec<String> = diags
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.summary, e.detail))
            .collect();
        bail!("getting {what}: {}", errors.join("; "));
    }
    value.ok_or_else(|| anyhow!("getting {what}: the provider answered nothing"))
}

fn description(schema: &Schema) -> String {
    schema.block.description.content.trim().to_owned()
}

/// The `terraform import ADDRESS ID` command of an `import.sh`.
fn import_command(script: &str) -> Result<(String, String)> {
    let commands: Vec<&str> = script
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("terraform import "))
        .collect();
    let [command] = commands.as_slice() else {
        bail!(
            "expected one `terraform import ADDRESS ID` command, found {}",
            commands.len()
        );
    };
    match command.split_whitespace().collect::<Vec<_>>().as_slice() {
        [_, _, address, id] => Ok(((*address).to_owned(), (*id).to_owned())),
        _ => bail!("expected `terraform import ADDRESS ID`, found `{command}`"),
    }
}

/// Each scenario directory under `examples/scenarios/` with the HCL of its `.tf` files.
fn scenarios(root: &Path) -> Result<Vec<(String, String)>> {
    let dir = root.join("examples/scenarios");
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    for name in names {
        let mut hcl = String::new();
        for file in files_in(&dir.join(&name), ".tf")? {
            hcl.push_str(&read(root, &format!("examples/scenarios/{name}/{file}"))?);
        }
        out.push((name, hcl));
    }
    Ok(out)
}

/// The names of the files in `dir` ending in `suffix`, sorted; none if `dir` is missing.
fn files_in(dir: &Path, suffix: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file() && name.ends_with(suffix) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// A text file of the repository, by its path from the root, with LF line endings.
fn read(root: &Path, rel: &str) -> Result<String> {
    let text = fs::read_to_string(root.join(rel)).with_context(|| format!("reading {rel}"))?;
    Ok(text.replace("\r\n", "\n"))
}

/// A file `owner` needs; a missing one is noted as a problem.
fn required(root: &Path, rel: &str, owner: &str, problems: &mut Vec<String>) -> Option<String> {
    if !root.join(rel).is_file() {
        problems.push(format!("{owner}: {rel} is missing"));
        return None;
    }
    match read(root, rel) {
        Ok(text) if text.trim().is_empty() => {
            problems.push(format!("{owner}: {rel} is empty"));
            None
        }
        Ok(text) => Some(text),
        Err(e) => {
            problems.push(format!("{owner}: {e:#}"));
            None
        }
    }
}

/// Every file under `dir` (path relative to it, `/`-separated) with its bytes.
fn read_tree(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) -> Result<()> {
        for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            if entry.file_type()?.is_dir() {
                walk(&entry.path(), &format!("{rel}/"), out)?;
            } else {
                let bytes = fs::read(entry.path())
                    .with_context(|| format!("reading {}", entry.path().display()))?;
                out.insert(rel, bytes);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    if dir.is_dir() {
        walk(dir, "", &mut out)?;
    }
    out.retain(|path, _| !path.starts_with(UNMANAGED));
    Ok(out)
}

/// Removes the directories under `dir` that hold no file any more.
fn remove_empty_dirs(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            remove_empty_dirs(&path)?;
            if fs::read_dir(&path)?.next().is_none() {
                fs::remove_dir(&path).with_context(|| format!("removing {}", path.display()))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_scripts_hold_one_command() {
        let script = "# A mesh is imported by its name.\nterraform import appmesh_mesh.apps apps\n";
        assert_eq!(
            import_command(script).expect("one command"),
            ("appmesh_mesh.apps".to_owned(), "apps".to_owned())
        );
        assert!(import_command("# nothing\n").is_err());
        assert!(import_command("terraform import a.b\n").is_err());
        assert!(import_command("terraform import a.b x\nterraform import a.c y\n").is_err());
    }
}
