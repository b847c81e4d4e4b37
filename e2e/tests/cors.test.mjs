// A page served from another origin signs in and calls auth:check with its bearer token, in a
// real browser: the CORS preflight must name Authorization (SPEC §15.7).
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { launchBrowser, ROOT_PASSWORD, startServer } from '../harness.mjs';

let server, other, browser;

before(async () => {
  server = await startServer();
  other = http.createServer((_req, res) => {
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end('<!doctype html><title>other origin</title>');
  });
  await new Promise((r) => other.listen(0, '127.0.0.1', r));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  other?.close();
  server?.stop();
});

test('a page of another origin signs in with a password and sends its bearer token', async () => {
  const page = await (await browser.newContext()).newPage();
  // Another port is another origin.
  await page.goto(`http://127.0.0.1:${other.address().port}/`);
  const result = await page.evaluate(
    async ({ base, password }) => {
      const signIn = await fetch(`${base}/api/auth:signIn`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Authenticator': 'basic', 'X-Locale': 'en-US' },
        body: JSON.stringify({ account: 'root', password }),
      });
      const token = (await signIn.json()).data.token;
      const check = await fetch(`${base}/api/auth:check`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'X-Request-Id': 'cors-e2e-1' },
      });
      const body = await check.json();
      return {
        signIn: signIn.status,
        check: check.status,
        username: body.data?.username,
        requestId: check.headers.get('x-request-id'),
      };
    },
    { base: server.base, password: ROOT_PASSWORD },
  );
  assert.deepEqual(result, { signIn: 200, check: 200, username: 'root', requestId: 'cors-e2e-1' });
});
