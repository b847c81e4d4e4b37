//! One closed-loop client: its connection, its phones and token, and the requests of each
//! flow with the bodies of crates/smsauth/tests/api/helpers.rs. Decides what counts as an
//! error (any status but the expected one; for a wrong code, anything but 400
//! `InvalidVerificationCode`) and as refused (429 on a send under `--limits default`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use hyper::header::HeaderName;
use serde::Deserialize;
use serde_json::json;

use super::{Flow, MEASURE, STOP, Tally, Target};
use crate::client::{Client, Response};
use crate::phones::phone;
use crate::setup::{AUTHENTICATOR, VERIFIER};

/// How long a client waits for the webhook to deliver its code.
const CODE_TIMEOUT: Duration = Duration::from_secs(10);

/// How one iteration ended.
enum Outcome {
    Done,
    /// A send was refused with 429 under the default limits.
    Refused,
    Failed {
        step: usize,
        why: String,
    },
}

/// Step latencies of one iteration (µs), for the steps that were answered as expected.
type Latencies = [Option<u64>; 3];

pub(super) struct Worker {
    client: Client,
    target: Arc<Target>,
    flow: Flow,
    /// The check flow's token.
    token: Option<String>,
    /// The signin flow's users (phone indices); when empty, `fixed_phone` is used instead.
    users: std::ops::Range<u64>,
    cursor: u64,
    /// The phone signed up in [`Worker::prepare`], if any.
    fixed_phone: Option<String>,
}

#[derive(Deserialize)]
struct SignInAnswer {
    data: SignInData,
}

#[derive(Deserialize)]
struct SignInData {
    token: String,
}

impl Worker {
    pub(super) fn new(
        client: Client,
        target: Arc<Target>,
        flow: Flow,
        users: std::ops::Range<u64>,
    ) -> Worker {
        Worker {
            client,
            target,
            flow,
            token: None,
            users,
            cursor: 0,
            fixed_phone: None,
        }
    }

    /// Connects, and signs a user up where the flow needs a token or an existing user.
    pub(super) async fn prepare(&mut self) -> anyhow::Result<()> {
        self.client.connect().await?;
        let needs_user =
            self.flow == Flow::Check || (self.flow == Flow::Signin && self.users.is_empty());
        if needs_user {
            let phone = self.target.fresh_phone();
            let mut lat = [None; 3];
            match self.sign_up(&phone, &mut lat).await {
                (Outcome::Done, Some(token)) => {
                    self.token = Some(token);
                    self.fixed_phone = Some(phone);
                }
                (Outcome::Failed { why, .. }, _) => anyhow::bail!(why),
                _ => anyhow::bail!("the send was refused (the limits are on)"),
            }
        }
        Ok(())
    }

    pub(super) async fn run(&mut self, phase: &AtomicU8, tally: &mut Tally) {
        while phase.load(Ordering::Relaxed) != STOP {
            let started = Instant::now();
            let mut lat: Latencies = [None; 3];
            let outcome = self.iteration(&mut lat).await;
            let micros = started.elapsed().as_micros() as u64;
            if phase.load(Ordering::Relaxed) != MEASURE {
                continue;
            }
            for (hist, us) in tally.steps.iter_mut().zip(lat) {
                if let Some(us) = us {
                    hist.saturating_record(us);
                }
            }
            match outcome {
                Outcome::Done => {
                    tally.ops += 1;
                    tally.total.saturating_record(micros);
                }
                Outcome::Refused => {
                    tally.ops += 1;
                    tally.refused += 1;
                    tally.total.saturating_record(micros);
                }
                Outcome::Failed { step, why } => {
                    let name = self.flow.steps().get(step).copied().unwrap_or("?");
                    tally.error(Some(step), format!("{name}: {why}"));
                }
            }
        }
    }

    async fn iteration(&mut self, lat: &mut Latencies) -> Outcome {
        match self.flow {
            Flow::Send => {
                let phone = self.target.fresh_phone();
                self.send(&phone, false, lat).await.0
            }
            Flow::Signup => {
                let phone = self.target.fresh_phone();
                self.sign_up(&phone, lat).await.0
            }
            Flow::Signin => {
                let phone = self.next_user();
                self.sign_up(&phone, lat).await.0
            }
            Flow::Check => {
                let token = self.token.clone().unwrap_or_default();
                self.check(0, &token, lat).await
            }
            Flow::WrongCode => {
                let phone = self.target.fresh_phone();
                self.wrong_code(&phone, lat).await
            }
        }
    }

    fn next_user(&mut self) -> String {
        if let Some(p) = &self.fixed_phone {
            return p.clone();
        }
        let n = self.users.end - self.users.start;
        let i = self.users.start + self.cursor % n.max(1);
        self.cursor += 1;
        phone(i)
    }

