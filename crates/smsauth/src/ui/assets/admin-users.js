// /admin, tab "Users": search by phone, a user's details and roles, revoking their sessions and
// deleting them (not oneself).
import { alertBox, api, checkbox, deleteButton, el, t } from './common.js';

let users = [];
let search = '';

export async function load() {
  const query = { pageSize: 50 };
  if (search) query.filter = JSON.stringify({ phone: { $includes: search } });
  users = (await api('users:list', { method: 'GET', query })).data;
}

function rolesForm(shell, u) {
  const error = alertBox('form-error');
  const names = ['root', 'admin', 'member'];
  const boxes = names.map((n) => checkbox(n, { checked: (u.roles || []).some((r) => r.name === n), 'data-role': n }));
  const save = async () => {
    const roles = boxes.filter((b) => b.box.checked).map((b) => b.box.dataset.role);
    await api('users:update', { query: { filterByTk: u.id }, body: { roles } });
    await shell.saved();
  };
  return el(
    'form',
    { class: 'card', id: 'roles-form', onsubmit: shell.submit(error, save) },
    el('h2', {}, t('admin.rolesOf', { name: u.nickname || u.username || u.phone || u.id })),
    el(
      'dl',
      {},
      el('dt', {}, 'ID'),
      el('dd', {}, String(u.id)),
      el('dt', {}, t('account.email')),
      el('dd', {}, u.email || '—'),
      el('dt', {}, t('account.phone')),
      el('dd', {}, u.phone || '—'),
      el('dt', {}, t('admin.created')),
      el('dd', {}, u.createdAt),
    ),
    el(
      'fieldset',
      {},
      el('legend', {}, t('account.roles')),
      boxes.map((b) => b.node),
    ),
    error,
    el(
      'div',
      { class: 'toolbar' },
      el('button', { type: 'submit', id: 'roles-save' }, t('admin.save')),
      el('button', { type: 'button', class: 'secondary', onclick: () => shell.show(null) }, t('admin.cancel')),
    ),
  );
}

export function view(shell) {
  const { act, page } = shell;
  const input = el('input', { type: 'search', id: 'user-search', value: search, inputmode: 'tel' });
  const rows = users.map((u) =>
    el(
      'tr',
      { id: `user-row-${u.id}` },
      el('td', {}, String(u.id)),
      el('td', {}, u.nickname || ''),
      el('td', {}, u.username || ''),
      el('td', {}, u.email || ''),
      el('td', {}, u.phone || ''),
      el('td', {}, (u.roles || []).map((r) => r.name).join(', ')),
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
              id: `user-roles-${u.id}`,
              onclick: () => shell.show({ kind: 'roles', user: u }),
            },
            t('admin.view'),
          ),
          el(
            'button',
            {
              type: 'button',
              class: 'secondary',
              id: `user-revoke-${u.id}`,
              onclick: () =>
                act(() => api('users:revokeSessions', { query: { filterByTk: u.id } }), t('admin.revoked')),
            },
            t('admin.revoke'),
          ),
          deleteButton(
            `user-delete-${u.id}`,
            u.nickname || u.id,
            () => act(() => api('users:destroy', { query: { filterByTk: u.id } })),
            { disabled: u.id === page.me.id },
          ),
        ),
      ),
    ),
  );
  return [
    el(
      'form',
      {
        class: 'toolbar',
        role: 'search',
        onsubmit: (e) => {
          e.preventDefault();
          search = input.value.trim();
          act(async () => {});
        },
      },
      el('label', { class: 'visually-hidden', for: 'user-search' }, t('admin.searchPhone')),
      input,
      el('button', { type: 'submit', id: 'user-search-submit' }, t('admin.search')),
    ),
    page.form?.kind === 'roles' ? rolesForm(shell, page.form.user) : null,
    el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { id: 'user-table' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            [
              'ID',
              'account.nickname',
              'account.username',
              'account.email',
              'account.phone',
              'account.roles',
              'admin.actions',
            ].map((k) => el('th', {}, k === 'ID' ? k : t(k))),
          ),
        ),
        el('tbody', {}, rows),
      ),
    ),
  ];
}
