// smsauth as an OpenID Provider (SPEC §16), driven by a certified relying-party library
// (panva's openid-client) and a real browser: sign-in by SMS, consent, the code flow with
// PKCE, ID tokens signed with RS256 and EdDSA and checked against the JWKS, userinfo,
// refresh-token rotation and reuse detection, revocation, and RP-initiated logout.
// Nothing here depends on the store: `.ci/run` runs this file on SQLite and on PostgreSQL + Redis.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import http from 'node:http';
import { after, before, test } from 'node:test';
import * as client from 'openid-client';
import {
  assertLabelled,
  DESKTOP,
  eventually,
  launchBrowser,
  ROOT_PASSWORD,
  screenshots,
  startGateway,
  startServer,
  WEBHOOK_SECRET,
} from '../harness.mjs';

const SCOPE = 'openid phone profile offline_access';
const THIRD_PARTY_APP = 'Acme Notes';
const FIRST_PARTY_APP = 'Acme Intranet';
let server, gateway, browser, rp, rootToken;
let publicApp, firstPartyApp;

/** A fresh Chinese mobile number per call, so per-phone limits kept in a shared Redis never bite. */
function freshPhone() {
  return `+86138${String(randomInt(0, 1e8)).padStart(8, '0')}`;
}

/** The relying party's own web server: answers "ok" and records every URL the browser brings. */
async function startRelyingParty() {
  const hits = [];
  const srv = http.createServer((req, res) => {
    hits.push(`http://127.0.0.1:${srv.address().port}${req.url}`);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok');
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${srv.address().port}`;
  return {
    origin,
    redirectUri: `${origin}/cb`,
    postLogoutUri: `${origin}/logged-out`,
    /** The last URL recorded for `pathname`. */
    last: (pathname) => hits.filter((u) => new URL(u).pathname === pathname).at(-1),
    stop: () => srv.close(),
  };
}

/** `/api/<action>` as an API client would call it; asserts 200 and returns `data`. */
async function api(action, { body = {}, token = rootToken, authenticator, query } = {}) {
  const headers = { 'Content-Type': 'application/json', 'X-Locale': 'en-US' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (authenticator) headers['X-Authenticator'] = authenticator;
  const qs = query ? `?${new URLSearchParams(query)}` : '';
  const res = await fetch(`${server.base}/api/${action}${qs}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = await res.json().catch(() => ({}));
  assert.equal(res.status, 200, `${action}: ${res.status} ${JSON.stringify(json)}`);
  return json.data;
}

/** openid-client's configuration by discovery; ID token signatures are checked against the JWKS. */
function discover(clientId, metadata, clientAuth) {
  return client.discovery(new URL(server.base), clientId, metadata, clientAuth, {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  });
}

function jwtHeader(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8'));
}

before(async () => {
  server = await startServer();
  gateway = await startGateway();
  rp = await startRelyingParty();
  browser = await launchBrowser();

  const root = { account: 'root', password: ROOT_PASSWORD };
  rootToken = (await api('auth:signIn', { token: null, authenticator: 'basic', body: root })).token;
  await api('verifiers:create', {
    body: {
      name: 'webhook',
      title: 'Webhook gateway',
      verificationType: 'sms-otp',
      isDefault: true,
      options: { provider: 'webhook', settings: { url: gateway.url, secret: WEBHOOK_SECRET } },
    },
  });
  await api('authenticators:create', {
    body: {
      name: 'sms',
      authType: 'SMS',
      title: 'SMS',
      enabled: true,
      options: { public: { verifier: 'webhook', autoSignup: true } },
    },
  });

  const pub = await api('oidcClients:create', {
    body: {
      name: THIRD_PARTY_APP,
      redirectUris: [rp.redirectUri],
      postLogoutRedirectUris: [rp.postLogoutUri],
      public: true,
      firstParty: false,
      idTokenSignedResponseAlg: 'RS256',
    },
  });
  assert.match(pub.clientId, /\S/);
  assert.equal(pub.clientSecret, undefined, 'a public client has no secret');
  assert.equal(pub.public, true);
  assert.equal(pub.idTokenSignedResponseAlg, 'RS256');
  publicApp = {
    name: THIRD_PARTY_APP,
    clientId: pub.clientId,
    config: await discover(pub.clientId, { id_token_signed_response_alg: 'RS256' }, client.None()),
  };

  const conf = await api('oidcClients:create', {
    body: {
      name: FIRST_PARTY_APP,
      redirectUris: [rp.redirectUri],
      postLogoutRedirectUris: [rp.postLogoutUri],
      public: false,
      firstParty: true,
      idTokenSignedResponseAlg: 'EdDSA',
    },
  });
  assert.equal(typeof conf.clientSecret, 'string', 'a confidential client is given its secret once');
  assert.equal(conf.idTokenSignedResponseAlg, 'EdDSA');
  firstPartyApp = {
    name: FIRST_PARTY_APP,
    clientId: conf.clientId,
    clientSecret: conf.clientSecret,
    config: await discover(
      conf.clientId,
      { client_secret: conf.clientSecret, id_token_signed_response_alg: 'EdDSA' },
      client.ClientSecretBasic(conf.clientSecret),
    ),
  };
});

after(async () => {
  await browser?.close();
  rp?.stop();
  gateway?.stop();
  server?.stop();
});

async function newPage() {
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
  const page = await context.newPage();
  page.on('pageerror', (e) => {
    throw e;
  });
  return page;
}

const at = (origin, pathname) => (url) => url.origin === origin && url.pathname === pathname;

/** On /signin: the SMS tab, a code from the gateway, and submit. */
async function signInBySms(page, phone) {
  await page.waitForURL(at(server.base, '/signin'));
  await page.getByRole('tab', { name: 'SMS' }).click();
  await page.getByLabel('Phone number').fill(phone);
  gateway.codes.delete(phone);
  await page.getByRole('button', { name: 'Send code' }).click();
  const code = await eventually(() => gateway.codes.get(phone));
  await page.getByLabel('Verification code').fill(code);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/**
 * One authorization-code flow in `page`: to the authorization endpoint, optionally signing in by
 * SMS and allowing on the consent page, back at the RP's /cb, then the code exchanged by
 * openid-client (state, nonce, iss, PKCE, ID token signature and claims all checked there).
 * `visited` lists the server paths the browser was sent through.
 */
async function authorize(page, app, { phone, consent = false } = {}) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(app.config, {
    redirect_uri: rp.redirectUri,
    scope: SCOPE,
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  const visited = [];
  const onRequest = (req) => {
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) visited.push(new URL(req.url()).pathname);
  };
  page.on('request', onRequest);
  try {
    await page.goto(url.href);
    if (phone) {
      await page.waitForURL(at(server.base, '/signin'));
      const back = new URL(page.url()).searchParams.get('redirect');
      assert.ok(back?.startsWith('/oidc/authorize?'), `sign-in returns to the authorization: ${back}`);
      // The sign-in page names the application the user is signing in to.
      await page.getByText(`Sign in to continue to ${app.name}.`).waitFor();
      if (consent) await screenshots(page, 'oidc-signin');
      await signInBySms(page, phone);
    }
    if (consent) {
      await page.waitForURL(at(server.base, '/oidc/consent'));
      await page.getByText(THIRD_PARTY_APP).first().waitFor();
      await assertLabelled(page);
      await screenshots(page, 'oidc-consent');
      // The sign-in token went into the provider session cookie, not into this origin's storage.
      assert.equal(await page.evaluate(() => localStorage.getItem('smsauth.token')), null);
      await page.getByRole('button', { name: 'Allow' }).click();
    }
    await page.waitForURL(at(rp.origin, '/cb'));
  } finally {
    page.off('request', onRequest);
  }
  const callback = rp.last('/cb');
  assert.equal(callback, page.url(), 'the RP saw the URL the browser landed on');
  const params = new URL(callback).searchParams;
  assert.equal(params.get('iss'), app.config.serverMetadata().issuer, 'RFC 9207 iss');
  assert.equal(params.get('state'), state);
  const tokens = await client.authorizationCodeGrant(app.config, new URL(callback), {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
  });
  return { tokens, claims: tokens.claims(), visited, nonce };
}

function assertTokenResponse(tokens) {
  assert.equal(tokens.token_type, 'bearer');
  assert.ok(tokens.expires_in > 0);
  assert.equal(typeof tokens.access_token, 'string');
  assert.equal(typeof tokens.id_token, 'string');
  assert.equal(typeof tokens.refresh_token, 'string', 'offline_access was asked for');
  assert.deepEqual(tokens.scope.split(' ').sort(), SCOPE.split(' ').sort());
}

function assertPhoneClaims(claims, app, phone, nonce) {
  assert.equal(claims.iss, app.config.serverMetadata().issuer);
  assert.equal(claims.aud, app.clientId);
  assert.equal(claims.nonce, nonce);
  assert.match(claims.sub, /\S/);
  assert.equal(claims.phone_number, phone);
  assert.equal(claims.phone_number_verified, true);
  assert.deepEqual(claims.amr, ['sms']);
  assert.equal(typeof claims.auth_time, 'number');
  assert.equal(typeof claims.sid, 'string');
}

/** Userinfo refuses `accessToken`: 401 with a Bearer invalid_token challenge, and openid-client throws. */
async function assertUserinfoRefused(app, accessToken, sub) {
  const res = await fetch(app.config.serverMetadata().userinfo_endpoint, {
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer\b.*invalid_token/);
  await assert.rejects(client.fetchUserInfo(app.config, accessToken, sub), (e) => e.status === 401);
}

const invalidGrant = (e) => e instanceof client.ResponseBodyError && e.error === 'invalid_grant';

test('discovery and the JWKS describe the provider', async () => {
  const meta = publicApp.config.serverMetadata();
  assert.equal(meta.issuer, server.base);
  assert.equal(meta.authorization_endpoint, `${server.base}/oidc/authorize`);
  assert.equal(meta.token_endpoint, `${server.base}/oidc/token`);
  assert.equal(meta.userinfo_endpoint, `${server.base}/oidc/userinfo`);
  assert.equal(meta.jwks_uri, `${server.base}/.well-known/jwks.json`);
  assert.equal(meta.revocation_endpoint, `${server.base}/oidc/revoke`);
  assert.equal(meta.end_session_endpoint, `${server.base}/oidc/logout`);
  assert.equal(meta.authorization_response_iss_parameter_supported, true);
  assert.ok(meta.code_challenge_methods_supported.includes('S256'));
  assert.ok(publicApp.config.serverMetadata().supportsPKCE());
  for (const alg of ['RS256', 'EdDSA']) assert.ok(meta.id_token_signing_alg_values_supported.includes(alg), alg);
  for (const m of ['client_secret_basic', 'client_secret_post', 'none']) {
    assert.ok(meta.token_endpoint_auth_methods_supported.includes(m), m);
  }
  const jwks = await (await fetch(meta.jwks_uri)).json();
  const rsa = jwks.keys.find((k) => k.kty === 'RSA' && k.alg === 'RS256');
  const ed = jwks.keys.find((k) => k.kty === 'OKP' && k.crv === 'Ed25519' && k.alg === 'EdDSA');
  assert.ok(rsa?.kid && rsa.n && rsa.e, 'an RS256 key with a kid');
  assert.ok(ed?.kid && ed.x, 'an Ed25519 key with a kid');
  for (const k of jwks.keys) assert.equal(k.d, undefined, 'no private parts');
});

test('a third-party public client: SMS sign-in, consent, an RS256 ID token, userinfo, then silent re-authorization', async () => {
  const phone = freshPhone();
  const page = await newPage();
  const first = await authorize(page, publicApp, { phone, consent: true });
  assert.ok(first.visited.includes('/signin'));
  assert.ok(first.visited.includes('/oidc/consent'));
  assertTokenResponse(first.tokens);
  const header = jwtHeader(first.tokens.id_token);
  assert.equal(header.alg, 'RS256');
  const jwks = await (await fetch(publicApp.config.serverMetadata().jwks_uri)).json();
  assert.equal(jwks.keys.find((k) => k.kid === header.kid)?.kty, 'RSA', 'signed with the JWKS RSA key');
  assertPhoneClaims(first.claims, publicApp, phone, first.nonce);

  const op = (await page.context().cookies(`${server.base}/oidc/authorize`)).find((c) => c.name === 'smsauth_op');
  assert.ok(op, 'the provider session cookie');
  assert.equal(op.httpOnly, true);
  assert.equal(op.sameSite, 'Lax');
  assert.equal(op.path, '/oidc');

  const info = await client.fetchUserInfo(publicApp.config, first.tokens.access_token, first.claims.sub);
  assert.equal(info.sub, first.claims.sub);
  assert.equal(info.phone_number, phone);
  assert.equal(info.phone_number_verified, true);

  // Same client, same scopes: the session cookie and the stored consent send the browser straight back.
  const second = await authorize(page, publicApp);
  assert.equal(second.visited[0], '/oidc/authorize');
  assert.ok(!second.visited.includes('/signin'), `no sign-in: ${second.visited}`);
  assert.ok(!second.visited.includes('/oidc/consent'), `no consent: ${second.visited}`);
  assert.equal(second.claims.sub, first.claims.sub);
  assert.equal(second.claims.auth_time, first.claims.auth_time, 'no new authentication');
  assert.equal(second.claims.sid, first.claims.sid);
  assert.deepEqual(second.claims.amr, ['sms']);
  await page.context().close();
});

test('a first-party confidential client (client_secret_basic): no consent, an EdDSA ID token checked against the JWKS', async () => {
  const phone = freshPhone();
  const page = await newPage();
  const { tokens, claims, visited, nonce } = await authorize(page, firstPartyApp, { phone });
  assert.ok(visited.includes('/signin'));
  assert.ok(!visited.includes('/oidc/consent'), `first party: no consent: ${visited}`);
  assertTokenResponse(tokens);
  // openid-client verified the signature (Node 20's WebCrypto has Ed25519) with the JWKS key of this kid.
  const header = jwtHeader(tokens.id_token);
  assert.equal(header.alg, 'EdDSA');
  const jwks = await (await fetch(firstPartyApp.config.serverMetadata().jwks_uri)).json();
  const key = jwks.keys.find((k) => k.kid === header.kid);
  assert.equal(key?.kty, 'OKP');
  assert.equal(key?.crv, 'Ed25519');
  assertPhoneClaims(claims, firstPartyApp, phone, nonce);
  assert.equal(claims.azp ?? firstPartyApp.clientId, firstPartyApp.clientId);

  const info = await client.fetchUserInfo(firstPartyApp.config, tokens.access_token, claims.sub);
  assert.equal(info.sub, claims.sub);
  assert.equal(info.phone_number, phone);

  // The secret matters: a wrong one is refused with 401 (invalid_client).
  const wrong = await discover(
    firstPartyApp.clientId,
    { client_secret: 'not-the-secret', id_token_signed_response_alg: 'EdDSA' },
    client.ClientSecretBasic('not-the-secret'),
  );
  await assert.rejects(client.refreshTokenGrant(wrong, tokens.refresh_token), (e) => e.status === 401);
  await page.context().close();
});

test('refresh tokens rotate, a reused one ends the chain, and a revoked one ends its grant', async () => {
  const phone = freshPhone();
  const page = await newPage();
  const app = firstPartyApp;
  const grant = await authorize(page, app, { phone });
  const oldRefresh = grant.tokens.refresh_token;

  const refreshed = await client.refreshTokenGrant(app.config, oldRefresh);
  assert.equal(typeof refreshed.refresh_token, 'string');
  assert.notEqual(refreshed.refresh_token, oldRefresh, 'a new refresh token on every use');
  assert.notEqual(refreshed.access_token, grant.tokens.access_token);
  if (refreshed.id_token) assert.equal(refreshed.claims().sub, grant.claims.sub);
  const info = await client.fetchUserInfo(app.config, refreshed.access_token, grant.claims.sub);
  assert.equal(info.phone_number, phone);

  // The old one again: refused, and the whole chain goes with it.
  await assert.rejects(client.refreshTokenGrant(app.config, oldRefresh), invalidGrant);
  await assert.rejects(client.refreshTokenGrant(app.config, refreshed.refresh_token), invalidGrant);

  // A second grant in the same browser session (no sign-in again), then RFC 7009 revocation.
  const other = await authorize(page, app);
  assert.ok(!other.visited.includes('/signin'));
  assert.equal(other.claims.sub, grant.claims.sub);
  await client.fetchUserInfo(app.config, other.tokens.access_token, other.claims.sub);
  await client.tokenRevocation(app.config, other.tokens.refresh_token, { token_type_hint: 'refresh_token' });
  await assert.rejects(client.refreshTokenGrant(app.config, other.tokens.refresh_token), invalidGrant);
  await assertUserinfoRefused(app, other.tokens.access_token, other.claims.sub);
  await page.context().close();
});

test('RP-initiated logout returns to the registered URI with state and ends the session and its tokens', async () => {
  const phone = freshPhone();
  const page = await newPage();
  const app = publicApp;
  const { tokens, claims } = await authorize(page, app, { phone, consent: true });
  await client.fetchUserInfo(app.config, tokens.access_token, claims.sub);

  const state = client.randomState();
  const logout = client.buildEndSessionUrl(app.config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: rp.postLogoutUri,
    state,
  });
  await page.goto(logout.href);
  await page.waitForURL(at(rp.origin, '/logged-out'));
  assert.equal(new URL(page.url()).searchParams.get('state'), state);
  assert.equal(rp.last('/logged-out'), page.url());
  const cookies = await page.context().cookies(`${server.base}/oidc/authorize`);
  assert.ok(!cookies.some((c) => c.name === 'smsauth_op'), 'the provider session cookie is gone');

  // A new authorization in the same browser must sign in again.
  const again = client.buildAuthorizationUrl(app.config, {
    redirect_uri: rp.redirectUri,
    scope: SCOPE,
    state: client.randomState(),
    nonce: client.randomNonce(),
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  await page.goto(again.href);
  await page.waitForURL(at(server.base, '/signin'));
  assert.ok(new URL(page.url()).searchParams.get('redirect')?.startsWith('/oidc/authorize?'));

  await assertUserinfoRefused(app, tokens.access_token, claims.sub);
  await page.context().close();
});

test('a logout without an ID token of this session asks the user first, then ends the session', async () => {
  const phone = freshPhone();
  const page = await newPage();
  const app = publicApp;
  const { tokens, claims } = await authorize(page, app, { phone, consent: true });
  // What Grafana's signout_redirect_url sends: no id_token_hint.
  const logout = new URL(`${server.base}/oidc/logout`);
  logout.searchParams.set('client_id', app.clientId);
  logout.searchParams.set('post_logout_redirect_uri', rp.postLogoutUri);
  logout.searchParams.set('state', 'bye');
  await page.goto(logout.href);
  await page.getByRole('heading', { name: 'Sign out?' }).waitFor();
  await assertLabelled(page);
  await screenshots(page, 'oidc-logout-confirm');
  // Nothing has ended before the user says so.
  await client.fetchUserInfo(app.config, tokens.access_token, claims.sub);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(at(rp.origin, '/logged-out'));
  assert.equal(new URL(page.url()).searchParams.get('state'), 'bye');
  await assertUserinfoRefused(app, tokens.access_token, claims.sub);
  await page.context().close();
});

test('the relying party picks the sign-in language (ui_locales) and fills in the phone (login_hint)', async () => {
  const phone = freshPhone();
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
  const page = await context.newPage();
  const url = client.buildAuthorizationUrl(firstPartyApp.config, {
    redirect_uri: rp.redirectUri,
    scope: 'openid phone',
    state: client.randomState(),
    nonce: client.randomNonce(),
    ui_locales: 'de-DE en',
    login_hint: phone,
  });
  await page.goto(url.href);
  await page.waitForURL(at(server.base, '/signin'));
  assert.equal(await page.locator('html').getAttribute('lang'), 'de-DE');
  await page.getByText(`Melden Sie sich an, um mit ${FIRST_PARTY_APP} fortzufahren.`).waitFor();
  assert.equal(await page.locator('#phone').inputValue(), phone);
  await context.close();
});

test('an operator registers an application in the admin tab and gets the values to paste', async () => {
  const page = await newPage();
  await page.goto(`${server.base}/signin?redirect=/admin`);
  await page.getByRole('tab', { name: 'Password' }).click();
  await page.getByLabel('Username or email').fill('root');
  await page.locator('#password').fill(ROOT_PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(at(server.base, '/admin'));
  await page.getByRole('tab', { name: 'Applications (OIDC)' }).click();
  await page.getByRole('button', { name: 'Add application' }).click();
  await page.getByLabel('Name').fill('Grafana');
  await page.getByLabel('Redirect URIs', { exact: true }).fill('https://grafana.example/login/generic_oauth');
  await page.getByRole('button', { name: 'Save' }).click();
  const card = page.locator('#oidc-credentials');
  await card.waitFor();
  await screenshots(page, 'admin-oidc-credentials');
  const clientId = (await page.locator('#oidc-cred-client-id').textContent()).trim();
  const secret = (await page.locator('#oidc-cred-client-secret').textContent()).trim();
  assert.match(clientId, /^oc_/);
  assert.equal((await page.locator('#oidc-cred-issuer').textContent()).trim(), server.base);
  // The values work: the token endpoint accepts the client (and refuses the made-up code).
  const res = await fetch(`${server.base}/oidc/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: 'x',
      redirect_uri: 'https://grafana.example/login/generic_oauth',
    }),
  });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error, 'invalid_grant');
  // Shown once: the list and a reload never show the secret again.
  await page.getByRole('button', { name: 'Done' }).click();
  await page.getByRole('row', { name: /Grafana/ }).waitFor();
  assert.equal(await page.getByText(secret).count(), 0);
  await page.context().close();
});