    /// Send, code, sign-in, check; the token on success.
    async fn sign_up(&mut self, phone: &str, lat: &mut Latencies) -> (Outcome, Option<String>) {
        let (outcome, code) = self.send(phone, true, lat).await;
        let Some(code) = code else {
            return (outcome, None);
        };
        let token = match self.sign_in(phone, &code, lat).await {
            Ok(token) => token,
            Err(outcome) => return (outcome, None),
        };
        let outcome = self.check(2, &token, lat).await;
        (outcome, Some(token))
    }

    /// `smsOTP:publicCreate`; with `want_code`, also the code the webhook received.
    async fn send(
        &mut self,
        phone: &str,
        want_code: bool,
        lat: &mut Latencies,
    ) -> (Outcome, Option<String>) {
        let receiver = self.target.receiver.clone();
        let waiting = want_code.then(|| receiver.expect(phone));
        let body = json!({"action": "auth:signIn", "verifier": VERIFIER, "uuid": phone});
        let started = Instant::now();
        let answer = self.post("/api/smsOTP:publicCreate", &body, &[]).await;
        let micros = started.elapsed().as_micros() as u64;
        let failed = |why: String| Outcome::Failed { step: 0, why };
        let outcome = match answer {
            Ok(r) if r.status == 200 => {
                lat[0] = Some(micros);
                Outcome::Done
            }
            Ok(r) if r.status == 429 && self.target.refusals_expected => {
                lat[0] = Some(micros);
                Outcome::Refused
            }
            Ok(r) => failed(format!("{} {}", r.status, r.snippet())),
            Err(e) => failed(format!("{e:#}")),
        };
        let Some(waiting) = waiting else {
            return (outcome, None);
        };
        if !matches!(outcome, Outcome::Done) {
            receiver.forget(phone);
            return (outcome, None);
        }
        match tokio::time::timeout(CODE_TIMEOUT, waiting).await {
            Ok(Ok(code)) => (Outcome::Done, Some(code)),
            _ => {
                receiver.forget(phone);
                (failed("the webhook never delivered the code".into()), None)
            }
        }
    }

    /// `auth:signIn` with the SMS authenticator; the token, or how it failed.
    async fn sign_in(
        &mut self,
        phone: &str,
        code: &str,
        lat: &mut Latencies,
    ) -> Result<String, Outcome> {
        let failed = |why: String| Outcome::Failed { step: 1, why };
        let body = json!({"uuid": phone, "code": code});
        let started = Instant::now();
        let answer = self
            .post("/api/auth:signIn", &body, &[authenticator()])
            .await;
        let micros = started.elapsed().as_micros() as u64;
        match answer {
            Ok(r) if r.status == 200 => match serde_json::from_slice::<SignInAnswer>(&r.body) {
                Ok(a) => {
                    lat[1] = Some(micros);
                    Ok(a.data.token)
                }
                Err(_) => Err(failed(format!("200 without a token: {}", r.snippet()))),
            },
            Ok(r) => Err(failed(format!("{} {}", r.status, r.snippet()))),
            Err(e) => Err(failed(format!("{e:#}"))),
        }
    }

    /// `GET auth:check` with `token`, recorded as step `step`.
    async fn check(&mut self, step: usize, token: &str, lat: &mut Latencies) -> Outcome {
        let started = Instant::now();
        let answer = self.client.get("/api/auth:check", Some(token)).await;
        let micros = started.elapsed().as_micros() as u64;
        match answer {
            Ok(r) if r.status == 200 => {
                lat[step] = Some(micros);
                Outcome::Done
            }
            Ok(r) => Outcome::Failed {
                step,
                why: format!("{} {}", r.status, r.snippet()),
            },
            Err(e) => Outcome::Failed {
                step,
                why: format!("{e:#}"),
            },
        }
    }

    /// `auth:signIn` with `000000` for a phone that has no code: 400 `InvalidVerificationCode`.
    async fn wrong_code(&mut self, phone: &str, lat: &mut Latencies) -> Outcome {
        let body = json!({"uuid": phone, "code": "000000"});
        let started = Instant::now();
        let answer = self
            .post("/api/auth:signIn", &body, &[authenticator()])
            .await;
        let micros = started.elapsed().as_micros() as u64;
        let expected = |r: &Response| {
            r.status == 400
                && serde_json::from_slice::<serde_json::Value>(&r.body)
                    .is_ok_and(|v| v["errors"][0]["code"] == "InvalidVerificationCode")
        };
        match answer {
            Ok(r) if expected(&r) => {
                lat[0] = Some(micros);
                Outcome::Done
            }
            Ok(r) => Outcome::Failed {
                step: 0,
                why: format!("{} {}", r.status, r.snippet()),
            },
            Err(e) => Outcome::Failed {
                step: 0,
                why: format!("{e:#}"),
            },
        }
    }

    async fn post(
        &mut self,
        path: &str,
        body: &serde_json::Value,
        headers: &[(HeaderName, &str)],
    ) -> anyhow::Result<Response> {
        self.client
            .post(path, serde_json::to_vec(body)?, headers)
            .await
    }
}

fn authenticator() -> (HeaderName, &'static str) {
    (HeaderName::from_static("x-authenticator"), AUTHENTICATOR)
}
