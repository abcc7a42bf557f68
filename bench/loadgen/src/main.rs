//! `appmesh-loadgen`: a native load generator for the App Mesh control plane.
//!
//! - `control-plane`: our control plane, moto's server and a bare hyper server (the loopback
//!   ceiling) under the same virtual-node workload, with 1 and 8 clients, plus the cost of one
//!   fsync; writes docs/benchmarks/control-plane.md.
//! - `scale`: one mesh grown to 100,000 virtual nodes, latency and memory at each size, and
//!   the restart time on the full database; writes docs/benchmarks/scale.md.
//! - `fleet`: the xDS server under 2,000 ADS streams over a mesh of 1,000 services: CPU and
//!   RSS at rest and during changes, and the time from an API write to the proxies; writes
//!   docs/benchmarks/fleet.md.
//! - `ceiling`: the bare hyper server itself (started by `control-plane`).
//! - `fsync`: just the fsync measurement.
//!
//! `scripts/bench` builds everything and runs the first two.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod ceiling;
mod client;
mod fleet;
mod fsync;
mod hist;
mod report;
mod scale;
mod servers;
mod workload;

/// Load generator and benchmarks for the App Mesh control plane.
#[derive(Debug, Parser)]
#[command(name = "appmesh-loadgen", version, about, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Ours, moto and the ceiling under the same workload; writes the Markdown report.
    ControlPlane(bench::Args),
    /// One mesh grown to 100,000 nodes; writes the Markdown report.
    Scale(scale::Args),
    /// The xDS server under a simulated fleet of proxies; writes the Markdown report.
    Fleet(fleet::Args),
    /// Serve the fixed DescribeVirtualNode answer (the loopback ceiling).
    Ceiling {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Time appends of 4 KiB with fdatasync in a directory.
    Fsync {
        /// The directory (on the file system to measure).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// How many durable writes.
        #[arg(long, default_value_t = 2000)]
        count: usize,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::ControlPlane(args) => runtime().and_then(|rt| rt.block_on(bench::run(args))),
        Cmd::Scale(args) => runtime().and_then(|rt| rt.block_on(scale::run(args))),
        Cmd::Fleet(args) => runtime().and_then(|rt| rt.block_on(fleet::run(args))),
        Cmd::Ceiling { listen } => ceiling::serve(listen),
        Cmd::Fsync { dir, count } => fsync::measure(&dir, count).map(|f| {
            println!(
                "{} × (4 KiB append + fdatasync) in {}: median {} ms, p99 {} ms, max {} ms; \
                 1/median = {} per second",
                f.hist.count(),
                dir.display(),
                report::ms(f.hist.quantile(0.5)),
                report::ms(f.hist.quantile(0.99)),
                report::ms(f.hist.max()),
                report::rate(f.rate())
            );
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("appmesh-loadgen: {e:#}");
            ExitCode::FAILURE
        }
    }
}
