//! Shared helpers for the control plane's integration tests: a guard that runs the
//! `appmesh-control-plane` binary as a child process, and a builder for an
//! `aws-sdk-appmesh` client that talks plain HTTP to it.

// Each integration test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_appmesh::config::retry::RetryConfig;
use aws_sdk_appmesh::config::timeout::TimeoutConfig;
use aws_sdk_appmesh::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_appmesh::error::{DisplayErrorContext, SdkError};
use aws_sdk_appmesh::primitives::DateTime;
use aws_sdk_appmesh::types::ResourceMetadata;
use aws_sdk_appmesh::{Client, Config};
use aws_smithy_runtime::client::http::hyper_014::HyperClientBuilder;

/// Region the test servers are started with.
pub(crate) const REGION: &str = "us-east-1";
/// Account id the test servers are started with.
pub(crate) const ACCOUNT_ID: &str = "123456789012";

/// The access key the test servers know and the SDK clients sign with (account
/// [`ACCOUNT_ID`]).
pub(crate) const ACCESS_KEY_ID: &str = "AKIDTESTOWNER";
/// Its secret.
pub(crate) const SECRET_KEY: &str = "owner-secret-key";
/// A second account the test servers know, for shared meshes.
pub(crate) const OTHER_ACCOUNT_ID: &str = "210987654321";
/// The second account's access key.
pub(crate) const OTHER_ACCESS_KEY_ID: &str = "AKIDTESTCONSUMER";
/// Its secret.
pub(crate) const OTHER_SECRET_KEY: &str = "consumer-secret-key";

