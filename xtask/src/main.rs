//! Repository chores, run as `cargo xtask <command>` (the alias lives in
//! `.cargo/config.toml`), in the manner of matklad's cargo-xtask.
//!
//! - `cargo xtask docs`: regenerates `docs/` (the Terraform Registry layout) from the
//!   provider's schemas, `examples/` and `templates/guides/`.
//! - `cargo xtask docs --check`: fails, listing every stale, missing or extra file with a
//!   diff excerpt, when the checked-in `docs/` differ from what would be generated. CI runs
//!   it (`.ci/run`).

mod docs;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask docs [--check]

  docs          regenerate docs/ from the provider's schemas, examples/ and templates/guides/
  docs --check  fail if the checked-in docs/ differ from what would be generated";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = workspace_root();
    let outcome = match args.as_slice() {
        ["docs"] => docs::write(&root).map(|()| true),
        ["docs", "--check"] => docs::check(&root),
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(true)
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root: the xtask crate sits right under it.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}
