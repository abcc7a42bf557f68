//! `appmesh-control-plane`: see the crate documentation of `appmesh_control_plane`.

fn main() -> std::process::ExitCode {
    appmesh_control_plane::cli::main()
}
