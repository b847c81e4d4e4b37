//! The built-in SMS gateway: an HTTP server on 127.0.0.1:0 that receives the webhook
//! provider's POST (SPEC §12: JSON `{"phone","code",..}`, `X-Signature-256: sha256=<hex
//! HMAC-SHA256(secret, raw body)>`), checks the signature, and hands the code to the client
//! waiting for that phone. Owns the waiters and the delivery counts; never decides whether a
//! flow failed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Lock shards of the waiter map, so that 256 clients do not queue on one mutex.
const SHARDS: usize = 64;

type Waiters = HashMap<String, oneshot::Sender<String>>;

/// What the receiver has seen since it started.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Counts {
    /// Messages with a good signature.
    pub received: u64,
    /// Messages refused for a missing or wrong signature (always a server fault here).
    pub bad_signatures: u64,
    /// Good messages nobody waited for (the send flow does not read its codes).
    pub unclaimed: u64,
}

/// The receiver's shared state.
pub struct Receiver {
    secret: Vec<u8>,
    shards: Vec<Mutex<Waiters>>,
    hasher: RandomState,
    received: AtomicU64,
    bad_signatures: AtomicU64,
    unclaimed: AtomicU64,
}

#[derive(Deserialize)]
struct Message {
    phone: String,
    code: String,
}

impl Receiver {
    /// Starts the receiver; returns it and the URL to configure as the webhook.
    pub async fn start(secret: &str) -> anyhow::Result<(Arc<Receiver>, String)> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the webhook receiver")?;
        let addr: SocketAddr = listener.local_addr()?;
        let receiver = Arc::new(Receiver {
            secret: secret.as_bytes().to_vec(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            received: AtomicU64::new(0),
            bad_signatures: AtomicU64::new(0),
            unclaimed: AtomicU64::new(0),
        });
        let state = receiver.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(state.handle(req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok((receiver, format!("http://{addr}/sms")))
    }

    fn shard(&self, phone: &str) -> &Mutex<Waiters> {
        let i = (self.hasher.hash_one(phone) as usize) % SHARDS;
        &self.shards[i]
    }

    /// Registers interest in the next code for `phone`; call before sending the code.
    pub fn expect(&self, phone: &str) -> oneshot::Receiver<String> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut map) = self.shard(phone).lock() {
            map.insert(phone.to_string(), tx);
        }
        rx
    }

    /// Withdraws interest (the send failed, or the code never came).
    pub fn forget(&self, phone: &str) {
        if let Ok(mut map) = self.shard(phone).lock() {
            map.remove(phone);
        }
    }

    pub fn counts(&self) -> Counts {
        Counts {
            received: self.received.load(Ordering::Relaxed),
            bad_signatures: self.bad_signatures.load(Ordering::Relaxed),
            unclaimed: self.unclaimed.load(Ordering::Relaxed),
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let signature = req
            .headers()
            .get("x-signature-256")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("sha256="))
            .and_then(|hex| hex::decode(hex).ok());
        let Ok(body) = req.into_body().collect().await.map(|b| b.to_bytes()) else {
            return answer(StatusCode::BAD_REQUEST);
        };
        if !signature.is_some_and(|sig| self.signed(&body, &sig)) {
            self.bad_signatures.fetch_add(1, Ordering::Relaxed);
            return answer(StatusCode::UNAUTHORIZED);
        }
        let Ok(message) = serde_json::from_slice::<Message>(&body) else {
            return answer(StatusCode::BAD_REQUEST);
        };
        self.received.fetch_add(1, Ordering::Relaxed);
        let waiter = self
            .shard(&message.phone)
            .lock()
            .ok()
            .and_then(|mut map| map.remove(&message.phone));
        if waiter.is_none_or(|tx| tx.send(message.code).is_err()) {
            self.unclaimed.fetch_add(1, Ordering::Relaxed);
        }
        answer(StatusCode::OK)
    }

    /// Constant-time check of the HMAC, as a real gateway would do it.
    fn signed(&self, body: &[u8], signature: &[u8]) -> bool {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret) else {
            return false;
        };
        mac.update(body);
        mac.verify_slice(signature).is_ok()
    }
}

fn answer(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Client;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[tokio::test]
    async fn a_signed_message_reaches_its_waiter_and_a_forged_one_is_refused() {
        let (receiver, url) = Receiver::start("s3cret").await.unwrap();
        let addr: SocketAddr = url
            .trim_start_matches("http://")
            .trim_end_matches("/sms")
            .parse()
            .unwrap();
        let mut client = Client::new(addr).unwrap();
        let waiting = receiver.expect("+31610000001");
        let body = br#"{"phone":"+31610000001","code":"123456","action":"auth:signIn"}"#.to_vec();
        let good = sign("s3cret", &body);
        let header = hyper::header::HeaderName::from_static("x-signature-256");
        let r = client
            .post("/sms", body.clone(), &[(header.clone(), &good)])
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(waiting.await.unwrap(), "123456");
        let forged = sign("other", &body);
        let r = client
            .post("/sms", body.clone(), &[(header, &forged)])
            .await
            .unwrap();
        assert_eq!(r.status, 401);
        let r = client.post("/sms", body, &[]).await.unwrap();
        assert_eq!(r.status, 401);
        let counts = receiver.counts();
        assert_eq!(
            (counts.received, counts.bad_signatures, counts.unclaimed),
            (1, 2, 0)
        );
    }
}
