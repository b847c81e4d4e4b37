//! The connection layer against real sockets (SPEC §15.7): deadlines for request heads, idle
//! keep-alive connections and bodies; load shedding; a connection cap that keeps the server
//! reachable under a file limit; and the error envelope on requests hyper cannot parse.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{FakeSms, TestApp, spawn_app_with};
use crate::process::ServerProcess;

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (or `within` passes); returns what was read
/// and whether it was closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, false),
        }
    }
}

/// Status and JSON body of a raw HTTP/1.1 response.
fn parse(raw: &[u8]) -> (u16, Value) {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no head: {text}"));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, body)
}

#[track_caller]
fn assert_envelope(raw: &[u8], status: u16, code: &str) {
    let (got, body) = parse(raw);
    assert_eq!(got, status, "{body}");
    assert_eq!(body["errors"][0]["code"], code, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// Sends `raw` on a fresh connection and reads the whole answer.
async fn exchange(app: &TestApp, raw: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr(app)).await.unwrap();
    // The server may answer and close before it has read everything: ignore write errors.
    let _ = s.write_all(raw).await;
    read_until_closed(&mut s, Duration::from_secs(10)).await.0
}

#[tokio::test]
async fn requests_hyper_cannot_parse_get_the_error_envelope() {
    let app = spawn_app_with(|_| {}).await;
    let long_uri = format!(
        "GET /api/auth:check?x={} HTTP/1.1\r\nHost: a\r\n\r\n",
        "a".repeat(70_000)
    );
    assert_envelope(
        &exchange(&app, long_uri.as_bytes()).await,
        414,
        "URI_TOO_LONG",
    );
    let mut many = String::from("GET /healthz HTTP/1.1\r\nHost: a\r\n");
    for i in 0..1000 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_envelope(
        &exchange(&app, many.as_bytes()).await,
        431,
        "HEADERS_TOO_LARGE",
    );
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "b".repeat(1 << 20)
    );
    assert_envelope(
        &exchange(&app, huge.as_bytes()).await,
        431,
        "HEADERS_TOO_LARGE",
    );
    let nul = b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Nul: a\0b\r\n\r\n";
    assert_envelope(&exchange(&app, nul).await, 400, "BAD_REQUEST");
    let twice = b"POST /api/auth:check HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}";
    assert_envelope(&exchange(&app, twice).await, 400, "BAD_REQUEST");
    // Ordinary requests on the same server are unaffected.
    let ok = exchange(
        &app,
        b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        ok.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&ok)
    );
}

#[tokio::test]
async fn a_request_head_trickled_in_is_cut_at_the_header_deadline() {
    let app = spawn_app_with(|s| s.http.header_read_timeout_secs = 1).await;
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    let started = Instant::now();
    s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let mut closed = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if s.write_all(b"X").await.is_err() {
            closed = true;
            break;
        }
        let mut b = [0u8; 64];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(1), s.read(&mut b)).await {
            closed = true;
            break;
        }
    }
    assert!(closed, "a head trickled over 8 s was never cut");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|s| s.http.idle_timeout_secs = 1).await;
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut buf = [0u8; 4096];
    for _ in 0..3 {
        // Shorter pauses than the timeout keep the connection.
        s.write_all(request).await.unwrap();
        let n = s.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(6)).await;
    assert!(closed, "an idle connection was kept");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "closed before the idle timeout"
    );
}

