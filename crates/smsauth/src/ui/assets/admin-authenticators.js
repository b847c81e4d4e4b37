// /admin, tab "Authenticators": the sign-in methods in order, each enabled or not, with its
// settings (an SMS one's verifier and auto sign-up, a password one's sign-up).
import * as verifiers from './admin-verifiers.js';
import { alertBox, api, checkbox, deleteButton, el, field, t } from './common.js';

let auths = [];
let sceneVerifiers = [];

/** Also loads the verifiers tab, so that "create a verifier" opens its form at once. */
export async function load() {
  auths = (await api('authenticators:list', { method: 'GET', query: { pageSize: 200 } })).data;
  sceneVerifiers = (await api('verifiers:listByScene', { method: 'GET', query: { scene: 'auth-sms' } })).data.verifiers;
  await verifiers.load();
}

function authForm(shell, existing, authType) {
  const error = alertBox('form-error');
  const pub = existing?.options?.public || {};
  const type = existing ? existing.authType : authType;
  const name = el('input', {
    id: 'auth-name',
    value: existing ? existing.name : '',
    required: true,
    disabled: !!existing,
  });
  const title = el('input', { id: 'auth-title', value: existing ? existing.title || '' : '' });
  const enabled = checkbox(t('admin.enabled'), { id: 'auth-enabled', checked: existing ? existing.enabled : true });
  const parts = [
    el(
      'h2',
      {},
      existing
        ? t('admin.configure', { name: existing.name })
        : t(type === 'SMS' ? 'admin.addSms' : 'admin.addPassword'),
    ),
    field(t('admin.name'), name),
    field(t('admin.titleField'), title),
    enabled.node,
  ];
  let verifier, autoSignup, allowSignUp;
  if (type === 'SMS') {
    verifier = el(
      'select',
      { id: 'auth-verifier' },
      el('option', { value: '' }, t('admin.defaultVerifier')),
      sceneVerifiers.map((v) => el('option', { value: v.name, selected: v.name === pub.verifier }, v.title || v.name)),
    );
    autoSignup = checkbox(t('admin.autoSignup'), { id: 'auth-autosignup', checked: !!pub.autoSignup });
    parts.push(
      field(t('admin.verifier'), verifier),
      el(
        'p',
        { class: 'hint' },
        el(
          'button',
          {
            type: 'button',
            class: 'link',
            id: 'create-verifier-link',
            onclick: () => shell.show({ kind: 'verifier' }, 'verifiers'),
          },
          t('admin.createVerifier'),
        ),
      ),
      autoSignup.node,
    );
  } else {
    allowSignUp = checkbox(t('admin.allowSignUp'), { id: 'auth-allowsignup', checked: !!pub.allowSignUp });
    parts.push(allowSignUp.node);
  }
  const submit = el('button', { type: 'submit', id: 'auth-save' }, t('admin.save'));
  const cancel = el(
    'button',
    { type: 'button', class: 'secondary', onclick: () => shell.show(null) },
    t('admin.cancel'),
  );
  parts.push(error);
  const save = async () => {
    const publicOptions =
      type === 'SMS'
        ? { verifier: verifier.value || null, autoSignup: autoSignup.box.checked }
        : { allowSignUp: allowSignUp.box.checked };
    const options = { ...(existing?.options || {}), public: { ...pub, ...publicOptions } };
    const body = { title: title.value, enabled: enabled.box.checked, options };
    if (existing) {
      await api('authenticators:update', { query: { filterByTk: existing.id }, body });
    } else {
      await api('authenticators:create', { body: { ...body, name: name.value, authType: type } });
    }
    await shell.saved();
  };
  return el(
    'form',
    { class: 'card', id: 'auth-form', novalidate: true, onsubmit: shell.submit(error, save) },
    parts,
    el('div', { class: 'toolbar' }, submit, cancel),
  );
}

function authSummary(a) {
  const pub = a.options?.public || {};
  if (a.authType === 'SMS') {
    return [
      `${t('admin.verifier')}: ${pub.verifier || t('admin.defaultVerifier')}`,
      pub.autoSignup ? t('admin.autoSignupOn') : t('admin.autoSignupOff'),
    ].join(' · ');
  }
  return pub.allowSignUp ? t('admin.signUpOn') : t('admin.signUpOff');
}

export function view(shell) {
  const { act, page } = shell;
  const rows = auths.map((a, i) =>
    el(
      'tr',
      { id: `auth-row-${a.name}` },
      el('td', {}, a.name),
      el('td', {}, a.authType),
      el('td', {}, a.title || ''),
      el(
        'td',
        {},
        el('input', {
          type: 'checkbox',
          checked: a.enabled,
          'aria-label': t('admin.enabledFor', { name: a.name }),
          onchange: (e) =>
            act(() =>
              api('authenticators:update', { query: { filterByTk: a.id }, body: { enabled: e.target.checked } }),
            ),
        }),
      ),
      el('td', {}, authSummary(a)),
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
              disabled: i === 0,
              'aria-label': t('admin.moveUp', { name: a.name }),
              onclick: () =>
                act(() => api('authenticators:move', { body: { sourceId: a.id, targetId: auths[i - 1].id } })),
            },
            '↑',
          ),
          el(
            'button',
            {
              type: 'button',
              class: 'secondary',
              disabled: i === auths.length - 1,
              'aria-label': t('admin.moveDown', { name: a.name }),
              onclick: () =>
                act(() => api('authenticators:move', { body: { sourceId: a.id, targetId: auths[i + 1].id } })),
            },
            '↓',
          ),
          el(
            'button',
            {
              type: 'button',
              class: 'secondary',
              id: `auth-configure-${a.name}`,
              onclick: () => shell.show({ kind: 'auth', existing: a }),
            },
            t('admin.configureShort'),
          ),
          deleteButton(`auth-delete-${a.name}`, a.name, () =>
            act(() => api('authenticators:destroy', { query: { filterByTk: a.id } })),
          ),
        ),
      ),
    ),
  );
  return [
    el(
      'div',
      { class: 'toolbar' },
      el(
        'button',
        { type: 'button', id: 'add-sms-auth', onclick: () => shell.show({ kind: 'auth', authType: 'SMS' }) },
        t('admin.addSms'),
      ),
      el(
        'button',
        {
          type: 'button',
          class: 'secondary',
          id: 'add-password-auth',
          onclick: () => shell.show({ kind: 'auth', authType: 'Email/Password' }),
        },
        t('admin.addPassword'),
      ),
    ),
    page.form?.kind === 'auth' ? authForm(shell, page.form.existing, page.form.authType) : null,
    el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { id: 'auth-table' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ['admin.name', 'admin.type', 'admin.titleField', 'admin.enabled', 'admin.settings', 'admin.actions'].map(
              (k) => el('th', {}, t(k)),
            ),
          ),
        ),
        el('tbody', {}, rows),
      ),
    ),
  ];
}
