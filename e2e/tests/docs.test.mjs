// The API reference: /api/openapi.json is a valid OpenAPI 3.1 document, and /api/docs renders all
// of it in a real browser under the pages' Content-Security-Policy.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { assertLabelled, DESKTOP, eventually, launchBrowser, PHONE, SCREENSHOTS, startServer } from '../harness.mjs';

const catalogue = (locale) =>
  JSON.parse(readFileSync(new URL(`../../crates/smsauth/src/i18n/locales/${locale}.json`, import.meta.url), 'utf8'));
const EN = catalogue('en-US');
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const SIGN_IN = '/api/auth:signIn';
let server, browser, doc;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const res = await fetch(`${server.base}/api/openapi.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  doc = await res.json();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** The operations of a path item, by method. */
const operations = (item) => Object.entries(item).filter(([m]) => METHODS.includes(m));
/** The article of `p` on the page (paths hold no quotes or backslashes). */
const entry = (page, p) => page.locator(`article.docs-op[data-path=${JSON.stringify(p)}]`);

/** The node a local `$ref` names, or undefined. */
function pointer(ref) {
  if (!ref.startsWith('#/')) return undefined;
  let node = doc;
  for (const part of ref.slice(2).split('/')) {
    const key = part.replaceAll('~1', '/').replaceAll('~0', '~');
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

test('the document is valid OpenAPI 3.1', async () => {
  const validator = new Validator();
  const result = await validator.validate(structuredClone(doc));
  assert.ok(result.valid, `the document does not match the OpenAPI schema:\n${JSON.stringify(result.errors, null, 2)}`);
  assert.equal(validator.version, '3.1');
  assert.equal(doc.openapi, '3.1.0');
});

test('the document holds what the reference page renders', () => {
  // Every $ref resolves inside the document.
  const broken = [];
  const walk = (node) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === '$ref' && (typeof v !== 'string' || pointer(v) === undefined)) broken.push(v);
        else walk(v);
      }
    }
  };
  walk(doc);
  assert.deepEqual(broken, []);
  // Each operation: a known tag, an ACL, a unique id, a 200, and codes for each error status.
  const tags = new Set(doc.tags.map((t) => t.name));
  const ids = new Set();
  for (const [p, item] of Object.entries(doc.paths)) {
    assert.ok(operations(item).length > 0, `${p} has no operation`);
    for (const [method, op] of operations(item)) {
      const where = `${method} ${p}`;
      assert.equal(op.tags?.length, 1, where);
      assert.ok(tags.has(op.tags[0]), `${where}: unknown tag ${op.tags[0]}`);
      assert.ok(['public', 'signedIn', 'admin', 'root'].includes(op['x-smsauth-acl']), where);
      assert.deepEqual(op.security, op['x-smsauth-acl'] === 'public' ? [] : [{ bearer: [] }], where);
      assert.ok(op.summary, where);
      assert.ok(!ids.has(op.operationId), `${where}: operationId ${op.operationId} twice`);
      ids.add(op.operationId);
      assert.ok(op.responses['200'], `${where}: no 200`);
      for (const [status, r] of Object.entries(op.responses)) {
        if (status !== '200') assert.ok(r['x-smsauth-codes']?.length > 0, `${where} ${status}: no codes`);
      }
    }
  }
  const signIn = doc.paths[SIGN_IN];
  assert.deepEqual(Object.keys(signIn).sort(), ['get', 'post']);
  assert.equal(signIn.post.operationId, 'auth_signIn');
  assert.equal(signIn.get.operationId, 'auth_signIn_get');
  assert.ok(signIn.post.requestBody.content['application/json'].schema.$ref);
  assert.ok(doc.components.securitySchemes.bearer);
});

test('/api/docs renders every path, links to each, filters, and breaks no CSP rule', async () => {
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
  // Init scripts come from the browser, not the page, so the CSP does not apply to this one.
  await context.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.location().url?.endsWith('/favicon.ico')) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  const response = await page.goto(`${server.base}/api/docs`);
  assert.match(response.headers()['content-security-policy'], /script-src 'self'/);
  await entry(page, SIGN_IN).waitFor();
  assert.equal(await page.title(), `${EN['docs.title']} – ${doc.info.title}`);
  await page.getByRole('heading', { level: 1, name: doc.info.title }).waitFor();

  // One entry per path, with its methods and its ACL badge.
  const rendered = await page.locator('article.docs-op').evaluateAll((articles) =>
    articles.map((a) => ({
      path: a.dataset.path,
      shown: a.querySelector('.docs-path').textContent,
      methods: [...a.querySelectorAll('.docs-method')].map((m) => m.textContent),
      acl: a.querySelector('.docs-acl')?.textContent ?? '',
    })),
  );
  assert.deepEqual(rendered.map((r) => r.shown).sort(), Object.keys(doc.paths).sort());
  for (const r of rendered) {
    const item = doc.paths[r.path];
    assert.equal(r.shown, r.path);
    const methods = operations(item).map(([m]) => m.toUpperCase());
    assert.deepEqual(r.methods.sort(), methods.sort(), r.path);
    const acl = operations(item)[0][1]['x-smsauth-acl'];
    assert.ok(r.acl.endsWith(EN[`docs.acl.${acl}`]), `${r.path}: badge "${r.acl}" for ${acl}`);
  }

  // The navigation links every entry, and every link lands on an element of the page.
  const links = await page.locator('.docs-nav a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  const targets = await page.evaluate(
    (hrefs) => hrefs.filter((h) => h.startsWith('#') && document.getElementById(h.slice(1))),
    links,
  );
  assert.deepEqual(targets, links);
  assert.equal(await page.locator('.docs-nav li').count(), Object.keys(doc.paths).length);
  const signIn = entry(page, SIGN_IN);
  const signInId = await signIn.getAttribute('id');
  await page.locator(`.docs-nav a[href="#${signInId}"]`).click();
  await eventually(() => new URL(page.url()).hash === `#${signInId}`);

  // auth:signIn: its headers, its request fields (with the legacy `phone`), its error codes.
  const headers = await signIn.locator('.docs-params td:first-child code').allTextContents();
  assert.ok(headers.includes('X-Authenticator'), `parameters: ${headers.join(', ')}`);
  const fields = await signIn.locator('.docs-request td:first-child code').allTextContents();
  assert.ok(fields.includes('phone'), `request fields: ${fields.join(', ')}`);
  const codes = await signIn.locator('.docs-errors td code').allTextContents();
  assert.ok(codes.includes('InvalidVerificationCode'), `error codes: ${codes.join(', ')}`);
  const documented = Object.entries(doc.paths[SIGN_IN].post.responses).flatMap(([, r]) => r['x-smsauth-codes'] ?? []);
  assert.deepEqual([...new Set(codes)].sort(), [...new Set(documented)].sort());
  // A code's description is the server's message for it, in the reader's language.
  assert.ok((await signIn.locator('.docs-errors').innerText()).includes(EN.InvalidVerificationCode));
  const answer = await signIn.locator('.docs-response td:first-child code').allTextContents();
  assert.ok(answer.includes('data.token'), `response fields: ${answer.join(', ')}`);

  await page.evaluate(() => window.scrollTo(0, 0));
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, 'api-docs.png') });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'api-docs-phone.png') });
  await page.setViewportSize(DESKTOP);

  // The filter keeps the entries whose path or summary holds the text.
  const filter = page.getByLabel(EN['docs.filter']);
  await filter.fill('users');
  await signIn.waitFor({ state: 'hidden' });
  assert.equal(await page.locator(`.docs-nav a[href="#${signInId}"]`).isVisible(), false);
  const expected = Object.entries(doc.paths)
    .filter(([p, item]) => `${p}\n${operations(item)[0][1].summary}`.toLowerCase().includes('users'))
    .map(([p]) => p);
  assert.ok(expected.includes('/api/users:list'));
  const visible = await page.locator('article.docs-op:visible .docs-path').allTextContents();
  assert.deepEqual(visible.sort(), expected.sort());
  const count = EN['docs.count'].replace('{{shown}}', expected.length).replace('{{total}}', rendered.length);
  assert.equal(await page.locator('#docs-count').innerText(), count);
  await filter.fill('no-such-operation');
  await page.getByText(EN['docs.noMatch']).waitFor();
  await filter.fill('');
  await signIn.waitFor();
  assert.equal(await page.locator('article.docs-op:visible').count(), rendered.length);
  await assertLabelled(page);

  assert.deepEqual(await page.evaluate(() => window.cspViolations), []);
  assert.deepEqual(problems, []);
  await context.close();
});

test('/api/docs says so in the reader’s language when the document cannot be loaded', async () => {
  const DE = catalogue('de-DE');
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'de-DE' });
  const page = await context.newPage();
  page.on('pageerror', (e) => {
    throw e;
  });
  let refuse = true;
  await page.route('**/api/openapi.json', (route) =>
    refuse ? route.fulfill({ status: 503, contentType: 'application/json', body: '{}' }) : route.continue(),
  );
  await page.goto(`${server.base}/api/docs`);
  await page.getByRole('alert').filter({ hasText: DE['docs.loadFailed'] }).waitFor();
  refuse = false;
  await page.getByRole('button', { name: DE['docs.retry'] }).click();
  await entry(page, SIGN_IN).waitFor();
  await page.getByRole('heading', { name: DE['docs.contents'], exact: true }).waitFor();
  await context.close();
});
