#!/usr/bin/env python3
"""A confidential relying party on Python's authlib against the smsauth OpenID Provider (SPEC §16).

Self-contained: starts the release binary on a free port with a fresh data directory (and
DATABASE_URL / REDIS_URL from the environment when set), runs a signed webhook SMS gateway in a
thread, configures the server as root through the API, signs a user in by SMS, and then runs the
authorization-code flow with PKCE through authlib's OAuth2Session twice: once with
client_secret_basic and an RS256 ID token, once with client_secret_post and an EdDSA one. Each
run checks RFC 9207 `iss`, the ID token against the JWKS, userinfo and refresh-token rotation.

    pip install -r e2e/rp/requirements.txt && python3 e2e/rp/authlib_client.py

SMSAUTH_BIN overrides the binary (default ../../target/release/smsauth next to this file).
Exits non-zero on any failure.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import authlib.deprecate
import requests

# authlib 1.x deprecates authlib.jose in favour of joserfc but keeps it until 2.0; the warning
# filter is installed by authlib.deprecate itself, so ours has to come after that import.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.common.security import generate_token
    from authlib.integrations.requests_client import OAuth2Session, OAuthError
    from authlib.jose import JsonWebKey, JsonWebToken

ROOT_PASSWORD = "authlib-root-password"
WEBHOOK_SECRET = "authlib-webhook-secret"
SCOPE = "openid phone profile offline_access"
# Never contacted: the provider's 302 is read, not followed.
REDIRECT_URI = "http://127.0.0.1:9/authlib/cb"
TIMEOUT = 10


def fresh_phone():
    """A new Chinese mobile number each time, so per-phone limits in a shared Redis never bite."""
    return "+86138" + f"{secrets.randbelow(10**8):08d}"


class Gateway:
    """The webhook SMS provider: checks X-Signature-256 and records the last code per phone."""

    def __init__(self):
        self.codes = {}
        self.rejected = 0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self._body()
                expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()
                got = self.headers.get("X-Signature-256", "")
                if not hmac.compare_digest(got.encode(), expected.encode()):
                    gateway.rejected += 1
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                msg = json.loads(raw)
                gateway.codes[msg["phone"]] = msg["code"]
                out = b'{"ok":true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def _body(self):
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length", "0")))

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_code(self, phone, seconds=10):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if phone in self.codes:
                return self.codes[phone]
            time.sleep(0.05)
        raise AssertionError(f"no code reached the gateway for {phone}")

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Server:
    """The release binary on 127.0.0.1:0 with a temporary data directory."""

    def __init__(self):
        here = Path(__file__).resolve().parent
        binary = os.environ.get("SMSAUTH_BIN") or str(here / ".." / ".." / "target" / "release" / "smsauth")
        self.data_dir = tempfile.mkdtemp(prefix="smsauth-authlib-")
        env = dict(os.environ)  # DATABASE_URL, REDIS_URL, SMSAUTH_REDIS_PREFIX… pass through
        env.pop("SMSAUTH_BIN", None)
        env.pop("SMSAUTH_PUBLIC_URL", None)  # the issuer is the bound address
        env.update(
            SMSAUTH_LISTEN="127.0.0.1:0",
            SMSAUTH_DATA_DIR=self.data_dir,
            INIT_ROOT_PASSWORD=ROOT_PASSWORD,
            SMSAUTH_DEFAULT_REGION="CN",
            RUST_LOG="info",
            NO_COLOR="1",
        )
        self.output = []
        self.proc = subprocess.Popen(
            [binary, "serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        found = threading.Event()
        self.base = None

        def drain():
            for line in self.proc.stdout:
                self.output.append(line)
                m = re.search(r"smsauth listening addr=(\S+)", line)
                if m and not found.is_set():
                    self.base = f"http://{m.group(1)}"
                    found.set()
            found.set()

        threading.Thread(target=drain, daemon=True).start()
        if not found.wait(20) or self.base is None:
            self.stop()
            raise AssertionError("server did not start:\n" + self.logs())

    def logs(self):
        return "".join(self.output)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def api(base, action, body=None, token=None, authenticator=None, session=None):
    """POST /api/<action>; asserts 200 and returns `data`."""
    headers = {"X-Locale": "en-US"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if authenticator:
        headers["X-Authenticator"] = authenticator
    r = (session or requests).post(f"{base}/api/{action}", json=body or {}, headers=headers, timeout=TIMEOUT)
    assert r.status_code == 200, f"{action}: {r.status_code} {r.text}"
    return r.json()["data"]


def configure(base, gateway):
    """As root: the webhook verifier, the SMS authenticator (auto sign-up) and two clients."""
    root = api(base, "auth:signIn", {"account": "root", "password": ROOT_PASSWORD}, authenticator="basic")["token"]
    api(
        base,
        "verifiers:create",
        {
            "name": "webhook",
            "title": "Webhook gateway",
            "verificationType": "sms-otp",
            "isDefault": True,
            "options": {"provider": "webhook", "settings": {"url": gateway.url, "secret": WEBHOOK_SECRET}},
        },
        token=root,
    )
    api(
        base,
        "authenticators:create",
        {
            "name": "sms",
            "authType": "SMS",
            "title": "SMS",
            "enabled": True,
            "options": {"public": {"verifier": "webhook", "autoSignup": True}},
        },
        token=root,
    )
    clients = {}
    for alg in ("RS256", "EdDSA"):
        c = api(
            base,
            "oidcClients:create",
            {
                "name": f"authlib {alg}",
                "redirectUris": [REDIRECT_URI],
                "public": False,
                "firstParty": True,
                "idTokenSignedResponseAlg": alg,
            },
            token=root,
        )
        assert c["clientId"] and isinstance(c.get("clientSecret"), str), f"a confidential client: {c}"
        assert c["idTokenSignedResponseAlg"] == alg, c
        clients[alg] = c
    return clients


def sign_in_user(base, gateway):
    """The end user's browser, as a requests.Session: SMS sign-in, then the provider session cookie."""
    user = requests.Session()
    phone = fresh_phone()
    api(base, "smsOTP:publicCreate", {"action": "auth:signIn", "verifier": "webhook", "uuid": phone}, session=user)
    code = gateway.wait_code(phone)
    token = api(base, "auth:signIn", {"uuid": phone, "code": code}, authenticator="sms", session=user)["token"]
    r = user.post(f"{base}/oidc/session", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    assert r.status_code in (200, 204), f"/oidc/session: {r.status_code} {r.text}"
    assert any(c.name == "smsauth_op" for c in user.cookies), f"no smsauth_op cookie: {r.headers}"
    return user, phone


def check_id_token(id_token, jwks, alg, issuer, client_id, nonce, phone):
    part = id_token.split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    assert header.get("alg") == alg, f"ID token alg {header.get('alg')}, registered {alg}"
    assert header.get("kid"), f"ID token without kid: {header}"
    # Only the algorithm registered for this client is accepted (no alg confusion).
    claims = JsonWebToken([alg]).decode(
        id_token,
        JsonWebKey.import_key_set(jwks),
        claims_options={
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
        },
    )
    claims.validate(leeway=30)
    if nonce is not None:
        assert claims.get("nonce") == nonce, f"nonce {claims.get('nonce')} != {nonce}"
    assert claims.get("azp", client_id) == client_id, claims
    assert claims["amr"] == ["sms"], f"amr {claims.get('amr')}"
    assert claims["phone_number"] == phone, f"phone_number {claims.get('phone_number')} != {phone}"
    assert claims["phone_number_verified"] is True, claims
    assert isinstance(claims.get("auth_time"), int), claims
    return claims


def run_flow(meta, jwks, user, phone, client, auth_method):
    alg = client["idTokenSignedResponseAlg"]
    issuer = meta["issuer"]
    rp = OAuth2Session(
        client["clientId"],
        client["clientSecret"],
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method=auth_method,
    )
    responses = []
    rp.register_compliance_hook("access_token_response", lambda r: responses.append(r) or r)
    rp.register_compliance_hook("refresh_token_response", lambda r: responses.append(r) or r)

    code_verifier = generate_token(48)
    nonce = generate_token(20)
    url, state = rp.create_authorization_url(meta["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce)
    r = user.get(url, allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code in (302, 303), f"authorize: {r.status_code} {r.text[:300]}"
    location = r.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?"), f"first party, signed in: straight back to the RP, got {location}"
    q = parse_qs(urlsplit(location).query)
    assert q.get("iss") == [issuer], f"RFC 9207 iss {q.get('iss')} != {issuer}"
    assert q.get("state") == [state], f"state {q.get('state')}"
    assert q.get("code"), location

    token = rp.fetch_token(
        meta["token_endpoint"], authorization_response=location, code_verifier=code_verifier, state=state
    )
    assert "no-store" in responses[-1].headers.get("Cache-Control", ""), responses[-1].headers
    assert token["token_type"].lower() == "bearer", token
    assert int(token["expires_in"]) > 0, token
    assert sorted(token["scope"].split()) == sorted(SCOPE.split()), token["scope"]
    assert token.get("refresh_token"), "offline_access was asked for: a refresh token"
    claims = check_id_token(token["id_token"], jwks, alg, issuer, client["clientId"], nonce, phone)

    r = rp.get(meta["userinfo_endpoint"], timeout=TIMEOUT)
    assert r.status_code == 200, f"userinfo: {r.status_code} {r.text}"
    info = r.json()
    assert info["sub"] == claims["sub"], f"userinfo sub {info['sub']} != {claims['sub']}"
    assert info["phone_number"] == phone, info

    old = token["refresh_token"]
    new = rp.refresh_token(meta["token_endpoint"], refresh_token=old)
    assert new.get("refresh_token") and new["refresh_token"] != old, "the refresh token rotates"
    assert new["access_token"] != token["access_token"], "a new access token"
    assert "no-store" in responses[-1].headers.get("Cache-Control", ""), responses[-1].headers
    if new.get("id_token"):
        again = check_id_token(new["id_token"], jwks, alg, issuer, client["clientId"], None, phone)
        assert again["sub"] == claims["sub"], again
    r = rp.get(meta["userinfo_endpoint"], timeout=TIMEOUT)
    assert r.status_code == 200, f"userinfo after refresh: {r.status_code} {r.text}"

    # The old refresh token again: refused (and the chain ends).
    try:
        rp.refresh_token(meta["token_endpoint"], refresh_token=old)
    except OAuthError as e:
        assert e.error == "invalid_grant", f"reused refresh token: {e.error}"
    else:
        raise AssertionError("a reused refresh token was accepted")
    return claims["sub"]


def main():
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # plain http on loopback
    gateway = Gateway()
    server = None
    try:
        server = Server()
        base = server.base
        clients = configure(base, gateway)
        meta = requests.get(f"{base}/.well-known/openid-configuration", timeout=TIMEOUT).json()
        assert meta["issuer"] == base, f"issuer {meta['issuer']} != {base}"
        assert meta.get("authorization_response_iss_parameter_supported") is True, meta
        for m in ("client_secret_basic", "client_secret_post"):
            assert m in meta["token_endpoint_auth_methods_supported"], meta
        jwks = requests.get(meta["jwks_uri"], timeout=TIMEOUT).json()
        summary = []
        for auth_method, alg in (("client_secret_basic", "RS256"), ("client_secret_post", "EdDSA")):
            user, phone = sign_in_user(base, gateway)
            sub = run_flow(meta, jwks, user, phone, clients[alg], auth_method)
            summary.append(f"{auth_method} + {alg}: sub {sub}, iss/nonce/amr/phone checked, refresh rotated")
        assert gateway.rejected == 0, "the gateway refused a signature"
        print("authlib relying party against", base)
        for line in summary:
            print("  ok", line)
    except BaseException:
        if server is not None:
            sys.stderr.write("--- server output ---\n" + server.logs()[-8000:])
        raise
    finally:
        if server is not None:
            server.stop()
        gateway.stop()


if __name__ == "__main__":
    main()
