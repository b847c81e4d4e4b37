// /admin, tab "SMS policy" (SPEC §15.1): which countries and number types may be sent a code,
// how SMS pumping is detected, the daily budgets, and whether numbers without an account are
// sent anything. One object, saved with smsPolicy:update; the server checks every field and
// its message names the one it refused.
import { alertBox, api, checkbox, el, field, t } from './common.js';

/** The number types of the phone-number metadata, with their texts. */
const NUMBER_TYPES = [
  ['mobile', 'admin.numberType.mobile'],
  ['fixed_line_or_mobile', 'admin.numberType.fixedLineOrMobile'],
  ['fixed_line', 'admin.numberType.fixedLine'],
  ['toll_free', 'admin.numberType.tollFree'],
  ['premium_rate', 'admin.numberType.premiumRate'],
  ['shared_cost', 'admin.numberType.sharedCost'],
  ['voip', 'admin.numberType.voip'],
  ['personal_number', 'admin.numberType.personalNumber'],
  ['pager', 'admin.numberType.pager'],
  ['uan', 'admin.numberType.uan'],
  ['voicemail', 'admin.numberType.voicemail'],
  ['unknown', 'admin.numberType.unknown'],
];

const MODES = [
  ['enforce', 'admin.pumpingMode.enforce'],
  ['monitor', 'admin.pumpingMode.monitor'],
  ['off', 'admin.pumpingMode.off'],
];

/** The pumping thresholds: key, text, and the input's `step`. */
const PUMPING_NUMBERS = [
  ['prefixWindowMinutes', 'admin.sms.prefixWindowMinutes', '1'],
  ['prefixUnverifiedMax', 'admin.sms.prefixUnverifiedMax', '1'],
  ['countryWindowMinutes', 'admin.sms.countryWindowMinutes', '1'],
  ['countryMinSends', 'admin.sms.countryMinSends', '1'],
  ['countryMinConversion', 'admin.sms.countryMinConversion', '0.01'],
  ['blockMinutes', 'admin.sms.blockMinutes', '1'],
];

let policy = null;
/** Set after a save, so that the form drawn again with the server's answer says "Saved.". */
let justSaved = false;

export async function load() {
  policy = (await api('smsPolicy:get', { method: 'GET' })).data;
  justSaved = false;
}

/** `cn, HK  tw` → `["CN", "HK", "TW"]`. */
function countries(text) {
  return text
    .split(/[\s,;]+/)
    .map((c) => c.trim().toUpperCase())
    .filter(Boolean);
}

/** The per-country budgets from lines `CC=n` (commas also separate). Countries the policy had
 *  and the text no longer names are set to 0, "no budget": the update merges objects. */
function countryBudgets(text, before) {
  const out = {};
  for (const c of Object.keys(before || {})) out[c] = 0;
  for (const line of text
    .split(/[\n,;]+/)
    .map((l) => l.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z]{2})\s*[=:]\s*(\d+)$/.exec(line);
    if (!m) throw new Error(t('admin.sms.badBudgetLine', { line }));
    out[m[1].toUpperCase()] = Number(m[2]);
  }
  return out;
}

/** A number input's value as a number; an empty one is sent as is, for the server to refuse. */
function numberOf(input) {
  const v = input.value.trim();
  return v === '' ? null : Number(v);
}

