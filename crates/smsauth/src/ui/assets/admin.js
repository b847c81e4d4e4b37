// /admin: authenticators, verifiers, token policy and users, for roles admin and root only.
import { api, alertBox, checkbox, el, field, isAdmin, mount, state, t, toSignIn, topBar } from './common.js';

const TABS = ['authenticators', 'verifiers', 'policy', 'users'];
const page = { me: null, tab: 'authenticators', form: null, notice: '', error: '', search: '' };
const data = { auths: [], sceneVerifiers: [], verifiers: [], providers: [], policy: null, users: [] };

/** Runs a form's submit: its error stays next to the form, whose inputs are kept. */
async function run(errorNode, fn) {
  errorNode.textContent = '';
  try {
    await fn();
  } catch (e) {
    if (e.status === 401) return toSignIn();
    errorNode.textContent = e.message;
  }
}

/** Runs a table action, then reloads the tab; a refusal (for example the last-authenticator
 *  rule) is shown above the table. */
async function act(fn, successNotice = '') {
  page.error = '';
  page.notice = '';
  try {
    await fn();
    page.notice = successNotice;
  } catch (e) {
    if (e.status === 401) return toSignIn();
    page.error = e.message;
  }
  await switchTab(true);
}

// ------------------------------------------------------------------ authenticators

async function loadAuths() {
  data.auths = (await api('authenticators:list', { method: 'GET', query: { pageSize: 200 } })).data;
  data.sceneVerifiers = (await api('verifiers:listByScene', { method: 'GET', query: { scene: 'auth-sms' } })).data.verifiers;
}

function authForm(existing, authType) {
  const error = alertBox('form-error');
  const pub = (existing && existing.options && existing.options.public) || {};
  const type = existing ? existing.authType : authType;
  const name = el('input', { id: 'auth-name', value: existing ? existing.name : '', required: true, disabled: !!existing });
  const title = el('input', { id: 'auth-title', value: existing ? existing.title || '' : '' });
  const enabled = checkbox(t('admin.enabled'), { id: 'auth-enabled', checked: existing ? existing.enabled : true });
  const parts = [el('h2', {}, existing ? t('admin.configure', { name: existing.name }) : t(type === 'SMS' ? 'admin.addSms' : 'admin.addPassword')),
    field(t('admin.name'), name), field(t('admin.titleField'), title), enabled.node];
  let verifier, autoSignup, allowSignUp;
  if (type === 'SMS') {
    verifier = el('select', { id: 'auth-verifier' },
      el('option', { value: '' }, t('admin.defaultVerifier')),
      data.sceneVerifiers.map((v) => el('option', { value: v.name, selected: v.name === pub.verifier }, v.title || v.name)));
    autoSignup = checkbox(t('admin.autoSignup'), { id: 'auth-autosignup', checked: !!pub.autoSignup });
    parts.push(field(t('admin.verifier'), verifier),
      el('p', { class: 'hint' }, el('button', { type: 'button', class: 'link', id: 'create-verifier-link',
        onclick: () => { page.tab = 'verifiers'; page.form = { kind: 'verifier' }; render(); } }, t('admin.createVerifier'))),
      autoSignup.node);
  } else {
    allowSignUp = checkbox(t('admin.allowSignUp'), { id: 'auth-allowsignup', checked: !!pub.allowSignUp });
    parts.push(allowSignUp.node);
  }
  const submit = el('button', { type: 'submit', id: 'auth-save' }, t('admin.save'));
  const cancel = el('button', { type: 'button', class: 'secondary', onclick: () => { page.form = null; render(); } }, t('admin.cancel'));
  parts.push(error);
  return el('form', { class: 'card', id: 'auth-form', novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    run(error, async () => {
      const publicOptions = type === 'SMS'
        ? { verifier: verifier.value || null, autoSignup: autoSignup.box.checked }
        : { allowSignUp: allowSignUp.box.checked };
      const options = { ...((existing && existing.options) || {}), public: { ...pub, ...publicOptions } };
      const body = { title: title.value, enabled: enabled.box.checked, options };
      if (existing) {
        await api('authenticators:update', { query: { filterByTk: existing.id }, body });
      } else {
        await api('authenticators:create', { body: { ...body, name: name.value, authType: type } });
      }
      page.form = null;
      await switchTab(true);
    });
  } }, parts, el('div', { class: 'toolbar' }, submit, cancel));
}

