// /admin, tab "Token policy": how long a token and a session last, and how long an expired
// token may still be renewed; each a number with a unit.
import { alertBox, api, el, t } from './common.js';

const UNITS = { m: 60, h: 3600, d: 86400 };
const QUERY = { filterByTk: 'token-policy-config' };
let config = null;

export async function load() {
  config = (await api('tokenControlConfig:get', { method: 'GET', query: QUERY })).data.config;
}

function splitDuration(s) {
  const m = /^(\d+)([smhd]?)$/.exec(String(s || '').trim());
  if (!m) return { n: 1, unit: 'd' };
  const secs = Number(m[1]) * { s: 1, '': 1, ...UNITS }[m[2]];
  for (const unit of ['d', 'h', 'm']) if (secs % UNITS[unit] === 0) return { n: secs / UNITS[unit], unit };
  return { n: Math.max(1, Math.round(secs / 60)), unit: 'm' };
}

export function view(shell) {
  const error = alertBox('form-error');
  const cfg = config || {};
  const rows = [
    ['tokenExpirationTime', 'admin.tokenTtl'],
    ['sessionExpirationTime', 'admin.sessionTtl'],
    ['expiredTokenRenewLimit', 'admin.renewLimit'],
  ];
  const inputs = {};
  const controls = rows.map(([key, label]) => {
    const { n, unit } = splitDuration(cfg[key]);
    const num = el('input', { type: 'number', min: '1', id: `policy-${key}`, value: String(n) });
    const sel = el(
      'select',
      { id: `policy-${key}-unit`, 'aria-label': `${t(label)} – ${t('admin.unit')}` },
      Object.keys(UNITS).map((u) => el('option', { value: u, selected: u === unit }, t(`unit.${u}`))),
    );
    inputs[key] = { num, sel };
    return el('div', {}, el('label', { for: num.id }, t(label)), el('div', { class: 'row' }, num, sel));
  });
  const saved = el('p', { class: 'success', role: 'status', id: 'policy-saved' });
  const save = async () => {
    saved.textContent = '';
    const secs = (k) => Number(inputs[k].num.value) * UNITS[inputs[k].sel.value];
    for (const k of Object.keys(inputs)) {
      if (!(Number(inputs[k].num.value) >= 1)) throw new Error(t('admin.policyPositive'));
    }
    if (secs('tokenExpirationTime') >= secs('sessionExpirationTime')) throw new Error(t('admin.policyOrder'));
    const update = Object.fromEntries(
      Object.keys(inputs).map((k) => [k, `${inputs[k].num.value}${inputs[k].sel.value}`]),
    );
    config = (await api('tokenControlConfig:update', { query: QUERY, body: { config: update } })).data.config;
    saved.textContent = t('admin.saved');
  };
  return el(
    'form',
    { class: 'card', id: 'policy-form', novalidate: true, onsubmit: shell.submit(error, save) },
    el('h2', {}, t('admin.tab.policy')),
    controls,
    error,
    saved,
    el('div', { class: 'toolbar' }, el('button', { type: 'submit', id: 'policy-save' }, t('admin.save'))),
  );
}
