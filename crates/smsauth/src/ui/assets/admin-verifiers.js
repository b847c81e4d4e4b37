// /admin, tab "Verifiers": the SMS OTP verifiers, each a provider with its settings (secrets are
// never shown again), fallbacks and routes by region.
import { alertBox, api, checkbox, deleteButton, el, field, t } from './common.js';

let verifiers = [];
let providers = [];

export async function load() {
  verifiers = (await api('verifiers:list', { method: 'GET', query: { pageSize: 200 } })).data;
  providers = (await api('smsOTPProviders:list', { method: 'GET' })).data;
}

function settingControl(f, current) {
  const id = `setting-${f.name}`;
  const value = current[f.name];
  if (f.type === 'headers' || f.type === 'templates') {
    return el(
      'textarea',
      {
        id,
        'data-setting': f.name,
        'data-json': 'true',
        placeholder: f.type === 'templates' ? '{"en-US": "Your code is {{code}}"}' : '{"X-Api-Key": "…"}',
      },
      value ? JSON.stringify(value, null, 2) : '',
    );
  }
  return el('input', {
    id,
    'data-setting': f.name,
    type: f.secret ? 'password' : f.type === 'milliseconds' ? 'number' : 'text',
    autocomplete: f.secret ? 'new-password' : 'off',
    value: value ?? '',
    required: f.required,
  });
}

function verifierForm(shell, existing) {
  const error = alertBox('form-error');
  const opts = existing?.options || {};
  const settings = opts.settings || {};
  const name = el('input', {
    id: 'verifier-name',
    value: existing ? existing.name : '',
    disabled: !!existing,
    required: true,
  });
  const title = el('input', { id: 'verifier-title', value: existing ? existing.title || '' : '' });
  const isDefault = checkbox(t('admin.isDefault'), {
    id: 'verifier-default',
    checked: existing ? existing.isDefault : false,
  });
  const provider = el(
    'select',
    { id: 'verifier-provider' },
    providers.map((p) => el('option', { value: p.name, selected: p.name === (opts.provider || 'webhook') }, p.title)),
  );
  const fields = el('div', { id: 'provider-fields' });
  const drawFields = () => {
    const p = providers.find((x) => x.name === provider.value);
    const current = provider.value === opts.provider ? settings : {};
    fields.replaceChildren(
      ...(p ? p.settings : []).map((f) =>
        field(
          f.name + (f.required ? ' *' : ''),
          settingControl(f, current),
          f.secret && current[f.name] ? t('admin.secretKept') : null,
        ),
      ),
    );
  };
  provider.addEventListener('change', drawFields);
  drawFields();
  const others = verifiers.filter((v) => !existing || v.name !== existing.name).map((v) => v.name);
  const fallbacks = el('input', {
    id: 'verifier-fallbacks',
    value: (opts.fallbacks || []).join(', '),
    placeholder: others.join(', '),
  });
  const routes = el('input', {
    id: 'verifier-routes',
    placeholder: 'CN=tencent, NL=twilio',
    value: Object.entries(opts.routes || {})
      .map(([k, v]) => `${k}=${v}`)
      .join(', '),
  });
  const submit = el('button', { type: 'submit', id: 'verifier-save' }, t('admin.save'));
  const cancel = el(
    'button',
    { type: 'button', class: 'secondary', onclick: () => shell.show(null) },
    t('admin.cancel'),
  );
  const save = async () => {
    const s = {};
    for (const input of fields.querySelectorAll('[data-setting]')) {
      const v = input.value.trim();
      if (!v) continue;
      if (input.dataset.json) {
        try {
          s[input.dataset.setting] = JSON.parse(v);
        } catch {
          throw new Error(t('admin.badJson', { field: input.dataset.setting }));
        }
      } else {
        s[input.dataset.setting] = input.type === 'number' ? Number(v) : v;
      }
    }
    const options = { provider: provider.value, settings: s };
    const fb = fallbacks.value
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    if (fb.length) options.fallbacks = fb;
    const rt = {};
    for (const pair of routes.value
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)) {
      const [region, target] = pair.split('=').map((x) => (x || '').trim());
      rt[region] = target;
    }
    if (Object.keys(rt).length) options.routes = rt;
    const body = { title: title.value, isDefault: isDefault.box.checked, options, verificationType: 'sms-otp' };
    if (existing) await api('verifiers:update', { query: { filterByTk: existing.name }, body });
    else await api('verifiers:create', { body: { ...body, name: name.value } });
    await shell.saved();
  };
  return el(
    'form',
    { class: 'card', id: 'verifier-form', novalidate: true, onsubmit: shell.submit(error, save) },
    el('h2', {}, existing ? t('admin.editVerifier', { name: existing.name }) : t('admin.addVerifier')),
    field(t('admin.name'), name, t('admin.nameHint')),
    field(t('admin.titleField'), title),
    field(t('admin.provider'), provider),
    fields,
    isDefault.node,
    field(t('admin.fallbacks'), fallbacks, t('admin.fallbacksHint')),
    field(t('admin.routes'), routes, t('admin.routesHint')),
    error,
    el('div', { class: 'toolbar' }, submit, cancel),
  );
}

export function view(shell) {
  const { act, page } = shell;
  const rows = verifiers.map((v) =>
    el(
      'tr',
      { id: `verifier-row-${v.name}` },
      el('td', {}, v.name),
      el('td', {}, v.title || ''),
      el('td', {}, v.options?.provider || ''),
      el('td', {}, v.isDefault ? '✓' : ''),
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
              id: `verifier-edit-${v.name}`,
              onclick: () => shell.show({ kind: 'verifier', existing: v }),
            },
            t('admin.edit'),
          ),
          deleteButton(`verifier-delete-${v.name}`, v.name, () =>
            act(() => api('verifiers:destroy', { query: { filterByTk: v.name } })),
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
        { type: 'button', id: 'add-verifier', onclick: () => shell.show({ kind: 'verifier' }) },
        t('admin.addVerifier'),
      ),
    ),
    page.form?.kind === 'verifier' ? verifierForm(shell, page.form.existing) : null,
    el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { id: 'verifier-table' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ['admin.name', 'admin.titleField', 'admin.provider', 'admin.isDefaultShort', 'admin.actions'].map((k) =>
              el('th', {}, t(k)),
            ),
          ),
        ),
        el('tbody', {}, rows),
      ),
    ),
  ];
}
