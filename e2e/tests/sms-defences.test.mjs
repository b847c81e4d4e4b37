// The SMS-defence tabs of /admin (SPEC §15) in a real browser, as root meets them: the SMS
// policy saved and still there after a reload, the guard's tables, a test number created,
// edited and deleted, and the audit log listing those writes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertLabelled, DESKTOP, launchBrowser, ROOT_PASSWORD, screenshots, startServer } from '../harness.mjs';

const TEST_PHONE = '+15550100';
let server, browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
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

async function signInAsRoot(page) {
  await page.goto(`${server.base}/signin?redirect=/admin`);
  await page.getByLabel('Username or email').fill('root');
  await page.getByLabel('Password').fill(ROOT_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/admin');
  await page.getByRole('tab', { name: 'Authenticators' }).waitFor();
}

/** A datetime-local value `days` from now. */
function localInFuture(days) {
  const d = new Date(Date.now() + days * 86400000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

test('root edits the SMS policy, manages a test number and reads the audit log', async () => {
  const page = await newPage();
  await signInAsRoot(page);

  // SMS policy: the defaults of SPEC §15.1 are shown.
  await page.getByRole('tab', { name: 'SMS policy' }).click();
  await page.locator('#sms-policy-form').waitFor();
  assert.equal(await page.locator('#sms-type-mobile').isChecked(), true);
  assert.equal(await page.locator('#sms-type-fixed_line_or_mobile').isChecked(), true);
  assert.equal(await page.locator('#sms-type-premium_rate').isChecked(), false);
  assert.equal(await page.locator('#sms-pumping-mode').inputValue(), 'enforce');
  assert.equal(await page.locator('#sms-budget-global').inputValue(), '0');
  assert.equal(await page.locator('#sms-send-without-account').isChecked(), false);
  await assertLabelled(page);

  // A value the server refuses: its message, naming the field, is shown and the inputs stay.
  await page.locator('#sms-pumping-countryMinConversion').fill('2');
  await page.locator('#sms-policy-save').click();
  await page.locator('#form-error', { hasText: /countryMinConversion/ }).waitFor();
  assert.equal(await page.locator('#sms-pumping-countryMinConversion').inputValue(), '2');

  // Then a good one: countries are upper-cased and budgets kept per country.
  await page.locator('#sms-pumping-countryMinConversion').fill('0.3');
  await page.locator('#sms-denied-countries').fill('kp, ir');
  await page.locator('#sms-pumping-mode').selectOption('monitor');
  await page.locator('#sms-budget-global').fill('500');
  await page.locator('#sms-budget-countries').fill('CN=5000\nus=20');
  await page.locator('#sms-type-voip').check();
  await page.locator('#sms-policy-save').click();
  await page.locator('#sms-policy-saved', { hasText: 'Saved.' }).waitFor();
  await screenshots(page, 'admin-sms-policy');

  // A reload reads the policy back from the server.
  await page.reload();
  await page.getByRole('tab', { name: 'SMS policy' }).click();
  await page.locator('#sms-policy-form').waitFor();
  assert.equal(await page.locator('#sms-budget-global').inputValue(), '500');
  assert.equal(await page.locator('#sms-pumping-mode').inputValue(), 'monitor');
  assert.equal(Number(await page.locator('#sms-pumping-countryMinConversion').inputValue()), 0.3);
  assert.deepEqual(
    (await page.locator('#sms-denied-countries').inputValue())
      .split(',')
      .map((c) => c.trim())
      .sort(),
    ['IR', 'KP'],
  );
  assert.deepEqual((await page.locator('#sms-budget-countries').inputValue()).split('\n').sort(), ['CN=5000', 'US=20']);
  assert.equal(await page.locator('#sms-type-voip').isChecked(), true);
  assert.equal(await page.locator('#sms-type-mobile').isChecked(), true);

  // A country budget taken out of the text is gone after saving.
  await page.locator('#sms-budget-countries').fill('CN=5000');
  await page.locator('#sms-policy-save').click();
  await page.locator('#sms-policy-saved', { hasText: 'Saved.' }).waitFor();
  assert.equal(await page.locator('#sms-budget-countries').inputValue(), 'CN=5000');

  // SMS guard: nothing was sent, both tables are there and refresh works.
  await page.getByRole('tab', { name: 'SMS guard' }).click();
  await page.locator('#guard-prefixes').waitFor();
  await page.locator('#guard-countries').waitFor();
  await page.locator('#guard-refresh').click();
  await page.locator('#guard-prefixes').waitFor();
  await screenshots(page, 'admin-sms-guard');

  // Test numbers: create, edit, delete.
  await page.getByRole('tab', { name: 'Test numbers' }).click();
  await page.locator('#add-test-number').click();
  await page.locator('#test-number-form').waitFor();
  await assertLabelled(page);
  await page.locator('#test-number-phone').fill(TEST_PHONE);
  await page.locator('#test-number-code').fill('246810');
  await page.locator('#test-number-expires').fill(localInFuture(7));
  await page.locator('#test-number-note').fill('App review');
  await page.locator('#test-number-save').click();
  const row = page.locator('#test-number-table tbody tr', { hasText: TEST_PHONE });
  await row.waitFor();
  assert.match(await row.innerText(), /246810/);
  assert.match(await row.innerText(), /App review/);
  await screenshots(page, 'admin-test-numbers');

  await row.getByRole('button', { name: 'Edit' }).click();
  await page.locator('#test-number-form').waitFor();
  assert.equal(await page.locator('#test-number-phone').inputValue(), TEST_PHONE);
  await page.locator('#test-number-note').fill('Store review');
  await page.locator('#test-number-save').click();
  await page.locator('#test-number-table tbody tr', { hasText: 'Store review' }).waitFor();

  page.once('dialog', (dialog) => dialog.accept());
  await page
    .locator('#test-number-table tbody tr', { hasText: TEST_PHONE })
    .getByRole('button', { name: 'Delete' })
    .click();
  await page.getByText('No test numbers yet.').waitFor();
  assert.equal(await page.locator('#test-number-table tbody tr', { hasText: TEST_PHONE }).count(), 0);

  // Audit log: the writes above, newest first, filtered by type.
  await page.getByRole('tab', { name: 'Audit log' }).click();
  await page.locator('#audit-table').waitFor();
  await page.locator('#audit-table tbody tr', { hasText: 'admin.smsPolicy.update' }).first().waitFor();
  assert.ok((await page.locator('#audit-table tbody tr[id^="audit-row-"]').count()) >= 5);
  await assertLabelled(page);
  await screenshots(page, 'admin-audit');

  await page.locator('#audit-type').fill('admin.smsTestNumbers');
  await page.locator('#audit-apply').click();
  await page.locator('#audit-table tbody tr', { hasText: 'admin.smsTestNumbers.destroy' }).waitFor();
  const types = await page.locator('#audit-table tbody tr[id^="audit-row-"] td.audit-type').allInnerTexts();
  assert.deepEqual(types, [
    'admin.smsTestNumbers.destroy',
    'admin.smsTestNumbers.update',
    'admin.smsTestNumbers.create',
  ]);
  // The detail is compact JSON.
  const detail = await page.locator('#audit-table tbody tr[id^="audit-row-"] td.audit-detail').first().innerText();
  assert.doesNotThrow(() => JSON.parse(detail));
  assert.ok(!detail.includes('\n'));

  // A filter that matches nothing, then clearing the filters.
  await page.locator('#audit-type').fill('no.such.event');
  await page.locator('#audit-apply').click();
  await page.getByText('No entries match.').waitFor();
  await page.locator('#audit-reset').click();
  await page.locator('#audit-table tbody tr', { hasText: 'admin.smsPolicy.update' }).first().waitFor();
  assert.equal(await page.locator('#audit-type').inputValue(), '');
  await page.context().close();
});
