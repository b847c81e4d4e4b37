//! A model of codes and sessions (SPEC §4–§5), checked step by step against the real server on
//! a real SQLite file: proptest draws sequences of sends, right and wrong codes, clock moves,
//! checks, sign-outs and revocations over two phones, runs them through the HTTP API, and after
//! every step compares the answer with what the model says the rules require.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app_with};

const PHONES: [&str; 2] = ["+8613800138000", "+8613900139000"];

#[derive(Debug, Clone)]
enum Op {
    Send(usize),
    RightCode(usize),
    WrongCode(usize),
    Advance(i64),
    Check(usize),
    SignOut(usize),
    Revoke(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..PHONES.len()).prop_map(Op::Send),
        3 => (0..PHONES.len()).prop_map(Op::RightCode),
        3 => (0..PHONES.len()).prop_map(Op::WrongCode),
        2 => prop::sample::select(vec![1i64, 5, 11, 31, 121, 3_600, 86_401]).prop_map(Op::Advance),
        3 => (0..6usize).prop_map(Op::Check),
        1 => (0..6usize).prop_map(Op::SignOut),
        1 => (0..PHONES.len()).prop_map(Op::Revoke),
    ]
}

/// The newest code of a phone, as the rules see it.
#[derive(Debug, Clone)]
struct Code {
    code: String,
    expires: DateTime<Utc>,
    failures: u32,
    used: bool,
}

#[derive(Debug, Default, Clone)]
struct PhoneState {
    code: Option<Code>,
    consecutive_failures: u32,
    blocked_until: Option<DateTime<Utc>>,
    user_id: Option<i64>,
}

#[derive(Debug, Clone)]
struct Token {
    token: String,
    session: usize,
    /// Expiry, whole seconds (the JWT's `exp`).
    exp: i64,
    /// When it was renewed into another token: (instant, the new token's index).
    renewed: Option<(DateTime<Utc>, usize)>,
}

#[derive(Debug, Clone)]
struct SessionState {
    alive: bool,
    signed_in: DateTime<Utc>,
    user_id: i64,
}

#[derive(Default)]
struct Model {
    phones: [PhoneState; 2],
    tokens: Vec<Token>,
    sessions: Vec<SessionState>,
}

impl Model {
    fn live_code(&self, p: usize, now: DateTime<Utc>) -> Option<&Code> {
        self.phones[p]
            .code
            .as_ref()
            .filter(|c| !c.used && c.expires > now)
    }

    fn blocked(&self, p: usize, now: DateTime<Utc>) -> bool {
        self.phones[p].blocked_until.is_some_and(|u| u > now)
    }

    /// A wrong code was counted: per-phone back-off (5 free, 30 s doubling, capped at 1 h).
    fn count_failure(&mut self, p: usize, now: DateTime<Utc>) {
        let phone = &mut self.phones[p];
        phone.consecutive_failures += 1;
        if phone.consecutive_failures >= 5 {
            let exp = (phone.consecutive_failures - 5).min(20);
            let delay = (30i64 << exp).min(3_600);
            phone.blocked_until = Some(now + Duration::seconds(delay));
        }
        if let Some(c) = phone.code.as_mut() {
            c.failures += 1;
        }
    }
}

async fn run(ops: Vec<Op>) {
    let app = spawn_app_with(|s| {
        s.limits.send_per_phone_hour = 0;
        s.limits.send_per_phone_day = 0;
        s.limits.send_per_ip_hour = 0;
        s.limits.verify_per_ip_5min = 0;
        s.limits.global_send_hour = 0;
    })
    .await;
    app.setup_sms(true).await;
    let mut m = Model::default();
    for (step, op) in ops.into_iter().enumerate() {
        let now = app.clock_now();
        let ctx = format!("step {step}: {op:?}");
        apply(&app, &mut m, op, now, &ctx).await;
    }
}

