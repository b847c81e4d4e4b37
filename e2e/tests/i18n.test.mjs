// Every page text exists in every language (the pages' catalogue is plain data, so this needs
// no browser).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const source = readFileSync(new URL('../../crates/smsauth/src/ui/assets/i18n.js', import.meta.url), 'utf8');
const { MESSAGES, LOCALES } = await import('data:text/javascript;base64,' + Buffer.from(source).toString('base64'));

test('the three locales have the same keys and no empty text', () => {
  assert.deepEqual(LOCALES, ['en-US', 'zh-CN', 'nl-NL']);
  const keys = Object.keys(MESSAGES['en-US']).sort();
  for (const locale of LOCALES) {
    assert.deepEqual(Object.keys(MESSAGES[locale]).sort(), keys, locale);
    for (const [k, v] of Object.entries(MESSAGES[locale])) assert.ok(v.trim(), `${locale} ${k}`);
  }
});

test('every key the page scripts use exists', () => {
  const dir = new URL('../../crates/smsauth/src/ui/assets/', import.meta.url);
  const used = new Set();
  for (const file of ['common.js', 'signin.js', 'account.js', 'admin.js']) {
    const js = readFileSync(new URL(file, dir), 'utf8');
    for (const m of js.matchAll(/\bt\('([a-zA-Z.]+)'/g)) used.add(m[1]);
    for (const m of js.matchAll(/'((?:admin|account|signin|nav|unit|code)\.[a-zA-Z.]+)'/g)) used.add(m[1]);
  }
  for (const tab of ['authenticators', 'verifiers', 'policy', 'users']) used.add(`admin.tab.${tab}`);
  for (const unit of ['m', 'h', 'd']) used.add(`unit.${unit}`);
  const missing = [...used].filter((k) => !(k in MESSAGES['en-US']));
  assert.deepEqual(missing, []);
});