function authSummary(a) {
  const pub = (a.options && a.options.public) || {};
  if (a.authType === 'SMS') {
    return [t('admin.verifier') + ': ' + (pub.verifier || t('admin.defaultVerifier')),
      pub.autoSignup ? t('admin.autoSignupOn') : t('admin.autoSignupOff')].join(' · ');
  }
  return pub.allowSignUp ? t('admin.signUpOn') : t('admin.signUpOff');
}

function authenticatorsTab() {
  const rows = data.auths.map((a, i) => el('tr', { id: `auth-row-${a.name}` },
    el('td', {}, a.name), el('td', {}, a.authType), el('td', {}, a.title || ''),
    el('td', {}, el('input', { type: 'checkbox', checked: a.enabled, 'aria-label': t('admin.enabledFor', { name: a.name }),
      onchange: (e) => act(() => api('authenticators:update', { query: { filterByTk: a.id }, body: { enabled: e.target.checked } })) })),
    el('td', {}, authSummary(a)),
    el('td', {}, el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'secondary', disabled: i === 0, 'aria-label': t('admin.moveUp', { name: a.name }),
        onclick: () => act(() => api('authenticators:move', { body: { sourceId: a.id, targetId: data.auths[i - 1].id } })) }, '↑'),
      el('button', { type: 'button', class: 'secondary', disabled: i === data.auths.length - 1, 'aria-label': t('admin.moveDown', { name: a.name }),
        onclick: () => act(() => api('authenticators:move', { body: { sourceId: a.id, targetId: data.auths[i + 1].id } })) }, '↓'),
      el('button', { type: 'button', class: 'secondary', id: `auth-configure-${a.name}`,
        onclick: () => { page.form = { kind: 'auth', existing: a }; render(); } }, t('admin.configureShort')),
      el('button', { type: 'button', class: 'danger', id: `auth-delete-${a.name}`,
        onclick: () => confirm(t('admin.confirmDelete', { name: a.name }))
          && act(() => api('authenticators:destroy', { query: { filterByTk: a.id } })) }, t('admin.delete'))))));
  return [
    el('div', { class: 'toolbar' },
      el('button', { type: 'button', id: 'add-sms-auth', onclick: () => { page.form = { kind: 'auth', authType: 'SMS' }; render(); } }, t('admin.addSms')),
      el('button', { type: 'button', class: 'secondary', id: 'add-password-auth', onclick: () => { page.form = { kind: 'auth', authType: 'Email/Password' }; render(); } }, t('admin.addPassword'))),
    page.form && page.form.kind === 'auth' ? authForm(page.form.existing, page.form.authType) : null,
    el('div', { class: 'table-wrap' }, el('table', { id: 'auth-table' },
      el('thead', {}, el('tr', {}, ['admin.name', 'admin.type', 'admin.titleField', 'admin.enabled', 'admin.settings', 'admin.actions'].map((k) => el('th', {}, t(k))))),
      el('tbody', {}, rows))),
  ];
}

// ------------------------------------------------------------------ verifiers

async function loadVerifiers() {
  data.verifiers = (await api('verifiers:list', { method: 'GET', query: { pageSize: 200 } })).data;
  data.providers = (await api('smsOTPProviders:list', { method: 'GET' })).data;
}

function settingControl(provider, f, current) {
  const id = `setting-${f.name}`;
  const value = current[f.name];
  if (f.type === 'headers' || f.type === 'templates') {
    return el('textarea', { id, 'data-setting': f.name, 'data-json': 'true',
      placeholder: f.type === 'templates' ? '{"en-US": "Your code is {{code}}"}' : '{"X-Api-Key": "…"}' },
    value ? JSON.stringify(value, null, 2) : '');
  }
  return el('input', {
    id, 'data-setting': f.name, type: f.secret ? 'password' : (f.type === 'milliseconds' ? 'number' : 'text'),
    autocomplete: f.secret ? 'new-password' : 'off', value: value ?? '', required: f.required,
  });
}

