//! `appmesh-control-plane`: see [`appmesh_control_plane::cli`].

/// Small short-lived allocations dominate a request (JSON values, SQL rows, headers); glibc's
/// malloc spent about a third of the server's CPU on them under concurrent load, mimalloc
/// far less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    appmesh_control_plane::cli::main()
}
