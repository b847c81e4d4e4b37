// /admin, tab "SMS guard" (SPEC §15.2): what SMS-pumping detection counted in its current
// windows, per number prefix and per country, the worst first, with a way to lift a block.
import { api, el, formatTime, state, t } from './common.js';

let status = { prefixes: [], countries: [] };

export async function load() {
  const data = (await api('smsGuard:status', { method: 'GET' })).data || {};
  status = { prefixes: data.prefixes || [], countries: data.countries || [] };
}

const blocked = (row) => !!row.blockedUntil && Date.parse(row.blockedUntil) > Date.now();

/** Digits and letters only, for element ids (`+861380013` → `861380013`). */
const idPart = (s) => String(s).replace(/[^A-Za-z0-9]/g, '');

function percent(x) {
  return new Intl.NumberFormat(state.locale, { style: 'percent', maximumFractionDigits: 1 }).format(Number(x) || 0);
}

function unblockButton(act, id, name, body) {
  return el(
    'button',
    {
      type: 'button',
      class: 'secondary',
      id,
      'aria-label': t('admin.guard.unblockFor', { name }),
      onclick: () => act(() => api('smsGuard:unblock', { body }), t('admin.guard.unblocked')),
    },
    t('admin.guard.unblock'),
  );
}

/** Columns of numbers, right-aligned like their cells. */
const NUMERIC = new Set([
  'admin.guard.sent',
  'admin.guard.verified',
  'admin.guard.delivered',
  'admin.guard.undelivered',
  'admin.guard.conversion',
]);

function table(id, headers, rows, columns) {
  return el(
    'div',
    { class: 'table-wrap' },
    el(
      'table',
      { id },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          headers.map((k) => el('th', { class: NUMERIC.has(k) ? 'num' : null }, t(k))),
        ),
      ),
      el(
        'tbody',
        {},
        rows.length
          ? rows
          : el('tr', { class: 'empty' }, el('td', { colspan: String(columns) }, t('admin.guard.empty'))),
      ),
    ),
  );
}

export function view(shell) {
  const { act } = shell;
  const prefixRows = status.prefixes.map((r) =>
    el(
      'tr',
      { id: `guard-prefix-${idPart(r.prefix)}`, class: blocked(r) ? 'blocked' : null },
      el('td', {}, el('code', {}, r.prefix)),
      el('td', {}, r.country || ''),
      el('td', { class: 'num' }, String(r.sent ?? 0)),
      el('td', { class: 'num' }, String(r.verified ?? 0)),
      el('td', { class: 'num' }, String(r.delivered ?? 0)),
      el('td', { class: 'num' }, String(r.undelivered ?? 0)),
      el('td', {}, blocked(r) ? formatTime(r.blockedUntil) : '—'),
      el(
        'td',
        {},
        blocked(r)
          ? unblockButton(act, `guard-unblock-prefix-${idPart(r.prefix)}`, r.prefix, { prefix: r.prefix })
          : null,
      ),
    ),
  );
  const countryRows = status.countries.map((r) =>
    el(
      'tr',
      { id: `guard-country-${idPart(r.country)}`, class: blocked(r) ? 'blocked' : null },
      el('td', {}, r.country || ''),
      el('td', { class: 'num' }, String(r.sent ?? 0)),
      el('td', { class: 'num' }, String(r.verified ?? 0)),
      el('td', { class: 'num' }, String(r.delivered ?? 0)),
      el('td', { class: 'num' }, String(r.undelivered ?? 0)),
      el('td', { class: 'num' }, percent(r.conversion)),
      el('td', {}, blocked(r) ? formatTime(r.blockedUntil) : '—'),
      el(
        'td',
        {},
        blocked(r)
          ? unblockButton(act, `guard-unblock-country-${idPart(r.country)}`, r.country, { country: r.country })
          : null,
      ),
    ),
  );
  return [
    el(
      'div',
      { class: 'toolbar' },
      el(
        'button',
        { type: 'button', id: 'guard-refresh', onclick: () => act(async () => {}) },
        t('admin.guard.refresh'),
      ),
    ),
    el('p', { class: 'hint' }, t('admin.guard.hint')),
    el('h2', { class: 'section' }, t('admin.guard.prefixes')),
    table(
      'guard-prefixes',
      [
        'admin.guard.prefix',
        'admin.guard.country',
        'admin.guard.sent',
        'admin.guard.verified',
        'admin.guard.delivered',
        'admin.guard.undelivered',
        'admin.guard.blockedUntil',
        'admin.actions',
      ],
      prefixRows,
      8,
    ),
    el('h2', { class: 'section' }, t('admin.guard.countries')),
    table(
      'guard-countries',
      [
        'admin.guard.country',
        'admin.guard.sent',
        'admin.guard.verified',
        'admin.guard.delivered',
        'admin.guard.undelivered',
        'admin.guard.conversion',
        'admin.guard.blockedUntil',
        'admin.actions',
      ],
      countryRows,
      8,
    ),
  ];
}
