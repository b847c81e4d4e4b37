// The pages in a real browser, as an operator and a user meet them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
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

const USER_PHONE = '+8613800138000';
const SECOND_PHONE = '+8613800138001';
let server, gateway, browser;

before(async () => {
  server = await startServer();
  gateway = await startGateway();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  gateway?.stop();
  server?.stop();
});

async function newPage(locale = 'en-US') {
  const context = await browser.newContext({ viewport: DESKTOP, locale });
  const page = await context.newPage();
  page.on('pageerror', (e) => {
    throw e;
  });
  return page;
}

test('an admin signs in with a password and configures a webhook verifier and an SMS authenticator', async () => {
  const page = await newPage();
  await page.goto(`${server.base}/signin?redirect=/admin`);
  // Only the password authenticator is enabled: no tabs.
  await page.getByLabel('Username or email').waitFor();
  assert.equal(await page.getByRole('tab').count(), 0);
  await assertLabelled(page);
  await screenshots(page, 'signin-password');
  await page.getByLabel('Username or email').fill('root');
  await page.getByLabel('Password').fill('wrong-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('The username/email or password is incorrect, please re-enter').waitFor();
  await page.getByLabel('Password').fill(ROOT_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/admin');

  await page.getByRole('tab', { name: 'Verifiers' }).click();
  await page.getByRole('button', { name: 'Add SMS OTP verifier' }).click();
  await assertLabelled(page);
  await page.locator('#verifier-name').fill('webhook');
  await page.locator('#verifier-title').fill('Webhook gateway');
  await page.locator('#verifier-provider').selectOption('webhook');
  await page.locator('#setting-url').fill(gateway.url);
  await page.locator('#setting-secret').fill(WEBHOOK_SECRET);
  await page.locator('#verifier-default').check();
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#verifier-row-webhook').waitFor();
  // The secret is never shown again, and saving the form with the mask keeps it.
  assert.ok(!(await page.content()).includes(WEBHOOK_SECRET));
  await page.locator('#verifier-edit-webhook').click();
  assert.equal(await page.locator('#setting-secret').inputValue(), '******');
  await page.locator('#verifier-title').fill('Webhook SMS gateway');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('cell', { name: 'Webhook SMS gateway' }).waitFor();
  await screenshots(page, 'admin-verifiers');

  await page.getByRole('tab', { name: 'Authenticators' }).click();
  await page.getByRole('button', { name: 'Add SMS authenticator' }).click();
  await page.locator('#auth-name').fill('sms');
  await page.locator('#auth-title').fill('SMS');
  await page.locator('#auth-verifier').selectOption('webhook');
  await page.locator('#auth-autosignup').check();
  await assertLabelled(page);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#auth-row-sms').waitFor();
  assert.match(await page.locator('#auth-row-sms').innerText(), /webhook/);
  await screenshots(page, 'admin-authenticators');

  // The last-authenticator rule is shown as a message: disable sms, then try basic too.
  await page.getByLabel('Enable sms').uncheck();
  await page.locator('#auth-row-sms').waitFor();
  await page.getByLabel('Enable basic').uncheck();
  await page.getByText('Please keep and enable at least one authenticator').waitFor();
  await page.getByLabel('Enable sms').check();
  await eventually(async () => await page.getByLabel('Enable sms').isChecked());

  await page.getByRole('tab', { name: 'Token policy' }).click();
  await page.locator('#policy-tokenExpirationTime').fill('30');
  await page.locator('#policy-tokenExpirationTime-unit').selectOption('d');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('The token validity must be shorter than the session validity.').waitFor();
  await page.locator('#policy-tokenExpirationTime').fill('12');
  await page.locator('#policy-tokenExpirationTime-unit').selectOption('h');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved.').waitFor();
  await assertLabelled(page);
  await screenshots(page, 'admin-policy');
  await page.context().close();
});

test('a new user signs in by SMS: countdown, translated errors, then the account page', async () => {
  const page = await newPage();
  await page.goto(`${server.base}/signin`);
  await page.getByRole('tab', { name: 'SMS' }).click();
  await page.getByText('User will be registered automatically if not exists.').waitFor();
  const phone = page.getByLabel('Phone number');
  assert.equal(await phone.getAttribute('type'), 'tel');
  assert.equal(await phone.getAttribute('autocomplete'), 'tel');
  const code = page.getByLabel('Verification code');
  assert.equal(await code.getAttribute('inputmode'), 'numeric');
  assert.equal(await code.getAttribute('autocomplete'), 'one-time-code');
  await phone.fill('138 0013 8000');
  await page.getByRole('button', { name: 'Send code' }).click();
  const send = page.locator('#send-code');
  await eventually(async () => /Retry after \d+ seconds/.test(await send.innerText()));
  assert.equal(await send.isDisabled(), true);
  const sent = await eventually(() => gateway.codes.get(USER_PHONE));
  await screenshots(page, 'signin-sms');

  await code.fill(sent === '000000' ? '111111' : '000000');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByText('Verification code is invalid').waitFor();

  // Switch to Dutch: the page and the server's errors follow.
  await page.locator('#language').selectOption('nl-NL');
  await page.getByRole('heading', { name: 'Inloggen' }).waitFor();
  assert.match(await page.locator('#send-code').innerText(), /Opnieuw over \d+ seconden/);
  await page.getByLabel('Verificatiecode').fill(sent === '000000' ? '222222' : '999999');
  await page.getByRole('button', { name: 'Inloggen', exact: true }).click();
  await page.getByText('De verificatiecode is ongeldig').waitFor();
  await screenshots(page, 'signin-sms-nl');

  await page.getByLabel('Verificatiecode').fill(sent);
  await page.getByRole('button', { name: 'Inloggen', exact: true }).click();
  await page.waitForURL('**/account');
  await page.getByRole('heading', { name: 'Mijn account' }).waitFor();
  await page.locator('#language').selectOption('en-US');
  await page.getByRole('heading', { name: 'My account' }).waitFor();
  assert.match(await page.locator('#profile').innerText(), /\+8613800138000/);

  // Bind a second phone, then unbind it.
  await page.locator('#bind-phone-webhook').fill(SECOND_PHONE);
  await page.locator('#bind-send-webhook').click();
  const bindCode = await eventually(() => gateway.codes.get(SECOND_PHONE));
  await page.locator('#bind-code-webhook').fill(bindCode);
  await page.locator('#bind-submit-webhook').click();
  await page.getByText('Bound to +86*******8001').waitFor();
  await assertLabelled(page);
  await screenshots(page, 'account');
  gateway.codes.delete(SECOND_PHONE);
  await page.locator('#unbind-send-webhook').click();
  const unbindCode = await eventually(() => gateway.codes.get(SECOND_PHONE));
  await page.locator('#unbind-code-webhook').fill(unbindCode);
  await page.locator('#unbind-submit-webhook').click();
  await page.getByText('The phone is unbound.').waitFor();

  // A member cannot open the admin pages.
  await page.goto(`${server.base}/admin`);
  await page.getByText('You do not have permission to view this page.').waitFor();
  await screenshots(page, 'admin-forbidden');

  await page.goto(`${server.base}/account`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('**/signin');
  await page.goto(`${server.base}/account`);
  await page.waitForURL('**/signin?redirect=%2Faccount');
  assert.equal(gateway.rejected(), 0);
  await page.context().close();
});

test('the sign-in page follows Accept-Language and refuses foreign redirects', async () => {
  const page = await newPage('zh-CN');
  await page.goto(`${server.base}/signin?redirect=//evil.example/`);
  await page.getByRole('heading', { name: '登录' }).waitFor();
  await screenshots(page, 'signin-zh');
  // Keyboard only: the tab, the fields and submitting with Enter.
  await page.getByRole('tab', { name: '密码' }).focus();
  await page.keyboard.press('Enter');
  await page.getByLabel('用户名或邮箱').waitFor();
  await page.getByLabel('用户名或邮箱').focus();
  await page.keyboard.type('root');
  await page.keyboard.press('Tab');
  await page.keyboard.type(ROOT_PASSWORD);
  await page.keyboard.press('Enter');
  await page.waitForURL(`${server.base}/account`);
  await page.goto(`${server.base}/admin`);
  await page.getByRole('tab', { name: '用户' }).click();
  await page.locator('#user-search').fill('8000');
  await page.locator('#user-search-submit').click();
  await eventually(async () => (await page.locator('#user-table tbody tr').count()) === 1);
  await assertLabelled(page);
  await screenshots(page, 'admin-users');
  await page.context().close();
});

test('the sign-in page speaks German, Japanese, French and Russian, chosen by the browser or the switcher', async () => {
  const load = (locale) =>
    JSON.parse(readFileSync(new URL(`../../crates/smsauth/src/i18n/locales/${locale}.json`, import.meta.url), 'utf8'));
  for (const locale of ['de-DE', 'ja-JP', 'fr-FR', 'ru-RU']) {
    const texts = load(locale);
    const page = await newPage(locale);
    await page.goto(`${server.base}/signin`);
    await page.getByRole('heading', { name: texts['signin.title'] }).waitFor();
    await page.getByRole('tab', { name: texts['signin.tabPassword'] }).click();
    await page.getByLabel(texts['signin.account']).fill('nobody');
    // The tab and the field share the word "password" in several languages: the field by role.
    await page.getByRole('textbox', { name: texts['signin.password'], exact: true }).fill('not-the-password');
    await page.getByRole('button', { name: texts['signin.submit'] }).click();
    // The server's message comes from the same catalogue.
    await page.getByText(texts.INVALID_CREDENTIALS).waitFor();
    assert.equal(await page.locator('#language').inputValue(), locale);
    await assertLabelled(page);
    await screenshots(page, `signin-${locale}`);
    await page.context().close();
  }
  // The switcher changes the language in place.
  const page = await newPage('en-US');
  await page.goto(`${server.base}/signin`);
  await page.locator('#language').selectOption('ko-KR');
  await page.getByRole('heading', { name: load('ko-KR')['signin.title'] }).waitFor();
  await page.context().close();
});