/// The PostgreSQL server to run the tests against instead of the embedded SQLite
/// (`APPMESH_TEST_POSTGRES`, a `postgres://` URL), if any: `scripts/test --postgres` starts
/// one and sets it.
pub(crate) fn test_postgres() -> Option<String> {
    std::env::var("APPMESH_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// The PostgreSQL schema that stands for the data directory `dir`: each test's store is
/// its own, and a restart on the same directory finds the same data.
pub(crate) fn schema_for(dir: &Path) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(dir.as_os_str().as_encoded_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("t_{hex}")
}

/// The server arguments that put `data_dir`'s data in the test PostgreSQL, if there is one.
pub(crate) fn database_args(data_dir: &Path) -> Vec<String> {
    match test_postgres() {
        Some(url) => vec![
            "--database".to_owned(),
            url,
            "--database-schema".to_owned(),
            schema_for(data_dir),
        ],
        None => Vec::new(),
    }
}

/// The store for `dir`: SQLite in it, or its schema in the test PostgreSQL.
pub(crate) fn open_store(
    dir: &Path,
    account: &str,
) -> std::sync::Arc<dyn appmesh_control_plane::store::Store> {
    use appmesh_control_plane::store::{postgres::PostgresStore, sqlite::SqliteStore};
    match test_postgres() {
        Some(url) => std::sync::Arc::new(
            PostgresStore::open(&url, Some(&schema_for(dir))).expect("open the test PostgreSQL"),
        ),
        None => std::sync::Arc::new(SqliteStore::open(dir, account).expect("open SQLite")),
    }
}

/// The access file test servers start with unless a test gives its own.
pub(crate) fn access_file_text() -> String {
    format!(
        r#"[[keys]]
access_key_id = "{ACCESS_KEY_ID}"
secret_access_key = "{SECRET_KEY}"
account = "{ACCOUNT_ID}"
principal = "owner"

[[keys]]
access_key_id = "{OTHER_ACCESS_KEY_ID}"
secret_access_key = "{OTHER_SECRET_KEY}"
account = "{OTHER_ACCOUNT_ID}"
principal = "consumer"
"#
    )
}

/// Signs a request for the test servers with [`ACCESS_KEY_ID`]: adds `x-amz-date`,
/// `x-amz-content-sha256` and `authorization` to `headers` (which must hold `host`).
pub(crate) fn sign_headers(
    method: &str,
    path_and_query: &str,
    headers: &mut Vec<(String, String)>,
    body: &[u8],
) {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    appmesh_control_plane::sigv4::Signer {
        access_key_id: ACCESS_KEY_ID,
        secret: SECRET_KEY,
        session_token: None,
        region: REGION,
        service: "appmesh",
    }
    .sign(method, path, query, headers, body, now);
}

/// How long to wait for the ready line after spawning the server.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for the server to exit after SIGTERM or SIGKILL.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// The prefix of the single line the server prints on stdout once it accepts requests.
const READY_PREFIX: &str = "appmesh-control-plane listening on ";

/// A running `appmesh-control-plane serve` child process.
///
/// Dropping the guard SIGKILLs the child if it is still running. If the current thread is
/// panicking (a failed assertion), the server's stderr log is printed so that the test
/// output shows what the server said.
pub(crate) struct Server {
    child: Child,
    endpoint: String,
    log_path: PathBuf,
    // Keeps the log directory alive for as long as the guard.
    _log_dir: tempfile::TempDir,
}

impl Server {
    /// Starts the server on `127.0.0.1:0` with `data_dir` as its data directory.
    pub(crate) fn start(data_dir: &Path) -> Server {
        Server::start_with_args(data_dir, &[])
    }

    /// Starts the server like [`Server::start`], appending `extra_args` to the command line.
    /// Unless `extra_args` give `--access-file` or `--insecure-dev`, the server gets
    /// [`access_file_text`].
    pub(crate) fn start_with_args(data_dir: &Path, extra_args: &[&str]) -> Server {
        let log_dir = tempfile::tempdir().expect("create log dir");
        let log_path = log_dir.path().join("server.log");
        let log_file = std::fs::File::create(&log_path).expect("create server log file");
        let mut access = Vec::new();
        if !extra_args
            .iter()
            .any(|a| *a == "--access-file" || *a == "--insecure-dev")
        {
            let path = log_dir.path().join("access.toml");
            std::fs::write(&path, access_file_text()).expect("write the access file");
            access = vec!["--access-file".to_owned(), path.display().to_string()];
        }

        let mut child = Command::new(env!("CARGO_BIN_EXE_appmesh-control-plane"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--region", REGION, "--account-id", ACCOUNT_ID])
            .args(database_args(data_dir))
            .args(&access)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("spawn appmesh-control-plane");

        let stdout = child.stdout.take().expect("child stdout is piped");
        let (tx, rx) = mpsc::channel::<std::io::Result<String>>();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let first = reader.read_line(&mut line).map(|_| line);
            let _ = tx.send(first);
            // Keep draining stdout so that the child never blocks or gets SIGPIPE on it.
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });

        let mut server = Server {
            child,
            endpoint: String::new(),
            log_path,
            _log_dir: log_dir,
        };
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => panic!("reading the server's ready line failed: {e}"),
            Err(_) => panic!("no ready line from the server within {READY_TIMEOUT:?}"),
        };
        let line = line.trim_end();
        let Some(endpoint) = line.strip_prefix(READY_PREFIX) else {
            panic!(
                "unexpected ready line {line:?} (server exited: {:?})",
                server.child.try_wait().ok().flatten()
            );
        };
        assert!(
            endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("https://127.0.0.1:"),
            "ready line endpoint {endpoint:?} is not http(s)://127.0.0.1:PORT"
        );
        server.endpoint = endpoint.to_owned();
        server
    }

    /// The base URL of the server, `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An SDK client pointed at this server, signing as the owner account.
    pub(crate) fn client(&self) -> Client {
        client(&self.endpoint)
    }

    /// An SDK client signing with another key.
    pub(crate) fn client_as(&self, access_key_id: &str, secret: &str) -> Client {
        client_with(&self.endpoint, access_key_id, secret)
    }

    /// What the server wrote to stderr so far.
    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Sends SIGTERM, waits for the process to exit and asserts it exited successfully.
    pub(crate) fn terminate(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM {pid} failed: {status}");
        let exit = self.wait_exit();
        assert!(
            exit.success(),
            "server did not exit cleanly after SIGTERM: {exit}"
        );
    }

    /// Sends SIGKILL and waits for the process to be gone.
    pub(crate) fn kill(mut self) {
        self.child.kill().expect("SIGKILL the server");
        let _ = self.wait_exit();
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            match self.child.try_wait().expect("wait for the server") {
                Some(status) => return status,
                None if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!("server did not exit within {EXIT_TIMEOUT:?}");
                }
                None => thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if thread::panicking() {
            let logs = self.logs();
            let tail: Vec<&str> = logs.lines().rev().take(60).collect();
            eprintln!("--- server log (last {} lines) ---", tail.len());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// Builds an `aws-sdk-appmesh` client for `endpoint` over plain HTTP (hyper 0.14, no TLS),
/// signing with the test owner's key, region `us-east-1`.
pub(crate) fn client(endpoint: &str) -> Client {
    client_with(endpoint, ACCESS_KEY_ID, SECRET_KEY)
}

/// Like [`client`], signing with another key.
pub(crate) fn client_with(endpoint: &str, access_key_id: &str, secret: &str) -> Client {
    let http_client = HyperClientBuilder::new().build(hyper::client::HttpConnector::new());
    let conf = Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            access_key_id,
            secret,
            None,
            None,
            "static",
        ))
        .http_client(http_client)
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

/// Seconds since the Unix epoch, as a float.
pub(crate) fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// Creates a fresh temporary data directory.
pub(crate) fn data_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("appmesh-cp-test-")
        .tempdir()
        .expect("create temp data dir")
}

/// The ARN the server should give a resource at `path` (e.g. `mesh/apps/virtualNode/serviceB`).
pub(crate) fn arn(path: &str) -> String {
    format!("arn:aws:appmesh:{REGION}:{ACCOUNT_ID}:{path}")
}

/// Unwraps an SDK result, panicking with the full error chain (and `what`) on failure.
pub(crate) fn ok<T, E, R>(res: Result<T, SdkError<E, R>>, what: &str) -> T
where
    SdkError<E, R>: std::error::Error,
{
    match res {
        Ok(v) => v,
        Err(e) => panic!("{what} failed: {}", DisplayErrorContext(&e)),
    }
}

/// Expects an SDK result to be a modelled service error and returns it.
pub(crate) fn service_error<T, E, R>(res: Result<T, SdkError<E, R>>, what: &str) -> E
where
    T: std::fmt::Debug,
    SdkError<E, R>: std::error::Error,
{
    match res {
        Ok(v) => panic!("{what}: expected an error, got success: {v:?}"),
        Err(SdkError::ServiceError(ctx)) => ctx.into_err(),
        Err(e) => panic!(
            "{what}: expected a service error, got: {}",
            DisplayErrorContext(&e)
        ),
    }
}

/// Asserts a timestamp pair is sane: `created <= updated`, both within a minute of now.
pub(crate) fn check_times(what: &str, created: &DateTime, updated: &DateTime) {
    let (c, u, now) = (created.as_secs_f64(), updated.as_secs_f64(), now_secs());
    assert!(c <= u, "{what}: createdAt {c} > lastUpdatedAt {u}");
    for (name, t) in [("createdAt", c), ("lastUpdatedAt", u)] {
        assert!(
            (now - t).abs() < 60.0,
            "{what}: {name} {t} is not within a minute of now ({now})"
        );
    }
}

/// The fields shared by `ResourceMetadata` and every `XxxRef` list item.
pub(crate) struct Common<'a> {
    /// `arn`.
    pub(crate) arn: &'a str,
    /// `meshOwner`.
    pub(crate) mesh_owner: &'a str,
    /// `resourceOwner`.
    pub(crate) resource_owner: &'a str,
    /// `version`.
    pub(crate) version: i64,
    /// `createdAt`.
    pub(crate) created_at: &'a DateTime,
    /// `lastUpdatedAt`.
    pub(crate) last_updated_at: &'a DateTime,
}

impl Common<'_> {
    /// Asserts ARN (`arn_path` under the account prefix), owners, version and timestamps.
    pub(crate) fn check(&self, what: &str, arn_path: &str, version: i64) {
        assert_eq!(self.arn, arn(arn_path), "{what}: arn");
        assert_eq!(self.mesh_owner, ACCOUNT_ID, "{what}: meshOwner");
        assert_eq!(self.resource_owner, ACCOUNT_ID, "{what}: resourceOwner");
        assert_eq!(self.version, version, "{what}: version");
        check_times(what, self.created_at, self.last_updated_at);
    }
}

