//! The attack mix of SECURITY.md, scripted: over three instances on one store (and Redis when
//! the suite runs on PostgreSQL + Redis), from 1,000 client addresses behind a trusted proxy at
//! once: bombing one victim, pumping premium-rate numbers and one ranged prefix, and guessing a
//! real user's code; legitimate users sign in meanwhile. The SMS actually sent must stay within
//! the bounds SECURITY.md states for the default settings, and no code may be guessed.

use std::sync::Arc;

use serde_json::json;

use crate::helpers::*;

const ADDRESSES: usize = 1000;

fn address(i: usize) -> String {
    format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
}

async fn send(http: &reqwest::Client, base: &str, phone: &str, ip: &str) -> u16 {
    http.post(format!("{base}/api/smsOTP:publicCreate"))
        .header("X-Forwarded-For", ip)
        .json(&json!({"action": "auth:signIn", "verifier": "sms-webhook", "uuid": phone}))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

async fn sign_in(http: &reqwest::Client, base: &str, phone: &str, code: &str, ip: &str) -> u16 {
    http.post(format!("{base}/api/auth:signIn"))
        .header("X-Forwarded-For", ip)
        .header("X-Authenticator", "sms")
        .json(&json!({"uuid": phone, "code": code}))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bombing_pumping_and_guessing_stay_within_the_documented_bounds() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    app.setup_sms(true).await;
    let peers = [app.peer().await, app.peer().await];
    let bases: Arc<Vec<String>> = Arc::new(vec![
        app.base.clone(),
        peers[0].base.clone(),
        peers[1].base.clone(),
    ]);
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();

    // A real user whose code the attackers guess at.
    let target = "+8613700137000";
    assert_eq!(send(&http, &bases[0], target, "192.0.2.1").await, 200);
    let real_code = app.sms.last_code(target);

    let victim = "+8613800138000";
    let mut tasks = Vec::new();
    for i in 0..ADDRESSES {
        let (http, bases) = (http.clone(), bases.clone());
        tasks.push(tokio::spawn(async move {
            let ip = address(i);
            let base = &bases[i % 3];
            // Bombing: every address asks for a code to the victim.
            send(&http, base, victim, &ip).await;
            // Pumping: a premium-rate number and a number of one ranged prefix.
            send(&http, base, &format!("+1900555{:04}", i % 10_000), &ip).await;
            send(&http, base, &format!("+861360013{:04}", i), &ip).await;
            // Guessing: one wrong code per address for the real user.
            let guess = format!("{:06}", (i * 7919) % 1_000_000);
            let status = sign_in(&http, base, target, &guess, &ip).await;
            (guess, status)
        }));
    }
    // Legitimate users of other prefixes sign in while the attack runs.
    let mut legit = Vec::new();
    for (n, phone) in ["+8613900139001", "+8615800158002", "+8618600186003"]
        .into_iter()
        .enumerate()
    {
        let (http, bases, sms) = (http.clone(), bases.clone(), app.sms.clone());
        legit.push(tokio::spawn(async move {
            let ip = format!("192.0.2.{}", 10 + n);
            let base = &bases[n % 3];
            assert_eq!(send(&http, base, phone, &ip).await, 200, "{phone}");
            let code = sms.last_code(phone);
            sign_in(&http, base, phone, &code, &ip).await
        }));
    }
    let mut guessed = Vec::new();
    for t in tasks {
        let (guess, status) = t.await.unwrap();
        if status == 200 {
            guessed.push(guess);
        }
    }
    for t in legit {
        assert_eq!(
            t.await.unwrap(),
            200,
            "a legitimate user signs in during the attack"
        );
    }
    // Five wrong tries spend the code, so at most five of the 1,000 guesses were even compared:
    // one of them matching has a chance of 5 in a million.
    assert!(
        guessed.is_empty(),
        "guessed: {guessed:?} (the code was {real_code})"
    );

    let messages = app.sms.messages.lock().unwrap().clone();
    let to = |pred: &dyn Fn(&str) -> bool| {
        messages
            .iter()
            .filter(|m| pred(m["phone"].as_str().unwrap_or("")))
            .count()
    };
    // SECURITY.md: one live code per phone at a time, so within one code lifetime the victim
    // gets one SMS, however many addresses ask.
    assert_eq!(to(&|p| p == victim), 1, "bombing");
    assert_eq!(
        to(&|p| p.starts_with("+1900")),
        0,
        "premium-rate numbers are refused"
    );
    // Pumping detection: at most `prefixUnverifiedMax` (10) unverified codes per prefix.
    assert!(
        to(&|p| p.starts_with("+861360013")) <= 10,
        "pumping: {}",
        to(&|p| p.starts_with("+861360013"))
    );
    let total = messages.len();
    assert!(total <= 1 + 1 + 10 + 3, "{total} SMS in all");
}
