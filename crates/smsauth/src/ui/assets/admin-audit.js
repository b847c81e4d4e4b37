// /admin, tab "Audit log" (SPEC §15.5): the append-only events, newest first, filtered by type
// (its start), user, phone number (the whole number; the log itself keeps it masked) and time.
import { api, el, field, formatTime, fromLocalInput, pager, t, toLocalInput } from './common.js';

const PAGE_SIZE = 50;
let entries = [];
let meta = { page: 1, totalPage: 1, count: 0 };
let pageNo = 1;
/** The filters in force: what the inputs showed when "Filter" was pressed. */
let filters = { type: '', userId: '', phone: '', since: '', until: '' };

/** The `filter` parameter for `filters`, or null when none is set; a user id that is not a
 *  whole number is refused here, and the inputs keep what was typed. */
function filterParam() {
  const f = {};
  if (filters.type) f.type = filters.type;
  if (filters.userId) {
    if (!/^\d+$/.test(filters.userId)) throw new Error(t('admin.audit.badUserId'));
    f.userId = Number(filters.userId);
  }
  if (filters.phone) f.phone = filters.phone;
  if (filters.since) f.since = filters.since;
  if (filters.until) f.until = filters.until;
  return Object.keys(f).length ? JSON.stringify(f) : null;
}

export async function load() {
  entries = [];
  meta = { page: pageNo, totalPage: 1, count: 0 };
  const query = { page: pageNo, pageSize: PAGE_SIZE };
  const filter = filterParam();
  if (filter) query.filter = filter;
  const res = await api('auditLogs:list', { method: 'GET', query });
  entries = res.data || [];
  meta = res.meta || { page: pageNo, totalPage: 1, count: entries.length };
}

/** `admin.smsTestNumbers.create` with a line-break opportunity after each dot. */
function breakable(type) {
  return String(type || '')
    .split('.')
    .flatMap((part, i, all) => (i < all.length - 1 ? [`${part}.`, el('wbr')] : [part]));
}

/** `{"reason":"InvalidVerificationCode"}`: one line, no spaces added. */
function compact(detail) {
  if (detail === null || detail === undefined) return '';
  return typeof detail === 'string' ? detail : JSON.stringify(detail);
}

function filterForm(act) {
  const type = el('input', { id: 'audit-type', value: filters.type, placeholder: 'sms.', autocomplete: 'off' });
  const userId = el('input', {
    id: 'audit-user',
    type: 'number',
    min: '1',
    step: '1',
    inputmode: 'numeric',
    value: filters.userId,
  });
  const phone = el('input', {
    id: 'audit-phone',
    type: 'tel',
    value: filters.phone,
    placeholder: '+8613800138000',
    autocomplete: 'off',
  });
  const since = el('input', { id: 'audit-since', type: 'datetime-local', value: toLocalInput(filters.since) });
  const until = el('input', { id: 'audit-until', type: 'datetime-local', value: toLocalInput(filters.until) });
  const apply = (e) => {
    e.preventDefault();
    filters = {
      type: type.value.trim(),
      userId: userId.value.trim(),
      phone: phone.value.replace(/[\s\-().]/g, ''),
      since: fromLocalInput(since.value) || '',
      until: fromLocalInput(until.value) || '',
    };
    pageNo = 1;
    act(async () => {});
  };
  const reset = () => {
    filters = { type: '', userId: '', phone: '', since: '', until: '' };
    pageNo = 1;
    act(async () => {});
  };
  return el(
    'form',
    { class: 'card', id: 'audit-filters', role: 'search', novalidate: true, onsubmit: apply },
    el('h2', {}, t('admin.audit.filters')),
    el(
      'div',
      { class: 'grid' },
      field(t('admin.audit.type'), type, t('admin.audit.typeHint')),
      field(t('admin.audit.userId'), userId),
      field(t('admin.audit.phone'), phone, t('admin.audit.phoneHint')),
      field(t('admin.audit.since'), since),
      field(t('admin.audit.until'), until),
    ),
    el(
      'div',
      { class: 'toolbar' },
      el('button', { type: 'submit', id: 'audit-apply' }, t('admin.audit.apply')),
      el('button', { type: 'button', class: 'secondary', id: 'audit-reset', onclick: reset }, t('admin.audit.reset')),
    ),
  );
}

export function view(shell) {
  const { act } = shell;
  const rows = entries.map((e) =>
    el(
      'tr',
      { id: `audit-row-${e.id}` },
      el('td', {}, el('time', { datetime: e.time }, formatTime(e.time))),
      el('td', { class: 'audit-type' }, breakable(e.type)),
      el('td', {}, e.userId === null || e.userId === undefined ? '' : String(e.userId)),
      el('td', {}, e.phone || ''),
      el('td', {}, e.ip || ''),
      el('td', {}, [e.authenticator, e.verifier].filter(Boolean).join(' / ')),
      el('td', { class: 'audit-detail' }, el('code', {}, compact(e.detail))),
    ),
  );
  const go = (p) => {
    pageNo = p;
    act(async () => {});
  };
  return [
    filterForm(act),
    el('p', { class: 'hint', id: 'audit-count' }, t('admin.audit.count', { count: meta.count ?? entries.length })),
    el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { id: 'audit-table' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            [
              'admin.audit.time',
              'admin.type',
              'admin.audit.userId',
              'account.phone',
              'admin.audit.ip',
              'admin.audit.via',
              'admin.audit.detail',
            ].map((k) => el('th', {}, t(k))),
          ),
        ),
        el(
          'tbody',
          {},
          rows.length ? rows : el('tr', { class: 'empty' }, el('td', { colspan: '7' }, t('admin.audit.empty'))),
        ),
      ),
    ),
    pager('audit-pages', meta, go),
  ];
}