/// Borrows the common fields of a `ResourceMetadata`.
pub(crate) fn meta_common(m: &ResourceMetadata) -> Common<'_> {
    Common {
        arn: m.arn(),
        mesh_owner: m.mesh_owner(),
        resource_owner: m.resource_owner(),
        version: m.version(),
        created_at: m.created_at(),
        last_updated_at: m.last_updated_at(),
    }
}

/// Checks a resource's metadata like [`Common::check`] plus a non-empty uid, and returns a copy.
pub(crate) fn check_meta(
    what: &str,
    meta: Option<&ResourceMetadata>,
    arn_path: &str,
    version: i64,
) -> ResourceMetadata {
    let m = meta.unwrap_or_else(|| panic!("{what}: metadata missing"));
    meta_common(m).check(what, arn_path, version);
    assert!(!m.uid().is_empty(), "{what}: empty uid");
    m.clone()
}

/// Builds the common-field view of any `XxxRef` list item.
#[macro_export]
macro_rules! ref_common {
    ($r:expr) => {{
        let r = $r;
        $crate::common::Common {
            arn: r.arn(),
            mesh_owner: r.mesh_owner(),
            resource_owner: r.resource_owner(),
            version: r.version(),
            created_at: r.created_at(),
            last_updated_at: r.last_updated_at(),
        }
    }};
}

