// Starts what the browser tests need: the release binary on a free port with a fresh data
// directory, a webhook SMS gateway that checks X-Signature-256 and records codes, and Chromium.
import { spawn } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT_PASSWORD = 'e2e-root-password';
export const WEBHOOK_SECRET = 'e2e-webhook-secret';
export const SCREENSHOTS = path.join(root, 'docs', 'screenshots');

export async function startServer() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'smsauth-e2e-'));
  const bin = process.env.SMSAUTH_BIN || path.join(root, 'target', 'release', 'smsauth');
  const child = spawn(bin, ['serve'], {
    env: {
      ...process.env,
      SMSAUTH_LISTEN: '127.0.0.1:0',
      SMSAUTH_DATA_DIR: dataDir,
      INIT_ROOT_PASSWORD: ROOT_PASSWORD,
      SMSAUTH_DEFAULT_REGION: 'CN',
      RUST_LOG: 'info',
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 20000);
    const onData = (chunk) => {
      output += chunk;
      const m = /smsauth listening addr=(\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
  return {
    base,
    logs: () => output,
    stop: () => {
      child.kill('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A webhook gateway; `codes` maps E.164 numbers to the last code sent there. */
export async function startGateway() {
  const codes = new Map();
  let rejected = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const expected = Buffer.from(`sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`);
      const got = Buffer.from(String(req.headers['x-signature-256'] || ''));
      if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
        rejected += 1;
        res.writeHead(401).end();
        return;
      }
      const msg = JSON.parse(body.toString('utf8'));
      codes.set(msg.phone, msg.code);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/sms`,
    codes,
    rejected: () => rejected,
    stop: () => server.close(),
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 360, height: 740 };

/** Saves `name-desktop.png` and `name-phone.png` of the current page. */
export async function screenshots(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const [label, size] of [
    ['desktop', DESKTOP],
    ['phone', PHONE],
  ]) {
    await page.setViewportSize(size);
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(DESKTOP);
}

/** Waits until `fn()` returns a truthy value (polling), for codes arriving at the gateway. */
export async function eventually(fn, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Fails when a visible form control has neither a <label> nor an aria-label. */
export async function assertLabelled(page) {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((e) => e.type !== 'hidden' && e.offsetParent !== null)
      .filter((e) => (!e.labels || e.labels.length === 0) && !e.getAttribute('aria-label'))
      .map((e) => e.id || e.name || e.outerHTML.slice(0, 60)),
  );
  if (unlabelled.length) throw new Error(`controls without a label: ${unlabelled.join(', ')}`);
}
