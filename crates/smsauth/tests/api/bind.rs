//! Binding and unbinding a phone in the user centre (SPEC §6.4).

use serde_json::json;

use crate::helpers::{PHONE, spawn_app};

#[tokio::test]
async fn bind_then_unbind_a_phone_with_codes() {
    let app = spawn_app().await;
    app.setup_sms(true).await;
    let token = app.sms_token(PHONE).await;
    let auth = format!("Bearer {token}");
    let h = [("Authorization", auth.as_str())];
    let other = "+8613800138001";
    // Binding needs a signed-in caller.
    app.send_code_for("verifiers:bind", other, &[])
        .await
        .assert_error(401, "EMPTY_TOKEN");
    let r = app.send_code_for("verifiers:bind", other, &h).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let code = app.sms.last_code(other);
    app.post(
        "verifiers:bind",
        json!({"verifier": "sms-webhook", "uuid": other, "code": "000000"}),
        &h,
    )
    .await;
    let r = app
        .post(
            "verifiers:bind",
            json!({"verifier": "sms-webhook", "uuid": other, "code": code}),
            &h,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.get("verifiers:listByUser", &h).await;
    let v = &r.body["data"][0];
    assert_eq!(v["boundInfo"]["bound"], true);
    assert_eq!(v["boundInfo"]["publicInfo"], "+86*******8001");
    let r = app
        .get("verifiers:listForVerify?scene=unbind-verifier", &h)
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    // A second bind is refused.
    let r = app
        .post(
            "verifiers:bind",
            json!({"verifier": "sms-webhook", "uuid": other, "code": "123456"}),
            &h,
        )
        .await;
    r.assert_error(400, "ALREADY_BOUND");
    assert_eq!(r.message(), "You have already bound this verifier");
    // Unbind: the code goes to the bound phone, whatever `uuid` says.
    let r = app
        .send_code_for("verifiers:unbind", "+8613800138002", &h)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let code = app.sms.last_code(other);
    let r = app
        .post(
            "verifiers:unbind",
            json!({"verifier": "sms-webhook", "unbindVerifier": "sms-webhook", "code": code}),
            &h,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.get("verifiers:listByUser", &h).await;
    assert_eq!(r.body["data"][0]["boundInfo"]["bound"], false);
    // Nothing bound any more.
    app.send_code_for("verifiers:unbind", other, &h)
        .await
        .assert_error(400, "NOT_BOUND");
}
