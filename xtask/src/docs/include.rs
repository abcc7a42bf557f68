//! Hand-written guides (`templates/guides/*.md`) with tested HCL pulled in.
//!
//! A guide is Markdown with YAML front matter (`page_title` is required by the Registry)
//! and one directive, on a line of its own:
//!
//! ```text
//! {{ example "examples/scenarios/canary/main.tf" }}
//! ```
//!
//! It becomes a fenced code block holding that file (the path is relative to the repository
//! root), so the HCL a guide shows is the HCL the acceptance tests apply. Any other
//! `{{ ... }}` outside a fenced code block is an error, as is a directive sharing its line
//! with other text or naming a file that does not exist; inside a fenced code block the text
//! is copied as it is, so a guide can still show `{{` in code.

use anyhow::{anyhow, bail, Context, Result};

use super::render::fence;

/// A guide's `page_title`.
pub(crate) fn page_title(template: &str) -> Result<String> {
    let (front, _) = split_front_matter(template)?;
    for line in front.lines() {
        if let Some(v) = line.strip_prefix("page_title:") {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            if v.is_empty() {
                break;
            }
            return Ok(v.replace("\\\"", "\""));
        }
    }
    bail!("the front matter has no page_title")
}

/// The guide page for a template: the generated-file note added to its front matter and
/// every directive expanded with `read` (which gets the path as written).
pub(crate) fn expand(
    template: &str,
    note: &str,
    read: &mut dyn FnMut(&str) -> Result<String>,
) -> Result<String> {
    let template = template.replace("\r\n", "\n");
    let (front, body) = split_front_matter(&template)?;
    let mut out = format!("---\n{note}\n{front}---\n");
    let mut fence_marker: Option<String> = None;
    for (i, line) in body.lines().enumerate() {
        let line_no = i + front.lines().count() + 3;
        let trimmed = line.trim();
        if let Some(marker) = &fence_marker {
            if closes(trimmed, marker) {
                fence_marker = None;
            }
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if let Some(marker) = fence_opening(trimmed) {
            fence_marker = Some(marker);
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if !line.contains("{{") {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let path = directive(trimmed).with_context(|| format!("line {line_no}"))?;
        let content =
            read(path).with_context(|| format!("line {line_no}: {{{{ example \"{path}\" }}}}"))?;
        out.push_str(&fence(language(path), &content));
        out.push('\n');
    }
    if fence_marker.is_some() {
        bail!("a fenced code block is not closed");
    }
    // One final newline, whatever the template ended with.
    let trimmed_len = out.trim_end_matches('\n').len();
    out.truncate(trimmed_len);
    out.push('\n');
    Ok(out)
}

/// The front matter (without its `---` lines, ending in a newline) and the body.
fn split_front_matter(template: &str) -> Result<(&str, &str)> {
    let rest = template
        .strip_prefix("---\n")
        .ok_or_else(|| anyhow!("a guide starts with YAML front matter (`---`)"))?;
    if let Some(body) = rest.strip_prefix("---\n") {
        return Ok(("", body));
    }
    let end = rest
        .find("\n---\n")
        .or_else(|| rest.strip_suffix("\n---").map(|r| r.len()))
        .ok_or_else(|| anyhow!("the front matter is not closed with `---`"))?;
    let front = &rest[..=end];
    let body = rest.get(end + 5..).unwrap_or_default();
    Ok((front, body))
}

/// The fence a line opens, if it opens one: a run of three or more backticks or tildes.
fn fence_opening(trimmed: &str) -> Option<String> {
    for c in ['`', '~'] {
        let run = trimmed.chars().take_while(|x| *x == c).count();
        if run >= 3 {
            return Some(c.to_string().repeat(run));
        }
    }
    None
}

/// Whether a line closes the fence `marker` opened: a run of the same character, at least as
/// long, and nothing else.
fn closes(trimmed: &str, marker: &str) -> bool {
    let Some(c) = marker.chars().next() else {
        return false;
    };
    let run = trimmed.chars().take_while(|x| *x == c).count();
    run >= marker.len() && trimmed[run..].trim().is_empty()
}

/// The path of a line that holds a `{{ example "path" }}` directive and nothing else.
fn directive(trimmed: &str) -> Result<&str> {
    let inner = trimmed
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .filter(|t| !t.contains("{{") && !t.contains("}}"))
        .ok_or_else(|| {
            anyhow!("a `{{{{ ... }}}}` directive must stand on a line of its own: {trimmed}")
        })?
        .trim();
    let (word, arg) = inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
    if word != "example" {
        bail!("unknown directive `{trimmed}`; the only one is {{{{ example \"PATH\" }}}}");
    }
    let path = arg
        .trim()
        .strip_prefix('"')
        .and_then(|a| a.strip_suffix('"'))
        .filter(|p| !p.is_empty() && !p.contains('"'))
        .ok_or_else(|| anyhow!("`{trimmed}`: the path must be one quoted string"))?;
    if path.starts_with('/') || path.split('/').any(|c| c == "..") {
        bail!("`{trimmed}`: the path must be relative to the repository root, without `..`");
    }
    Ok(path)
}

/// The fence language for an included file.
fn language(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("tf" | "tfvars" | "hcl") => "terraform",
        Some("sh") => "shell",
        Some("toml") => "toml",
        Some("json") => "json",
        Some("yaml" | "yml") => "yaml",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTE: &str = "# generated";

    fn files(path: &str) -> Result<String> {
        match path {
            "examples/a/main.tf" => {
                Ok("resource \"appmesh_mesh\" \"a\" {\n  name = \"a\"\n}\n".into())
            }
            "scripts/x.sh" => Ok("cat <<'EOF'\n```\nEOF\n".into()),
            _ => bail!("{path}: no such file"),
        }
    }

    #[test]
    fn expands_examples_into_terraform_fences() {
        let template = "---\npage_title: \"Start\"\nsubcategory: \"Guides\"\n---\n\n# Start\n\nApply this:\n\n  {{ example \"examples/a/main.tf\" }}\n\nDone.\n\n\n";
        let out = expand(template, NOTE, &mut files).expect("expands");
        assert_eq!(
            out,
            "---\n# generated\npage_title: \"Start\"\nsubcategory: \"Guides\"\n---\n\n# Start\n\nApply this:\n\n```terraform\nresource \"appmesh_mesh\" \"a\" {\n  name = \"a\"\n}\n```\n\nDone.\n"
        );
    }

    #[test]
    fn a_longer_fence_when_the_file_has_backticks() {
        let template = "---\npage_title: x\n---\n{{example \"scripts/x.sh\"}}\n";
        let out = expand(template, NOTE, &mut files).expect("expands");
        assert_eq!(
            out,
            "---\n# generated\npage_title: x\n---\n````shell\ncat <<'EOF'\n```\nEOF\n````\n"
        );
    }

    #[test]
    fn code_blocks_are_copied_as_they_are() {
        let template = "---\npage_title: x\n---\n```yaml\nrun: ${{ secrets.TOKEN }}\n```\n";
        let out = expand(template, NOTE, &mut files).expect("expands");
        assert!(out.contains("run: ${{ secrets.TOKEN }}\n```\n"), "{out}");
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let err = |template: &str| {
            format!(
                "{:#}",
                expand(template, NOTE, &mut files).expect_err("must fail")
            )
        };
        let e = err("---\npage_title: x\n---\n\n{{ include \"examples/a/main.tf\" }}\n");
        assert!(
            e.contains("line 5") && e.contains("unknown directive"),
            "{e}"
        );
        let e = err("---\npage_title: x\n---\n{{ example \"examples/missing.tf\" }}\n");
        assert!(
            e.contains("line 4") && e.contains("examples/missing.tf: no such file"),
            "{e}"
        );
        let e = err("---\npage_title: x\n---\nSee {{ example \"examples/a/main.tf\" }}\n");
        assert!(e.contains("a line of its own"), "{e}");
        let e = err("---\npage_title: x\n---\n{{ example examples/a/main.tf }}\n");
        assert!(e.contains("one quoted string"), "{e}");
        let e = err("---\npage_title: x\n---\n{{ example \"../secret.tf\" }}\n");
        assert!(e.contains("without `..`"), "{e}");
        let e = err("# no front matter\n");
        assert!(e.contains("front matter"), "{e}");
        let e = err("---\npage_title: x\n---\n```\nnever closed\n");
        assert!(e.contains("not closed"), "{e}");
    }

    #[test]
    fn page_titles_come_from_the_front_matter() {
        assert_eq!(
            page_title("---\npage_title: \"Getting started\"\nsubcategory: \"Guides\"\n---\nx\n")
                .expect("title"),
            "Getting started"
        );
        assert_eq!(
            page_title("---\nsubcategory: \"Guides\"\npage_title: Plain\n---\n").expect("title"),
            "Plain"
        );
        assert!(page_title("---\nsubcategory: \"Guides\"\n---\n").is_err());
    }
}
