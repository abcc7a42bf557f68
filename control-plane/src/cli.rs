//! The command line: `appmesh-control-plane serve [flags]`. Every flag has an environment
//! variable equivalent; flags win.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use crate::access::{Access, AccessHandle};
use crate::audit::AuditLog;
use crate::cloud_map::CloudMapFile;
use crate::config::{ConfigFile, Quotas, Settings};
use crate::gate::Gate;
use crate::service::Service;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;
use crate::store::Store;

/// A self-hosted App Mesh control plane.
#[derive(Debug, Parser)]
#[command(name = "appmesh-control-plane", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the App Mesh API.
    Serve(ServeArgs),
}

/// Flags of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port. The bound address is printed on one
    /// line on stdout once the server accepts connections.
    #[arg(long, env = "APPMESH_LISTEN", default_value = "127.0.0.1:9080")]
    pub listen: SocketAddr,
    /// Directory of the embedded database; created if missing.
    #[arg(long, env = "APPMESH_DATA_DIR", default_value = "appmesh-data")]
    pub data_dir: PathBuf,
    /// Keep the data in PostgreSQL instead of the embedded database: a `postgres://` URL
    /// (`postgres://user:password@host:5432/dbname`). Several servers on one database
    /// serve the same meshes. --data-dir still holds the STS signing key.
    #[arg(long, env = "APPMESH_DATABASE", value_name = "URL")]
    pub database: Option<String>,
    /// The PostgreSQL schema to keep the tables in (created if missing); one database can
    /// hold several independent control planes. Default: public.
    #[arg(long, env = "APPMESH_DATABASE_SCHEMA", requires = "database")]
    pub database_schema: Option<String>,
    /// The region written into ARNs.
    #[arg(long, env = "APPMESH_REGION", default_value = "us-east-1")]
    pub region: String,
    /// The account of requests under --insecure-dev whose key is not in the access file, and
    /// the owner of resources stored before accounts existed (migrated at start).
    #[arg(long, env = "APPMESH_ACCOUNT_ID", default_value = "123456789012")]
    pub account_id: String,
    /// A TOML file with a `[quotas]` table (see `--quota` for the names).
    #[arg(long, env = "APPMESH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Override a service quota, e.g. `--quota meshes=50`; repeatable. Names: meshes,
    /// virtual-services-per-mesh, virtual-nodes-per-mesh, virtual-routers-per-mesh,
    /// routes-per-virtual-router, virtual-gateways-per-mesh,
    /// gateway-routes-per-virtual-gateway, backends-per-virtual-node.
    #[arg(
        long = "quota",
        value_name = "NAME=VALUE",
        env = "APPMESH_QUOTAS",
        value_delimiter = ','
    )]
    pub quotas: Vec<String>,
    /// The access file (TOML): access keys with their account, principal and optional
    /// IAM-style policies, mesh shares and rate limits. Reloaded on SIGHUP and when it
    /// changes. Required unless --insecure-dev.
    #[arg(long, env = "APPMESH_ACCESS_FILE")]
    pub access_file: Option<PathBuf>,
    /// Accept requests without checking signatures (any signature, or none), acting as the
    /// key's account if it is known, else as --account-id. For local experiments only: every
    /// request logs a warning.
    #[arg(long, env = "APPMESH_INSECURE_DEV")]
    pub insecure_dev: bool,
    /// Append one CloudTrail-shaped JSON line per mutating call to this file. Rotate it by
    /// renaming it (and sending SIGHUP).
    #[arg(long, env = "APPMESH_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "APPMESH_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "APPMESH_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve Envoy proxies over ADS (xDS v3, gRPC) on this address: `HOST:PORT` (port 0
    /// picks a free port) or `unix:///path/to/socket`. `xds listening on <address>` is
    /// printed on stdout once it accepts connections. Proxies are not authenticated yet, so a
    /// TCP address needs --insecure-dev; a Unix socket is protected by its file permissions.
    #[arg(long, env = "APPMESH_XDS_LISTEN", value_name = "ADDRESS")]
    pub xds_listen: Option<XdsAddress>,
    /// The Cloud Map instances to send as endpoints of virtual nodes discovered through
    /// `awsCloudMap` (AWS Cloud Map is gone): a JSON file shaped like
    /// `aws servicediscovery discover-instances` output, `{"Instances": [...]}`. Reloaded
    /// on SIGHUP and when it changes.
    #[arg(long, env = "APPMESH_CLOUD_MAP_FILE", value_name = "FILE")]
    pub cloud_map_file: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, env = "APPMESH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Where the xDS server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XdsAddress {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket's path.
    Unix(PathBuf),
}