function verifierForm(existing) {
  const error = alertBox('form-error');
  const opts = (existing && existing.options) || {};
  const settings = opts.settings || {};
  const name = el('input', { id: 'verifier-name', value: existing ? existing.name : '', disabled: !!existing, required: true });
  const title = el('input', { id: 'verifier-title', value: existing ? existing.title || '' : '' });
  const isDefault = checkbox(t('admin.isDefault'), { id: 'verifier-default', checked: existing ? existing.isDefault : false });
  const provider = el('select', { id: 'verifier-provider' },
    data.providers.map((p) => el('option', { value: p.name, selected: p.name === (opts.provider || 'webhook') }, p.title)));
  const fields = el('div', { id: 'provider-fields' });
  const drawFields = () => {
    const p = data.providers.find((x) => x.name === provider.value);
    const current = provider.value === opts.provider ? settings : {};
    fields.replaceChildren(...(p ? p.settings : []).map((f) => field(
      f.name + (f.required ? ' *' : ''), settingControl(p, f, current),
      f.secret && current[f.name] ? t('admin.secretKept') : null)));
  };
  provider.addEventListener('change', drawFields);
  drawFields();
  const others = data.verifiers.filter((v) => !existing || v.name !== existing.name).map((v) => v.name);
  const fallbacks = el('input', { id: 'verifier-fallbacks', value: (opts.fallbacks || []).join(', '), placeholder: others.join(', ') });
  const routes = el('input', { id: 'verifier-routes', placeholder: 'CN=tencent, NL=twilio',
    value: Object.entries(opts.routes || {}).map(([k, v]) => `${k}=${v}`).join(', ') });
  const submit = el('button', { type: 'submit', id: 'verifier-save' }, t('admin.save'));
  const cancel = el('button', { type: 'button', class: 'secondary', onclick: () => { page.form = null; render(); } }, t('admin.cancel'));
  return el('form', { class: 'card', id: 'verifier-form', novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    run(error, async () => {
      const s = {};
      for (const input of fields.querySelectorAll('[data-setting]')) {
        const v = input.value.trim();
        if (!v) continue;
        if (input.dataset.json) {
          try { s[input.dataset.setting] = JSON.parse(v); } catch { throw new Error(t('admin.badJson', { field: input.dataset.setting })); }
        } else {
          s[input.dataset.setting] = input.type === 'number' ? Number(v) : v;
        }
      }
      const options = { provider: provider.value, settings: s };
      const fb = fallbacks.value.split(',').map((x) => x.trim()).filter(Boolean);
      if (fb.length) options.fallbacks = fb;
      const rt = {};
      for (const pair of routes.value.split(',').map((x) => x.trim()).filter(Boolean)) {
        const [region, target] = pair.split('=').map((x) => (x || '').trim());
        rt[region] = target;
      }
      if (Object.keys(rt).length) options.routes = rt;
      const body = { title: title.value, isDefault: isDefault.box.checked, options, verificationType: 'sms-otp' };
      if (existing) await api('verifiers:update', { query: { filterByTk: existing.name }, body });
      else await api('verifiers:create', { body: { ...body, name: name.value } });
      page.form = null;
      await switchTab(true);
    });
  } },
  el('h2', {}, existing ? t('admin.editVerifier', { name: existing.name }) : t('admin.addVerifier')),
  field(t('admin.name'), name, t('admin.nameHint')), field(t('admin.titleField'), title),
  field(t('admin.provider'), provider), fields, isDefault.node,
  field(t('admin.fallbacks'), fallbacks, t('admin.fallbacksHint')), field(t('admin.routes'), routes, t('admin.routesHint')),
  error, el('div', { class: 'toolbar' }, submit, cancel));
}

function verifiersTab() {
  const rows = data.verifiers.map((v) => el('tr', { id: `verifier-row-${v.name}` },
    el('td', {}, v.name), el('td', {}, v.title || ''), el('td', {}, (v.options && v.options.provider) || ''),
    el('td', {}, v.isDefault ? '✓' : ''),
    el('td', {}, el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'secondary', id: `verifier-edit-${v.name}`, onclick: () => { page.form = { kind: 'verifier', existing: v }; render(); } }, t('admin.edit')),
      el('button', { type: 'button', class: 'danger', id: `verifier-delete-${v.name}`,
        onclick: () => confirm(t('admin.confirmDelete', { name: v.name }))
          && act(() => api('verifiers:destroy', { query: { filterByTk: v.name } })) }, t('admin.delete'))))));
  return [
    el('div', { class: 'toolbar' }, el('button', { type: 'button', id: 'add-verifier', onclick: () => { page.form = { kind: 'verifier' }; render(); } }, t('admin.addVerifier'))),
    page.form && page.form.kind === 'verifier' ? verifierForm(page.form.existing) : null,
    el('div', { class: 'table-wrap' }, el('table', { id: 'verifier-table' },
      el('thead', {}, el('tr', {}, ['admin.name', 'admin.titleField', 'admin.provider', 'admin.isDefaultShort', 'admin.actions'].map((k) => el('th', {}, t(k))))),
      el('tbody', {}, rows))),
  ];
}

