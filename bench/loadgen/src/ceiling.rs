//! The loopback ceiling: a bare hyper HTTP/1.1 server answering every request with the same
//! DescribeVirtualNode body. Nothing can answer faster through the same client and kernel.

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// A DescribeVirtualNode answer shaped like the control plane's (about 700 bytes: a node with
/// a health-checked listener and an access log; the benchmark's own nodes answer ~480).
const BODY: &str = concat!(
    r#"{"meshName":"bench-c1","metadata":{"arn":"arn:aws:appmesh:us-east-1:123456789012:"#,
    r#"mesh/bench-c1/virtualNode/n0-000001","createdAt":1767225600.123,"lastUpdatedAt":"#,
    r#"1767225600.123,"meshOwner":"123456789012","resourceOwner":"123456789012","uid":"#,
    r#""0b6f4b1e-3c39-4c36-9d0e-6a1d2f6c8e41","version":1},"spec":{"listeners":[{"#,
    r#""healthCheck":{"healthyThreshold":2,"intervalMillis":5000,"path":"/ping","#,
    r#""protocol":"http2","timeoutMillis":2000,"unhealthyThreshold":2},"portMapping":"#,
    r#"{"port":80,"protocol":"http2"}}],"logging":{"accessLog":{"file":{"path":"#,
    r#""/dev/stdout"}}},"serviceDiscovery":{"dns":{"hostname":"n0-000001.apps.local"}}},"#,
    r#""status":{"status":"ACTIVE"},"virtualNodeName":"n0-000001"}"#
);

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the request body as a real server would, so keep-alive is never in question.
    let _ = req.into_body().collect().await;
    let mut resp = Response::new(Full::new(Bytes::from_static(BODY.as_bytes())));
    let h = resp.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    h.insert(
        "x-amzn-requestid",
        hyper::header::HeaderValue::from_static("00000000-0000-4000-8000-000000000000"),
    );
    Ok(resp)
}

/// Serves forever on `listen`, printing `... listening on http://ADDR` once bound.
pub(crate) fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "appmesh-loadgen ceiling listening on http://{addr}")?;
        out.flush()?;
        drop(out);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper::service::service_fn(answer))
                    .await;
            });
        }
    })
}

/// The size of the fixed answer, for the report.
pub(crate) fn body_len() -> usize {
    BODY.len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn body_is_json_of_describe_size() {
        let v: serde_json::Value = serde_json::from_str(super::BODY).expect("valid JSON");
        assert!(v["spec"]["listeners"].is_array());
        assert!(
            (600..=800).contains(&super::BODY.len()),
            "{}",
            super::BODY.len()
        );
    }
}
