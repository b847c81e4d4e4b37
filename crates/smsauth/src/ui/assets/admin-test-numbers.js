// /admin, tab "Test numbers" (SPEC §15.4): numbers or prefixes that sign in with a fixed code
// and are never sent an SMS, until they expire. Only root may change them; other admins see
// the list.
import {
  alertBox,
  api,
  deleteButton,
  el,
  field,
  formatTime,
  fromLocalInput,
  isRoot,
  pager,
  t,
  toLocalInput,
} from './common.js';

const PAGE_SIZE = 50;
const DEFAULT_DAYS = 30;
let numbers = [];
let meta = { page: 1, totalPage: 1 };
let pageNo = 1;

export async function load() {
  const list = () => api('smsTestNumbers:list', { method: 'GET', query: { page: pageNo, pageSize: PAGE_SIZE } });
  let res = await list();
  // The last entry of the last page was deleted: show the page before.
  if (!res.data?.length && pageNo > 1) {
    pageNo = Math.max(1, res.meta?.totalPage || 1);
    res = await list();
  }
  numbers = res.data || [];
  meta = res.meta || { page: pageNo, totalPage: 1 };
}

const expired = (n) => Date.parse(n.expiresAt) <= Date.now();

function numberForm(shell, existing) {
  const error = alertBox('form-error');
  const phone = el('input', {
    id: 'test-number-phone',
    type: 'tel',
    autocomplete: 'off',
    placeholder: '+15550100',
    value: existing ? existing.phone : '',
    required: true,
  });
  const code = el('input', {
    id: 'test-number-code',
    inputmode: 'numeric',
    autocomplete: 'off',
    placeholder: '246810',
    value: existing ? existing.code : '',
    required: true,
  });
  const expires = el('input', {
    id: 'test-number-expires',
    type: 'datetime-local',
    value: toLocalInput(existing ? existing.expiresAt : new Date(Date.now() + DEFAULT_DAYS * 86400000).toISOString()),
    required: true,
  });
  const note = el('input', { id: 'test-number-note', autocomplete: 'off', value: existing?.note || '' });
  const save = async () => {
    const expiresAt = fromLocalInput(expires.value);
    if (!expiresAt) throw new Error(t('admin.testNumbers.expiresRequired'));
    const values = { phone: phone.value.trim(), code: code.value.trim(), expiresAt, note: note.value.trim() };
    if (existing) {
      // Only what changed: the fields given change. The expiry is compared to the minute the
      // input shows, so an untouched one keeps its seconds.
      const body = {};
      for (const k of ['phone', 'code', 'note']) if (values[k] !== (existing[k] || '')) body[k] = values[k];
      if (expires.value !== toLocalInput(existing.expiresAt)) body.expiresAt = expiresAt;
      if (Object.keys(body).length) {
        await api('smsTestNumbers:update', { query: { filterByTk: existing.id }, body });
      }
    } else {
      if (!values.note) delete values.note;
      await api('smsTestNumbers:create', { body: values });
    }
    await shell.saved();
  };
  return el(
    'form',
    { class: 'card', id: 'test-number-form', novalidate: true, onsubmit: shell.submit(error, save) },
    el('h2', {}, existing ? t('admin.testNumbers.edit', { phone: existing.phone }) : t('admin.testNumbers.add')),
    field(t('admin.testNumbers.phone'), phone, t('admin.testNumbers.phoneHint')),
    field(t('admin.testNumbers.code'), code, t('admin.testNumbers.codeHint')),
    field(t('admin.testNumbers.expiresAt'), expires),
    field(t('admin.testNumbers.note'), note),
    error,
    el(
      'div',
      { class: 'toolbar' },
      el('button', { type: 'submit', id: 'test-number-save' }, t('admin.save')),
      el('button', { type: 'button', class: 'secondary', onclick: () => shell.show(null) }, t('admin.cancel')),
    ),
  );
}

export function view(shell) {
  const { act, page } = shell;
  const root = isRoot(page.me);
  const rows = numbers.map((n) =>
    el(
      'tr',
      { id: `test-number-row-${n.id}`, class: expired(n) ? 'expired' : null },
      el('td', {}, el('code', {}, n.phone)),
      el('td', {}, el('code', {}, n.code)),
      el(
        'td',
        {},
        formatTime(n.expiresAt),
        expired(n) ? el('span', { class: 'badge' }, t('admin.testNumbers.expired')) : null,
      ),
      el('td', {}, n.note || ''),
      el(
        'td',
        {},
        el(
          'div',
          { class: 'actions' },
          el(
            'button',
            {
              type: 'button',
              class: 'secondary',
              id: `test-number-edit-${n.id}`,
              disabled: !root,
              onclick: () => shell.show({ kind: 'testNumber', existing: n }),
            },
            t('admin.edit'),
          ),
          deleteButton(
            `test-number-delete-${n.id}`,
            n.phone,
            () => act(() => api('smsTestNumbers:destroy', { query: { filterByTk: n.id } })),
            { disabled: !root },
          ),
        ),
      ),
    ),
  );
  const go = (p) => {
    pageNo = p;
    act(async () => {});
  };
  return [
    el(
      'div',
      { class: 'toolbar' },
      el(
        'button',
        {
          type: 'button',
          id: 'add-test-number',
          disabled: !root,
          onclick: () => shell.show({ kind: 'testNumber' }),
        },
        t('admin.testNumbers.add'),
      ),
    ),
    el('p', { class: 'hint' }, t('admin.testNumbers.hint')),
    root ? null : el('p', { class: 'hint', id: 'test-numbers-root-only' }, t('admin.testNumbers.rootOnly')),
    page.form?.kind === 'testNumber' ? numberForm(shell, page.form.existing) : null,
    el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { id: 'test-number-table' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            [
              'admin.testNumbers.phone',
              'admin.testNumbers.code',
              'admin.testNumbers.expiresAt',
              'admin.testNumbers.note',
              'admin.actions',
            ].map((k) => el('th', {}, t(k))),
          ),
        ),
        el(
          'tbody',
          {},
          rows.length ? rows : el('tr', { class: 'empty' }, el('td', { colspan: '5' }, t('admin.testNumbers.empty'))),
        ),
      ),
    ),
    meta.totalPage > 1 ? pager('test-number-pages', meta, go) : null,
  ];
}
