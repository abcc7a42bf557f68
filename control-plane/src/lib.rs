//! A self-hosted App Mesh control plane: the App Mesh 2019-01-25 REST-JSON API on durable
//! embedded storage.
//!
//! - [`api`]: the HTTP surface (`app(service) -> Router`).
//! - [`service`]: what each operation does.
//! - [`store`]: storage behind a trait; SQLite by default.
//! - [`config`]: region, account and service quotas.
//! - [`access`], [`sigv4`], [`policy`], [`gate`], [`audit`]: who may call (the operator's
//!   access file), signature checks, IAM-style policies, the per-request gate (request ids,
//!   body limit, authentication, rate limits) and the CloudTrail-shaped audit log.
//! - [`xds`]: the ADS server Envoy proxies get their configuration from, and [`cloud_map`]
//!   the instances it sends for nodes discovered through Cloud Map.
//! - [`metrics`]: request and xDS metrics (`GET /metrics`) and the operator's view of the
//!   connected proxies (`GET /v1/proxies`).
//! - [`cli`]: the `appmesh-control-plane serve` command.
//!
//! Run it with `appmesh-control-plane serve --listen 127.0.0.1:9080 --data-dir ./data` and
//! point any AWS client at it: `aws appmesh list-meshes --endpoint-url http://127.0.0.1:9080`.

pub mod access;
pub mod api;
pub mod audit;
pub mod cli;
pub mod cloud_map;
pub mod config;
pub mod error;
pub mod gate;
pub mod listener;
pub mod metrics;
pub mod policy;
pub mod service;
pub mod sigv4;
pub mod store;
pub mod sts;
pub mod xds;