// ------------------------------------------------------------------ token policy

const UNITS = { m: 60, h: 3600, d: 86400 };

function splitDuration(s) {
  const m = /^(\d+)([smhd]?)$/.exec(String(s || '').trim());
  if (!m) return { n: 1, unit: 'd' };
  let secs = Number(m[1]) * ({ s: 1, '': 1, ...UNITS })[m[2]];
  for (const unit of ['d', 'h', 'm']) if (secs % UNITS[unit] === 0) return { n: secs / UNITS[unit], unit };
  return { n: Math.max(1, Math.round(secs / 60)), unit: 'm' };
}

function policyTab() {
  const error = alertBox('form-error');
  const cfg = data.policy || {};
  const rows = [['tokenExpirationTime', 'admin.tokenTtl'], ['sessionExpirationTime', 'admin.sessionTtl'], ['expiredTokenRenewLimit', 'admin.renewLimit']];
  const inputs = {};
  const controls = rows.map(([key, label]) => {
    const { n, unit } = splitDuration(cfg[key]);
    const num = el('input', { type: 'number', min: '1', id: `policy-${key}`, value: String(n) });
    const sel = el('select', { id: `policy-${key}-unit`, 'aria-label': t(label) + ' – ' + t('admin.unit') },
      Object.keys(UNITS).map((u) => el('option', { value: u, selected: u === unit }, t(`unit.${u}`))));
    inputs[key] = { num, sel };
    return el('div', {}, el('label', { for: num.id }, t(label)), el('div', { class: 'row' }, num, sel));
  });
  const saved = el('p', { class: 'success', role: 'status', id: 'policy-saved' });
  return el('form', { class: 'card', id: 'policy-form', novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    saved.textContent = '';
    run(error, async () => {
      const secs = (k) => Number(inputs[k].num.value) * UNITS[inputs[k].sel.value];
      for (const k of Object.keys(inputs)) {
        if (!(Number(inputs[k].num.value) >= 1)) throw new Error(t('admin.policyPositive'));
      }
      if (secs('tokenExpirationTime') >= secs('sessionExpirationTime')) throw new Error(t('admin.policyOrder'));
      const config = Object.fromEntries(Object.keys(inputs).map((k) => [k, `${inputs[k].num.value}${inputs[k].sel.value}`]));
      data.policy = (await api('tokenControlConfig:update', { query: { filterByTk: 'token-policy-config' }, body: { config } })).data.config;
      saved.textContent = t('admin.saved');
    });
  } }, el('h2', {}, t('admin.tab.policy')), controls, error, saved,
  el('div', { class: 'toolbar' }, el('button', { type: 'submit', id: 'policy-save' }, t('admin.save'))));
}

// ------------------------------------------------------------------ users

async function loadUsers() {
  const query = { pageSize: 50 };
  if (page.search) query.filter = JSON.stringify({ phone: { $includes: page.search } });
  data.users = (await api('users:list', { method: 'GET', query })).data;
}

function rolesForm(u) {
  const error = alertBox('form-error');
  const names = ['root', 'admin', 'member'];
  const boxes = names.map((n) => checkbox(n, { checked: (u.roles || []).some((r) => r.name === n), 'data-role': n }));
  return el('form', { class: 'card', id: 'roles-form', onsubmit: (e) => {
    e.preventDefault();
    run(error, async () => {
      const roles = boxes.filter((b) => b.box.checked).map((b) => b.box.dataset.role);
      await api('users:update', { query: { filterByTk: u.id }, body: { roles } });
      page.form = null;
      await switchTab(true);
    });
  } }, el('h2', {}, t('admin.rolesOf', { name: u.nickname || u.username || u.phone || u.id })),
  el('dl', {}, el('dt', {}, 'ID'), el('dd', {}, String(u.id)), el('dt', {}, t('account.email')), el('dd', {}, u.email || '—'),
    el('dt', {}, t('account.phone')), el('dd', {}, u.phone || '—'), el('dt', {}, t('admin.created')), el('dd', {}, u.createdAt)),
  el('fieldset', {}, el('legend', {}, t('account.roles')), boxes.map((b) => b.node)), error,
  el('div', { class: 'toolbar' }, el('button', { type: 'submit', id: 'roles-save' }, t('admin.save')),
    el('button', { type: 'button', class: 'secondary', onclick: () => { page.form = null; render(); } }, t('admin.cancel'))));
}