// === spec builders and reads shared by the scenario and restart tests ===

/// A tag.
pub(crate) fn tag(key: &str, value: &str) -> aws_sdk_appmesh::types::TagRef {
    aws_sdk_appmesh::types::TagRef::builder()
        .key(key)
        .value(value)
        .build()
        .unwrap()
}

/// An HTTP/2 route on prefix `/` spreading traffic over `(virtual node, weight)` targets.
pub(crate) fn route_spec(weights: &[(&str, i32)]) -> aws_sdk_appmesh::types::RouteSpec {
    use aws_sdk_appmesh::types::{
        HttpRoute, HttpRouteAction, HttpRouteMatch, RouteSpec, WeightedTarget,
    };
    let mut action = HttpRouteAction::builder();
    for (node, weight) in weights {
        action = action.weighted_targets(
            WeightedTarget::builder()
                .virtual_node(*node)
                .weight(*weight)
                .build()
                .unwrap(),
        );
    }
    RouteSpec::builder()
        .http2_route(
            HttpRoute::builder()
                .r#match(HttpRouteMatch::builder().prefix("/").build())
                .action(action.build().unwrap())
                .build(),
        )
        .build()
}

/// A virtual service spec provided by a virtual router.
pub(crate) fn router_provider(router: &str) -> aws_sdk_appmesh::types::VirtualServiceSpec {
    use aws_sdk_appmesh::types::{
        VirtualRouterServiceProvider, VirtualServiceProvider, VirtualServiceSpec,
    };
    VirtualServiceSpec::builder()
        .provider(VirtualServiceProvider::VirtualRouter(
            VirtualRouterServiceProvider::builder()
                .virtual_router_name(router)
                .build()
                .unwrap(),
        ))
        .build()
}

/// Every tag of a resource, walking the pages; a key listed twice fails the test.
pub(crate) async fn tags_of(c: &Client, arn: &str) -> std::collections::BTreeMap<String, String> {
    let mut tags = std::collections::BTreeMap::new();
    let mut token = None;
    loop {
        let out = ok(
            c.list_tags_for_resource()
                .resource_arn(arn)
                .set_next_token(token)
                .send()
                .await,
            &format!("list tags of {arn}"),
        );
        for t in out.tags() {
            let prev = tags.insert(t.key().to_owned(), t.value().to_owned());
            assert!(prev.is_none(), "{arn}: tag {} listed twice", t.key());
        }
        match out.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => return tags,
        }
    }
}

/// A virtual gateway spec with one HTTP listener on 8080.
pub(crate) fn gateway_spec() -> aws_sdk_appmesh::types::VirtualGatewaySpec {
    use aws_sdk_appmesh::types::{
        VirtualGatewayListener, VirtualGatewayPortMapping, VirtualGatewayPortProtocol,
        VirtualGatewaySpec,
    };
    let port_mapping = VirtualGatewayPortMapping::builder()
        .port(8080)
        .protocol(VirtualGatewayPortProtocol::Http)
        .build()
        .unwrap();
    VirtualGatewaySpec::builder()
        .listeners(
            VirtualGatewayListener::builder()
                .port_mapping(port_mapping)
                .build(),
        )
        .build()
        .unwrap()
}

/// A virtual node spec with one HTTP listener on `port` and DNS discovery at `host`.
pub(crate) fn http_node(
    port: i32,
    host: &str,
) -> aws_sdk_appmesh::types::builders::VirtualNodeSpecBuilder {
    use aws_sdk_appmesh::types::{
        DnsServiceDiscovery, Listener, PortMapping, PortProtocol, ServiceDiscovery, VirtualNodeSpec,
    };
    VirtualNodeSpec::builder()
        .listeners(
            Listener::builder()
                .port_mapping(
                    PortMapping::builder()
                        .port(port)
                        .protocol(PortProtocol::Http)
                        .build()
                        .expect("port and protocol are set"),
                )
                .build(),
        )
        .service_discovery(ServiceDiscovery::Dns(
            DnsServiceDiscovery::builder()
                .hostname(host)
                .build()
                .expect("hostname is set"),
        ))
}