impl std::str::FromStr for XdsAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(
                    "unix:// needs a socket path, e.g. unix:///run/appmesh/xds.sock".into(),
                );
            }
            return Ok(XdsAddress::Unix(PathBuf::from(path)));
        }
        s.parse().map(XdsAddress::Tcp).map_err(|_| {
            format!("{s:?} is neither HOST:PORT (an IP address and a port) nor unix:///path")
        })
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable `key=value` lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("appmesh-control-plane: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl ServeArgs {
    /// The settings these flags (and the config file they name) describe.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            anyhow::bail!("--account-id must be 12 digits, got {:?}", self.account_id);
        }
        if self.region.is_empty()
            || self
                .region
                .contains(|c: char| c == ':' || c.is_whitespace())
        {
            anyhow::bail!(
                "--region must be a region name such as us-east-1, got {:?}",
                self.region
            );
        }
        let mut quotas = Quotas::default();
        if let Some(path) = &self.config {
            ConfigFile::load(path)?.apply(&mut quotas)?;
        }
        quotas.apply_flags(&self.quotas)?;
        Ok(Settings {
            region: self.region.clone(),
            account_id: self.account_id.clone(),
            quotas,
        })
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs the server until SIGTERM or SIGINT, then finishes in-flight requests and exits.
pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let settings = args.settings()?;
    let access = match (&args.access_file, args.insecure_dev) {
        (Some(path), _) => AccessHandle::open(path)?,
        (None, true) => AccessHandle::fixed(Access::default()),
        (None, false) => anyhow::bail!(
            "no access file: give --access-file FILE (access keys and their accounts; see the README's \"Running the control plane securely\"), or --insecure-dev to accept unauthenticated requests on a development machine"
        ),
    };
    let access = Arc::new(access);
    if args.insecure_dev {
        tracing::warn!("--insecure-dev: signatures are NOT checked; anyone who can reach the port can change every mesh");
    }
    let audit = args
        .audit_log
        .as_deref()
        .map(AuditLog::open)
        .transpose()?
        .map(Arc::new);
    let store: Arc<dyn Store> = match &args.database {
        Some(url) => {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                anyhow::bail!("--database must be a postgres:// URL");
            }
            Arc::new(PostgresStore::open(url, args.database_schema.as_deref())?)
        }
        None => Arc::new(
            SqliteStore::open(&args.data_dir, &settings.account_id).with_context(|| {
                format!("opening the data directory {}", args.data_dir.display())
            })?,
        ),
    };
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data directory {}", args.data_dir.display()))?;
    let sts_key = crate::sts::StsKey::load_or_create(&args.data_dir)
        .with_context(|| format!("the STS key in {}", args.data_dir.display()))?;
    let telemetry = crate::metrics::Telemetry::default();
    let gate = Gate::new(access.clone(), &settings.region, &settings.account_id)
        .telemetry(telemetry.clone())
        .insecure(args.insecure_dev)
        .audit(audit.clone())
        .sts_key(sts_key);
    let service = Service::new(store, settings.clone(), access.clone());
    let cloud_map = Arc::new(match &args.cloud_map_file {
        Some(path) => CloudMapFile::open(path)?,
        None => CloudMapFile::none(),
    });
    if matches!(args.xds_listen, Some(XdsAddress::Tcp(_))) && !args.insecure_dev {
        anyhow::bail!(
            "--xds-listen on a TCP address serves every mesh's proxy configuration to anyone who can reach it: proxies are not authenticated yet. Use a Unix socket (--xds-listen unix:///path), or --insecure-dev on a development machine"
        );
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::listener::acceptor(cert, key)?),
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, data_dir = %args.data_dir.display(), region = %settings.region,
            accounts = ?access.current().accounts(), "serving the App Mesh API");
        // SIGHUP's handler is in place before the ready line: a reload signal sent right
        // after it must not find the default action (terminate) still installed.
        // The same for SIGTERM and SIGINT: a graceful stop right after start.
        let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        tokio::spawn(watch_files(access, audit, cloud_map.clone(), hup));
        let stop = shutdown_signal();
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        let stop = async move {
            stop.await;
            let _ = stopping.send(true);
        };
        let xds = match &args.xds_listen {
            Some(address) => Some(
                start_xds(
                    address,
                    service.clone(),
                    stopped,
                    telemetry,
                    cloud_map.subscribe(),
                )
                .await?,
            ),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut stdout = std::io::stdout().lock();
        writeln!(
            stdout,
            "appmesh-control-plane listening on {scheme}://{addr}"
        )?;
        // The API's line stays the first one (scripts and tests wait for it); the xDS
        // listener is bound already, so it accepts connections once its line is out too.
        if let Some((shown, _)) = &xds {
            writeln!(stdout, "xds listening on {shown}")?;
        }
        stdout.flush()?;
        drop(stdout);
        let app = crate::api::app(service, Arc::new(gate));
        crate::listener::serve(listener, tls, app, stop).await?;
        if let Some((_, task)) = xds {
            task.await??;
        }
        tracing::info!("stopped");
        anyhow::Ok(())
    })
}