function usersTab() {
  const search = el('input', { type: 'search', id: 'user-search', value: page.search, inputmode: 'tel' });
  const rows = data.users.map((u) => el('tr', { id: `user-row-${u.id}` },
    el('td', {}, String(u.id)), el('td', {}, u.nickname || ''), el('td', {}, u.username || ''), el('td', {}, u.email || ''),
    el('td', {}, u.phone || ''), el('td', {}, (u.roles || []).map((r) => r.name).join(', ')),
    el('td', {}, el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'secondary', id: `user-roles-${u.id}`, onclick: () => { page.form = { kind: 'roles', user: u }; render(); } }, t('admin.view')),
      el('button', { type: 'button', class: 'secondary', id: `user-revoke-${u.id}`, onclick: () => act(() => api('users:revokeSessions', { query: { filterByTk: u.id } }), t('admin.revoked')) }, t('admin.revoke')),
      el('button', { type: 'button', class: 'danger', id: `user-delete-${u.id}`, disabled: u.id === page.me.id,
        onclick: () => confirm(t('admin.confirmDelete', { name: u.nickname || u.id }))
          && act(() => api('users:destroy', { query: { filterByTk: u.id } })) }, t('admin.delete'))))));
  return [
    el('form', { class: 'toolbar', role: 'search', onsubmit: (e) => {
      e.preventDefault();
      page.search = search.value.trim();
      act(async () => {});
    } }, el('label', { class: 'visually-hidden', for: 'user-search' }, t('admin.searchPhone')), search,
    el('button', { type: 'submit', id: 'user-search-submit' }, t('admin.search'))),
    page.form && page.form.kind === 'roles' ? rolesForm(page.form.user) : null,
    el('div', { class: 'table-wrap' }, el('table', { id: 'user-table' },
      el('thead', {}, el('tr', {}, ['ID', 'account.nickname', 'account.username', 'account.email', 'account.phone', 'account.roles', 'admin.actions'].map((k) => el('th', {}, k === 'ID' ? k : t(k))))),
      el('tbody', {}, rows))),
  ];
}

// ------------------------------------------------------------------ page

const LOADERS = { authenticators: loadAuths, verifiers: loadVerifiers, policy: async () => {
  data.policy = (await api('tokenControlConfig:get', { method: 'GET', query: { filterByTk: 'token-policy-config' } })).data.config;
}, users: loadUsers };
const VIEWS = { authenticators: authenticatorsTab, verifiers: verifiersTab, policy: policyTab, users: usersTab };

function render() {
  const error = alertBox('admin-error');
  error.textContent = page.error;
  const tabs = el('div', { class: 'tabs', role: 'tablist', 'aria-label': t('admin.title') },
    TABS.map((name) => el('button', { type: 'button', role: 'tab', id: `tab-${name}`, 'aria-selected': String(page.tab === name),
      onclick: () => { page.tab = name; page.form = null; page.notice = ''; page.error = ''; switchTab(); } }, t(`admin.tab.${name}`))));
  const body = VIEWS[page.tab]();
  mount(topBar([['/account', 'nav.account']]),
    el('main', {}, el('h1', {}, t('admin.title')), tabs,
      page.notice ? el('p', { class: 'success', role: 'status' }, page.notice) : null, error,
      el('section', { role: 'tabpanel', 'aria-labelledby': `tab-${page.tab}`, id: 'tab-panel' }, body)));
}

/** Loads the current tab's data and renders. */
async function switchTab() {
  try {
    await LOADERS[page.tab]();
    if (page.tab === 'authenticators') await loadVerifiers();
  } catch (e) {
    if (e.status === 401) return toSignIn();
    page.error = e.message;
  }
  render();
}

async function load() {
  state.rerender = render;
  try {
    page.me = (await api('auth:check', { method: 'GET' })).data;
  } catch (e) {
    if (e.status === 401) return toSignIn();
    mount(topBar([]), el('main', {}, el('p', { class: 'error', role: 'alert' }, e.message)));
    return;
  }
  if (!isAdmin(page.me)) {
    mount(topBar([['/account', 'nav.account']]), el('main', {}, el('section', { class: 'card', id: 'forbidden' },
      el('h1', {}, t('admin.title')), el('p', { role: 'alert' }, t('admin.forbidden')),
      el('a', { href: '/account' }, t('nav.account')))));
    state.rerender = load;
    return;
  }
  await switchTab();
}

load();
