//! Finds the protobuf descriptor set that `envoy-types` ships beside its generated code
//! (`src/generated/types.bin`, not exposed by the crate), so that the golden tests can print
//! Envoy resources as the proto3 JSON Envoy's own `config_dump` uses. Only the tests read it;
//! when it cannot be found the tests say so and the library builds all the same.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=APPMESH_XDS_DESCRIPTORS");
    let found = std::env::var_os("APPMESH_XDS_DESCRIPTORS")
        .map(PathBuf::from)
        .or_else(find_in_cargo_home);
    let value = found.map(|p| p.display().to_string()).unwrap_or_default();
    println!("cargo:rustc-env=APPMESH_XDS_DESCRIPTORS={value}");
}

fn find_in_cargo_home() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let registries = std::fs::read_dir(home.join("registry").join("src")).ok()?;
    registries
        .flatten()
        .map(|index| {
            index
                .path()
                .join("envoy-types-0.5.6/src/generated/types.bin")
        })
        .find(|p| p.is_file())
}