/// Binds the xDS server and serves it until `stopped` turns true; returns the address to
/// print on its ready line.
async fn start_xds(
    address: &XdsAddress,
    service: Service,
    stopped: tokio::sync::watch::Receiver<bool>,
    telemetry: crate::metrics::Telemetry,
    cloud_map: tokio::sync::watch::Receiver<crate::cloud_map::Generation>,
) -> anyhow::Result<(String, tokio::task::JoinHandle<anyhow::Result<()>>)> {
    let mut until = stopped.clone();
    let shutdown = async move {
        let _ = until.wait_for(|s| *s).await;
    };
    let server = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
        .add_service(crate::xds::Xds::server(
            service, stopped, telemetry, cloud_map,
        ));
    let (shown, task) = match address {
        XdsAddress::Tcp(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("xDS: listening on {addr}"))?;
            let bound = listener.local_addr()?;
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            (bound.to_string(), spawn_serve(server, incoming, shutdown))
        }
        XdsAddress::Unix(path) => {
            // A socket left by a previous run would make bind fail.
            if std::fs::symlink_metadata(path)
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
            {
                std::fs::remove_file(path)
                    .with_context(|| format!("xDS: removing the old socket {}", path.display()))?;
            }
            let listener = tokio::net::UnixListener::bind(path)
                .with_context(|| format!("xDS: listening on {}", path.display()))?;
            let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
            (
                format!("unix://{}", path.display()),
                spawn_serve(server, incoming, shutdown),
            )
        }
    };
    tracing::info!(address = %shown, "serving xDS (ADS, state of the world and incremental) to Envoy proxies");
    Ok((shown, task))
}

/// Runs the xDS server on `incoming` (TCP or Unix connections) until `shutdown`.
fn spawn_serve<I, IO, IE>(
    server: tonic::transport::server::Router,
    incoming: I,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<anyhow::Result<()>>
where
    I: tokio_stream::Stream<Item = Result<IO, IE>> + Send + 'static,
    IO: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + tonic::transport::server::Connected
        + Unpin
        + Send
        + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    tokio::spawn(async move {
        server
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
            .context("xDS server")
    })
}

/// Reloads the access file and the Cloud Map file and reopens the audit log on SIGHUP, and
/// checks all three once a second for changes made without one.
async fn watch_files(
    access: Arc<AccessHandle>,
    audit: Option<Arc<AuditLog>>,
    cloud_map: Arc<CloudMapFile>,
    mut hup: Option<tokio::signal::unix::Signal>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        let forced = tokio::select! {
            _ = tick.tick() => false,
            Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {
                tracing::info!("SIGHUP: reloading the access and Cloud Map files and reopening the audit log");
                true
            }
        };
        let (access, audit, cloud_map) = (access.clone(), audit.clone(), cloud_map.clone());
        let _ = tokio::task::spawn_blocking(move || {
            access.reload(forced);
            cloud_map.reload(forced);
            if let Some(log) = audit {
                log.reopen(forced);
            }
        })
        .await;
    }
}

/// Installs the SIGTERM and SIGINT handlers now; the future ends at the first of them.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    async move {
        let (Ok(mut term), Ok(mut int)) = handlers else {
            // Without signal handlers the server runs until killed.
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: finishing in-flight requests"),
            _ = int.recv() => tracing::info!("SIGINT: finishing in-flight requests"),
        }
    }
}
