//! One HTTP/1.1 keep-alive connection to the server (hyper's low-level client, no pool): what
//! each closed-loop client owns. Reconnects after the server closes the connection. Knows
//! nothing about smsauth's API beyond sending JSON.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer, reduced to what the flows look at.
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

impl Response {
    /// The body as text, shortened, for error reports.
    pub fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(200).collect()
    }
}

/// A client bound to one server address.
pub struct Client {
    addr: SocketAddr,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    /// A client for `addr`; it connects on first use.
    pub fn new(addr: SocketAddr) -> anyhow::Result<Client> {
        let host = HeaderValue::from_str(&addr.to_string()).context("host header")?;
        Ok(Client {
            addr,
            host,
            sender: None,
        })
    }

    /// Connects now (so that connecting is not part of the first measured request).
    pub async fn connect(&mut self) -> anyhow::Result<()> {
        self.ready().await.map(|_| ())
    }

    async fn ready(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        let reuse = match &mut self.sender {
            Some(s) if !s.is_closed() => s.ready().await.is_ok(),
            _ => false,
        };
        if !reuse {
            let stream = TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("cannot connect to {}", self.addr))?;
            stream.set_nodelay(true)?;
            let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(async move {
                // The connection ends when the server closes it or the client is dropped.
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        self.sender.as_mut().context("no connection to the server")
    }

    /// POSTs `body` (JSON) to `path` with extra headers.
    pub async fn post(
        &mut self,
        path: &str,
        body: Vec<u8>,
        headers: &[(HeaderName, &str)],
    ) -> anyhow::Result<Response> {
        self.send(Method::POST, path, body, headers).await
    }

    /// GETs `path`, with a bearer token when given.
    pub async fn get(&mut self, path: &str, token: Option<&str>) -> anyhow::Result<Response> {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(HeaderName, &str)> = bearer
            .as_deref()
            .map(|b| (AUTHORIZATION, b))
            .into_iter()
            .collect();
        self.send(Method::GET, path, Vec::new(), &headers).await
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        headers: &[(HeaderName, &str)],
    ) -> anyhow::Result<Response> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone());
        if !body.is_empty() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        for (name, value) in headers {
            builder = builder.header(name, *value);
        }
        let request = builder.body(Full::new(Bytes::from(body)))?;
        let result = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let sender = self.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok(Response { status, body })
        })
        .await;
        match result {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e.context(format!("request to {path} failed")))
            }
            Err(_) => {
                self.sender = None;
                anyhow::bail!("request to {path} timed out after {REQUEST_TIMEOUT:?}")
            }
        }
    }
}
