// Every page text exists in every locale. The catalogues are the server's JSON files (one per
// locale, shared by server messages and pages), so this needs no browser.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

const dir = new URL('../../crates/smsauth/src/i18n/locales/', import.meta.url);
const CATALOGUES = Object.fromEntries(
  readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(new URL(f, dir), 'utf8'))]),
);
const EN = CATALOGUES['en-US'];
const placeholders = (s) => [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();

test('eleven locales with the same keys, placeholders and no empty text', () => {
  assert.deepEqual(Object.keys(CATALOGUES).sort(), [
    'de-DE',
    'en-US',
    'es-ES',
    'fr-FR',
    'ja-JP',
    'ko-KR',
    'nl-NL',
    'pt-BR',
    'ru-RU',
    'zh-CN',
    'zh-TW',
  ]);
  for (const [locale, messages] of Object.entries(CATALOGUES)) {
    assert.deepEqual(Object.keys(messages).sort(), Object.keys(EN).sort(), locale);
    for (const [k, v] of Object.entries(messages)) {
      assert.ok(v.trim(), `${locale} ${k}`);
      assert.deepEqual(placeholders(v), placeholders(EN[k]), `${locale} ${k}`);
    }
  }
});

test('every key the page scripts use exists', () => {
  const assets = new URL('../../crates/smsauth/src/ui/assets/', import.meta.url);
  const used = new Set();
  for (const file of readdirSync(assets).filter((f) => f.endsWith('.js'))) {
    const js = readFileSync(new URL(file, assets), 'utf8');
    for (const m of js.matchAll(/\bt\('([a-zA-Z.]+)'/g)) used.add(m[1]);
    for (const m of js.matchAll(/'((?:admin|account|signin|nav|unit|code|oidc)\.[a-zA-Z.]+)'/g)) used.add(m[1]);
  }
  for (const tab of [
    'authenticators',
    'verifiers',
    'policy',
    'users',
    'smsPolicy',
    'smsGuard',
    'testNumbers',
    'audit',
    'oidcClients',
  ]) {
    used.add(`admin.tab.${tab}`);
  }
  for (const unit of ['m', 'h', 'd']) used.add(`unit.${unit}`);
  const missing = [...used].filter((k) => !(k in EN));
  assert.deepEqual(missing, []);
});
