//! Pre-signed requests and the keep-alive HTTP/1.1 connection each client owns.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use appmesh_control_plane::sigv4::Signer;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue, CONNECTION};
use hyper::{HeaderMap, Method, Request, Uri, Version};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The access key every benchmarked server knows (moto accepts any).
pub(crate) const ACCESS_KEY_ID: &str = "AKIDBENCH";
/// Its secret.
pub(crate) const SECRET: &str = "bench-secret";
/// The account it belongs to.
pub(crate) const ACCOUNT: &str = "123456789012";

/// Where requests go and how they are signed.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The server's address.
    pub(crate) addr: SocketAddr,
    /// The `host` header value.
    host: String,
}

impl Target {
    /// A target at `addr`.
    pub(crate) fn new(addr: SocketAddr) -> Target {
        Target {
            addr,
            host: addr.to_string(),
        }
    }

    /// Signs one request now; `query` is already percent-encoded.
    pub(crate) fn prepare(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Prepared> {
        let body = body.map(Bytes::from).unwrap_or_default();
        let mut headers: Vec<(String, String)> = vec![("host".to_owned(), self.host.clone())];
        if !body.is_empty() {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        let signer = Signer {
            access_key_id: ACCESS_KEY_ID,
            secret: SECRET,
            session_token: None,
            region: "us-east-1",
            service: "appmesh",
        };
        signer.sign(method.as_str(), path, query, &mut headers, &body, now);
        let mut map = HeaderMap::with_capacity(headers.len());
        for (k, v) in headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).context("header name")?,
                HeaderValue::from_maybe_shared(Bytes::from(v)).context("header value")?,
            );
        }
        let uri: Uri = if query.is_empty() {
            path.parse()
        } else {
            format!("{path}?{query}").parse()
        }
        .context("request path")?;
        Ok(Prepared {
            method,
            uri,
            headers: map,
            body,
        })
    }
}

/// A signed request ready to send, any number of times while its signature is valid.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Prepared {
    /// The request itself; the parts are reference-counted, so this copies no bytes.
    fn request(self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body));
        *req.method_mut() = self.method;
        *req.uri_mut() = self.uri;
        *req.headers_mut() = self.headers;
        req
    }
}

/// An answer: its status and body.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The whole body.
    pub(crate) body: Bytes,
}

impl Answer {
    /// Whether the status is 2xx.
    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Status and the start of the body, for error reports.
    pub(crate) fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned();
        format!("HTTP {} {}", self.status, body.replace('\n', " "))
    }
}

/// One keep-alive HTTP/1.1 connection that reconnects when the server closes it.
pub(crate) struct Conn {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Connections opened after the first one.
    pub(crate) reconnects: u64,
    opened: u64,
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP/1.1 handshake")?;
    tokio::spawn(async move {
        // Ends when the server closes the connection or the sender is dropped.
        let _ = connection.await;
    });
    Ok(sender)
}

impl Conn {
    /// Opens a connection to `addr`.
    pub(crate) async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        let sender = connect(addr).await?;
        Ok(Conn {
            addr,
            sender: Some(sender),
            reconnects: 0,
            opened: 1,
        })
    }

    async fn sender(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        if self.sender.as_ref().is_some_and(SendRequest::is_closed) {
            self.sender = None;
        }
        if self.sender.is_none() {
            let s = connect(self.addr).await?;
            if self.opened > 0 {
                self.reconnects += 1;
            }
            self.opened += 1;
            self.sender = Some(s);
        }
        let sender = self.sender.as_mut().context("no connection")?;
        if sender.ready().await.is_err() {
            // Closed between the check and now: one more connection.
            let s = connect(self.addr).await?;
            self.reconnects += 1;
            self.opened += 1;
            self.sender = Some(s);
        }
        self.sender.as_mut().context("no connection")
    }

    /// Sends a request and reads the whole answer, reconnecting (transparently, and counted)
    /// when the server has closed the connection before the request went out.
    pub(crate) async fn send(&mut self, prepared: Prepared) -> anyhow::Result<Answer> {
        let mut req = prepared.request();
        for _ in 0..3 {
            let sender = self.sender().await?;
            match sender.try_send_request(req).await {
                Ok(resp) => {
                    let close = (resp.version() == Version::HTTP_10
                        && !header_has(resp.headers(), "keep-alive"))
                        || header_has(resp.headers(), "close");
                    let status = resp.status().as_u16();
                    let body = resp
                        .into_body()
                        .collect()
                        .await
                        .context("reading the answer")?
                        .to_bytes();
                    if close {
                        self.sender = None;
                    }
                    return Ok(Answer { status, body });
                }
                Err(mut e) => match e.take_message() {
                    Some(back) => {
                        // Never written: the connection had closed. Retry on a new one.
                        self.sender = None;
                        req = back;
                    }
                    None => {
                        self.sender = None;
                        return Err(anyhow::Error::new(e.into_error()).context("request"));
                    }
                },
            }
        }
        anyhow::bail!("the server closed three connections in a row before a request went out")
    }

    /// Sends a request and times it, including any reconnection it needed.
    pub(crate) async fn timed(&mut self, prepared: Prepared) -> (Duration, anyhow::Result<Answer>) {
        let start = Instant::now();
        let answer = self.send(prepared).await;
        (start.elapsed(), answer)
    }
}

fn header_has(headers: &HeaderMap, token: &str) -> bool {
    headers.get_all(CONNECTION).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

/// Percent-encodes a query value as SigV4 does (everything but unreserved characters).
pub(crate) fn encode_query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded_like_sigv4() {
        assert_eq!(encode_query_value("a b+c/=~"), "a%20b%2Bc%2F%3D~");
        assert_eq!(encode_query_value("eyJ2IjoxfQ"), "eyJ2IjoxfQ");
    }
}