async fn apply(app: &TestApp, m: &mut Model, op: Op, now: DateTime<Utc>, ctx: &str) {
    match op {
        Op::Send(p) => {
            let before = app.sms.count();
            let r = app.send_code(PHONES[p]).await;
            // An exhausted code no longer blocks a new one (SPEC §4.1).
            if m.live_code(p, now).is_some_and(|c| c.failures < 5) {
                r.assert_error(429, "RateLimit");
                assert_eq!(app.sms.count(), before, "{ctx}: a refused send sent an SMS");
            } else {
                assert_eq!(r.status, 200, "{ctx}: {:?}", r.body);
                assert_eq!(app.sms.count(), before + 1, "{ctx}: one SMS per send");
                m.phones[p].code = Some(Code {
                    code: app.sms.last_code(PHONES[p]),
                    expires: now + Duration::seconds(120),
                    failures: 0,
                    used: false,
                });
            }
        }
        Op::RightCode(p) => {
            let Some(code) = m.phones[p].code.clone() else {
                return;
            };
            let r = app.sign_in_sms(PHONES[p], &code.code).await;
            if m.blocked(p, now) {
                r.assert_error(429, "TooManyAttempts");
            } else if code.used || code.expires <= now {
                r.assert_error(400, "InvalidVerificationCode");
            } else if code.failures >= 5 {
                r.assert_error(429, "TooManyAttempts");
            } else {
                assert_eq!(r.status, 200, "{ctx}: {:?}", r.body);
                let phone = &mut m.phones[p];
                phone.code.as_mut().unwrap().used = true;
                phone.consecutive_failures = 0;
                phone.blocked_until = None;
                let user_id = r.body["data"]["user"]["id"].as_i64().unwrap();
                assert!(
                    phone.user_id.is_none_or(|u| u == user_id),
                    "{ctx}: one user per phone"
                );
                phone.user_id = Some(user_id);
                m.sessions.push(SessionState {
                    alive: true,
                    signed_in: now,
                    user_id,
                });
                m.tokens.push(Token {
                    token: r.body["data"]["token"].as_str().unwrap().to_string(),
                    session: m.sessions.len() - 1,
                    exp: now.timestamp() + 86_400,
                    renewed: None,
                });
            }
        }
        Op::WrongCode(p) => {
            let wrong = match m.phones[p].code.as_ref() {
                Some(c) if c.code == "000000" => "000001",
                _ => "000000",
            };
            let r = app.sign_in_sms(PHONES[p], wrong).await;
            if m.blocked(p, now) {
                r.assert_error(429, "TooManyAttempts");
            } else if let Some(c) = m.live_code(p, now).cloned() {
                if c.failures >= 5 {
                    r.assert_error(429, "TooManyAttempts");
                } else {
                    r.assert_error(400, "InvalidVerificationCode");
                    m.count_failure(p, now);
                }
            } else {
                // Nothing to guess against: refused, and not counted against the phone.
                r.assert_error(400, "InvalidVerificationCode");
            }
        }
        Op::Advance(secs) => app.advance(secs),
        Op::Check(i) => {
            let Some(t) = m.tokens.get(i).cloned() else {
                return;
            };
            let r = app.check(&t.token).await;
            settle(m, i, now, &r, ctx);
        }
        Op::SignOut(i) => {
            let Some(t) = m.tokens.get(i).cloned() else {
                return;
            };
            let r = app
                .post(
                    "auth:signOut",
                    json!({}),
                    &[("Authorization", &format!("Bearer {}", t.token))],
                )
                .await;
            if settle(m, i, now, &r, ctx) {
                // Signing out ends the session: every token of it stops working.
                m.sessions[t.session].alive = false;
            }
        }
        Op::Revoke(p) => {
            let Some(user_id) = m.phones[p].user_id else {
                return;
            };
            // A fresh root session: the clock moves, and root's tokens expire like any other.
            let root = app.admin_token().await;
            let r = app
                .admin(
                    &root,
                    &format!("users:revokeSessions?filterByTk={user_id}"),
                    json!({}),
                )
                .await;
            assert_eq!(r.status, 200, "{ctx}: {:?}", r.body);
            for s in m.sessions.iter_mut().filter(|s| s.user_id == user_id) {
                s.alive = false;
            }
        }
    }
}

/// What presenting token `i` must do, by the rules of SPEC §5.3–5.5.
#[derive(Debug)]
enum Expect {
    Works,
    /// Works, renewed: into the token at this index (already known), or into a new one.
    Renews(Option<usize>),
    /// Refused with this code; `true` when the refusal also ends the session (reuse).
    Refused(&'static str, bool),
    /// Refused with some 401 (an ended session: the code depends on how it ended).
    Ended,
}

fn expect(m: &Model, t: &Token, now: DateTime<Utc>) -> Expect {
    let session = &m.sessions[t.session];
    let secs = now.timestamp();
    if !session.alive {
        return Expect::Ended;
    }
    if (now - session.signed_in).num_milliseconds() > 7 * 86_400_000 {
        return Expect::Refused("EXPIRED_SESSION", false);
    }
    if t.exp > secs {
        return Expect::Works;
    }
    if secs - t.exp > 86_400 {
        return Expect::Refused("EXPIRED_SESSION", false);
    }
    match t.renewed {
        None => Expect::Renews(None),
        // The grace window counts from the renewal's whole second.
        Some((at, into)) if now.timestamp_millis() - at.timestamp() * 1000 <= 10_000 => {
            Expect::Renews(Some(into))
        }
        Some(_) => Expect::Refused("TOKEN_RENEW_FAILED", true),
    }
}

/// Checks the answer to presenting token `i` and applies what it did to the model; returns
/// whether the request went through.
fn settle(
    m: &mut Model,
    i: usize,
    now: DateTime<Utc>,
    r: &crate::helpers::Resp,
    ctx: &str,
) -> bool {
    let t = m.tokens[i].clone();
    match expect(m, &t, now) {
        Expect::Ended => {
            assert_eq!(
                r.status, 401,
                "{ctx}: an ended session's token worked: {:?}",
                r.body
            );
            false
        }
        Expect::Refused(code, ends) => {
            r.assert_error(401, code);
            if ends {
                m.sessions[t.session].alive = false;
            }
            false
        }
        Expect::Works => {
            assert_eq!(r.status, 200, "{ctx}: {:?}", r.body);
            assert!(r.header("x-new-token").is_none(), "{ctx}");
            true
        }
        Expect::Renews(Some(into)) => {
            assert_eq!(r.status, 200, "{ctx}: {:?}", r.body);
            assert_eq!(
                r.header("x-new-token"),
                Some(m.tokens[into].token.as_str()),
                "{ctx}"
            );
            true
        }
        Expect::Renews(None) => {
            assert_eq!(r.status, 200, "{ctx}: {:?}", r.body);
            let fresh = r.header("x-new-token").expect("renewed").to_string();
            m.tokens.push(Token {
                token: fresh,
                session: t.session,
                exp: now.timestamp() + 86_400,
                renewed: None,
            });
            m.tokens[i].renewed = Some((now, m.tokens.len() - 1));
            true
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("SMSAUTH_MODEL_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24),
        ..ProptestConfig::default()
    })]

    #[test]
    fn codes_and_sessions_follow_the_rules_after_every_step(ops in prop::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run(ops));
    }
}