export function view(shell) {
  const error = alertBox('form-error');
  const p = policy || {};
  const pumping = p.pumping || {};
  const budgets = p.budgets || {};

  const allowed = el('input', {
    id: 'sms-allowed-countries',
    value: (p.allowedCountries || []).join(', '),
    placeholder: 'CN, HK, TW',
    autocomplete: 'off',
  });
  const denied = el('input', {
    id: 'sms-denied-countries',
    value: (p.deniedCountries || []).join(', '),
    autocomplete: 'off',
  });
  const types = NUMBER_TYPES.map(([type, key]) =>
    checkbox(t(key), {
      id: `sms-type-${type}`,
      'data-type': type,
      checked: (p.allowedNumberTypes || []).includes(type),
    }),
  );
  const mode = el(
    'select',
    { id: 'sms-pumping-mode' },
    MODES.map(([m, key]) => el('option', { value: m, selected: m === (pumping.mode || 'enforce') }, t(key))),
  );
  const numbers = {};
  const numberFields = PUMPING_NUMBERS.map(([key, label, step]) => {
    numbers[key] = el('input', {
      type: 'number',
      id: `sms-pumping-${key}`,
      min: '0',
      max: key === 'countryMinConversion' ? '1' : null,
      step,
      inputmode: step === '1' ? 'numeric' : 'decimal',
      value: pumping[key] ?? '',
    });
    return field(t(label), numbers[key]);
  });
  const globalPerDay = el('input', {
    type: 'number',
    id: 'sms-budget-global',
    min: '0',
    step: '1',
    inputmode: 'numeric',
    value: budgets.globalPerDay ?? 0,
  });
  const perCountry = el(
    'textarea',
    { id: 'sms-budget-countries', placeholder: 'CN=5000\nUS=1000', spellcheck: 'false' },
    Object.entries(budgets.perCountryPerDay || {})
      .filter(([, n]) => n > 0)
      .map(([c, n]) => `${c}=${n}`)
      .join('\n'),
  );
  const sendWithoutAccount = checkbox(t('admin.sms.sendWithoutAccount'), {
    id: 'sms-send-without-account',
    checked: !!p.sendWithoutAccount,
  });
  const saved = el(
    'p',
    { class: 'success', role: 'status', id: 'sms-policy-saved' },
    justSaved ? t('admin.saved') : '',
  );
  justSaved = false;

  const save = async () => {
    saved.textContent = '';
    const patch = {
      allowedCountries: countries(allowed.value),
      deniedCountries: countries(denied.value),
      allowedNumberTypes: types.filter((b) => b.box.checked).map((b) => b.box.dataset.type),
      pumping: {
        mode: mode.value,
        ...Object.fromEntries(Object.entries(numbers).map(([k, input]) => [k, numberOf(input)])),
      },
      budgets: {
        globalPerDay: numberOf(globalPerDay),
        perCountryPerDay: countryBudgets(perCountry.value, budgets.perCountryPerDay),
      },
      sendWithoutAccount: sendWithoutAccount.box.checked,
    };
    policy = (await api('smsPolicy:update', { body: patch })).data;
    justSaved = true;
    shell.show(null);
  };

  return el(
    'form',
    { class: 'card', id: 'sms-policy-form', novalidate: true, onsubmit: shell.submit(error, save) },
    el('h2', {}, t('admin.tab.smsPolicy')),
    el(
      'fieldset',
      {},
      el('legend', {}, t('admin.sms.destinations')),
      field(t('admin.sms.allowedCountries'), allowed, t('admin.sms.allowedCountriesHint')),
      field(t('admin.sms.deniedCountries'), denied, t('admin.sms.deniedCountriesHint')),
    ),
    el(
      'fieldset',
      { id: 'sms-number-types' },
      el('legend', {}, t('admin.sms.numberTypes')),
      el(
        'div',
        { class: 'checks' },
        types.map((b) => b.node),
      ),
      el('p', { class: 'hint' }, t('admin.sms.numberTypesHint')),
    ),
    el(
      'fieldset',
      {},
      el('legend', {}, t('admin.sms.pumping')),
      field(t('admin.sms.pumpingMode'), mode),
      el('div', { class: 'grid align-end' }, numberFields),
      el('p', { class: 'hint' }, t('admin.sms.pumpingHint')),
    ),
    el(
      'fieldset',
      {},
      el('legend', {}, t('admin.sms.budgets')),
      field(t('admin.sms.globalPerDay'), globalPerDay, t('admin.sms.globalPerDayHint')),
      field(t('admin.sms.perCountryPerDay'), perCountry, t('admin.sms.perCountryPerDayHint')),
    ),
    el(
      'fieldset',
      {},
      el('legend', {}, t('admin.sms.accounts')),
      sendWithoutAccount.node,
      el('p', { class: 'hint' }, t('admin.sms.sendWithoutAccountHint')),
    ),
    error,
    saved,
    el('div', { class: 'toolbar' }, el('button', { type: 'submit', id: 'sms-policy-save' }, t('admin.save'))),
  );
}