#[tokio::test]
async fn a_body_trickled_past_the_body_deadline_is_cut_with_408() {
    let app = spawn_app_with(|s| s.http.body_timeout_secs = 1).await;
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    s.write_all(
        b"POST /api/authenticators:publicList HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..80 {
        let _ = s.write_all(b" ").await;
        match tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let (rest, closed) = read_until_closed(&mut s, Duration::from_secs(2)).await;
    answer.extend(rest);
    assert_envelope(&answer, 408, "REQUEST_TIMEOUT");
    assert!(closed);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn requests_beyond_max_in_flight_are_shed_with_503() {
    let app = spawn_app_with(|s| {
        s.http.max_in_flight = 1;
        s.http.body_timeout_secs = 3;
    })
    .await;
    // One request holds the only slot while its body trickles in.
    let mut slow = TcpStream::connect(addr(&app)).await.unwrap();
    slow.write_all(
        b"POST /api/authenticators:publicList HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n{",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = crate::helpers::into_resp(
        app.http
            .get(app.url("/api/authenticators:publicList"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(503, "SERVICE_UNAVAILABLE");
    assert_eq!(r.header("retry-after"), Some("1"));
    // When the slot frees, requests are served again.
    slow.write_all(b"}        ").await.unwrap();
    let _ = read_until_closed(&mut slow, Duration::from_millis(300)).await;
    drop(slow);
    let r = app.get("authenticators:publicList", &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn idle_and_slow_clients_cannot_starve_others_under_a_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SMSAUTH_HTTP__HEADER_READ_TIMEOUT_SECS", "2".to_string())];
    let server = ServerProcess::start(dir.path(), None, &env, Some(1024));
    let (sms, sms_url) = FakeSms::start().await;
    let app = server.app(&sms, &sms_url);
    let target = app.base.trim_start_matches("http://").to_string();
    // 1,100 idle connections, more than the file limit allows, and 100 slowloris heads.
    // A connect the server never accepts waits in the kernel's backlog: bound each one.
    let connect = |target: String| async move {
        tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(target))
            .await
            .ok()
            .and_then(Result::ok)
    };
    let mut idle = Vec::new();
    for _ in 0..1100 {
        if let Some(s) = connect(target.clone()).await {
            idle.push(s);
        }
    }
    let mut slow = Vec::new();
    for _ in 0..100 {
        if let Some(mut s) = connect(target.clone()).await {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nX-A: ").await;
            slow.push(s);
        }
    }
    // A legitimate client is served (before the fix it waited until idle connections left).
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        app.get("authenticators:publicList", &[]),
    )
    .await
    .expect("a legitimate request was not answered within 5 s");
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The slow heads are cut at the header deadline.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut cut = 0;
    for s in &mut slow {
        let mut b = [0u8; 16];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(20), s.read(&mut b)).await
        {
            cut += 1;
        }
    }
    assert_eq!(cut, slow.len(), "every slow head was closed");
    // And the server still serves.
    let r = app.get("authenticators:publicList", &[]).await;
    assert_eq!(r.status, 200);
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sigterm_readiness_fails_first_while_requests_are_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(
        dir.path(),
        None,
        &[("SMSAUTH_HTTP__SHUTDOWN_DELAY_SECS", "2".into())],
        None,
    );
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = server.base.clone();
    let get = |path: &str| http.get(format!("{base}{path}")).send();
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    server.terminate();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let ready = crate::helpers::into_resp(get("/readyz").await.unwrap()).await;
    ready.assert_error(503, "SERVICE_UNAVAILABLE");
    assert!(
        ready.message().contains("shutting down"),
        "{}",
        ready.message()
    );
    assert!(ready.header("retry-after").is_some());
    // Still serving during the delay.
    let r = get("/api/authenticators:publicList").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!server.exited(), "the listener stays open for the delay");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !server.exited() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server exits after the delay"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// 2,000 idle connections and a client trickling its request head do not slow a sign-in by SMS
/// (SPEC §15.7): each connection costs the server a parked task, not a worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_idle_connections_and_a_slow_client_leave_sign_in_as_fast_as_before() {
    let app = spawn_app_with(|_| {}).await;
    app.setup_sms(true).await;
    let median_sign_in = |from: usize| {
        let app = &app;
        async move {
            let mut times = Vec::new();
            for i in from..from + 7 {
                let started = Instant::now();
                app.sms_token(&format!("+86138{i:04}5678")).await;
                times.push(started.elapsed());
            }
            times.sort();
            times[times.len() / 2]
        }
    };
    let before = median_sign_in(0).await;
    let target = addr(&app);
    let mut idle = Vec::new();
    for _ in 0..2000 {
        idle.push(TcpStream::connect(&target).await.unwrap());
    }
    let slow = tokio::spawn({
        let target = target.clone();
        async move {
            let mut s = TcpStream::connect(target).await.unwrap();
            for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1234567890" {
                if s.write_all(&[*b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    let during = median_sign_in(100).await;
    // Generous: the point is that idle connections cost nothing, not a benchmark.
    assert!(
        during <= before * 3 + Duration::from_millis(250),
        "sign-in took {during:?} with 2,000 idle connections, {before:?} without"
    );
    slow.abort();
    drop(idle);
}
