// /account: the signed-in user's profile, bound phones (bind/unbind with a code) and sign-out.
import {
  alertBox,
  api,
  attempt,
  clearToken,
  countdown,
  el,
  field,
  isAdmin,
  mount,
  onSubmit,
  state,
  t,
  topBar,
  toSignIn,
} from './common.js';

const page = { me: null, verifiers: [], flows: {}, message: '' };
const timers = [];

function flow(name) {
  page.flows[name] ??= { phone: '', until: 0, sent: false };
  return page.flows[name];
}

async function refresh() {
  page.verifiers = (await api('verifiers:listByUser', { method: 'GET' })).data;
}

/** After a bind or unbind: forgets the flow, says so and shows the new state. */
async function finish(v, messageKey) {
  delete page.flows[v.name];
  page.message = t(messageKey);
  await refresh();
  render();
}

function bindForm(v) {
  const f = flow(v.name);
  const phone = el('input', {
    type: 'tel',
    autocomplete: 'tel',
    id: `bind-phone-${v.name}`,
    value: f.phone,
    oninput: (e) => {
      f.phone = e.target.value;
    },
  });
  const code = el('input', {
    type: 'text',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    id: `bind-code-${v.name}`,
    maxlength: '10',
  });
  const send = el('button', { type: 'button', class: 'secondary', id: `bind-send-${v.name}` }, t('code.send'));
  const error = alertBox(`bind-error-${v.name}`);
  const arm = () => timers.push(countdown(send, f.until, 'code.send'));
  const sendCode = async () => {
    const res = await api('smsOTP:create', { body: { action: 'verifiers:bind', verifier: v.name, uuid: phone.value } });
    f.until = new Date(res.data.expiresAt).getTime();
    arm();
    code.focus();
  };
  send.addEventListener('click', () => attempt(error, sendCode));
  if (f.until > Date.now()) arm();
  const submit = el('button', { type: 'submit', id: `bind-submit-${v.name}` }, t('account.bind'));
  const bind = async () => {
    await api('verifiers:bind', { body: { verifier: v.name, uuid: phone.value, code: code.value } });
    await finish(v, 'account.bound');
  };
  return el(
    'form',
    { novalidate: true, onsubmit: onSubmit(error, bind) },
    field(t('signin.phone'), phone),
    el('div', {}, el('label', { for: code.id }, t('signin.code')), el('div', { class: 'row' }, code, send)),
    error,
    el('div', { class: 'toolbar' }, submit),
  );
}

function unbindForm(v) {
  const f = flow(v.name);
  const code = el('input', {
    type: 'text',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    id: `unbind-code-${v.name}`,
    maxlength: '10',
  });
  const send = el(
    'button',
    { type: 'button', class: 'secondary', id: `unbind-send-${v.name}` },
    t('account.sendToBound'),
  );
  const error = alertBox(`unbind-error-${v.name}`);
  const arm = () => timers.push(countdown(send, f.until, 'account.sendToBound'));
  const sendCode = async () => {
    const res = await api('smsOTP:create', { body: { action: 'verifiers:unbind', verifier: v.name } });
    f.until = new Date(res.data.expiresAt).getTime();
    arm();
    code.focus();
  };
  send.addEventListener('click', () => attempt(error, sendCode));
  if (f.until > Date.now()) arm();
  const submit = el('button', { type: 'submit', class: 'danger', id: `unbind-submit-${v.name}` }, t('account.unbind'));
  const unbind = async () => {
    await api('verifiers:unbind', { body: { verifier: v.name, unbindVerifier: v.name, code: code.value } });
    await finish(v, 'account.unbound');
  };
  return el(
    'form',
    { novalidate: true, onsubmit: onSubmit(error, unbind) },
    el('div', {}, el('label', { for: code.id }, t('signin.code')), el('div', { class: 'row' }, code, send)),
    error,
    el('div', { class: 'toolbar' }, submit),
  );
}

function render() {
  while (timers.length) timers.pop()();
  const me = page.me;
  const roles = (me.roles || []).map((r) => r.title || r.name).join(', ');
  const profile = el(
    'section',
    { class: 'card', id: 'profile' },
    el('h1', {}, t('account.title')),
    el(
      'dl',
      {},
      el('dt', {}, t('account.nickname')),
      el('dd', {}, me.nickname || '—'),
      el('dt', {}, t('account.username')),
      el('dd', {}, me.username || '—'),
      el('dt', {}, t('account.email')),
      el('dd', {}, me.email || '—'),
      el('dt', {}, t('account.phone')),
      el('dd', {}, me.phone || '—'),
      el('dt', {}, t('account.roles')),
      el('dd', {}, roles || '—'),
    ),
  );
  const phones = el(
    'section',
    { class: 'card', id: 'verifiers' },
    el('h2', {}, t('account.verifiers')),
    page.message ? el('p', { class: 'success', role: 'status' }, page.message) : null,
    page.verifiers.length === 0 ? el('p', {}, t('account.noVerifiers')) : null,
    page.verifiers.map((v) =>
      el(
        'fieldset',
        { id: `verifier-${v.name}` },
        el('legend', {}, v.title || v.name),
        v.boundInfo.bound
          ? [el('p', { id: `bound-${v.name}` }, t('account.boundTo', { phone: v.boundInfo.publicInfo })), unbindForm(v)]
          : [el('p', {}, t('account.notBound')), bindForm(v)],
      ),
    ),
  );
  const signOut = el(
    'button',
    {
      type: 'button',
      class: 'secondary',
      id: 'sign-out',
      onclick: async () => {
        try {
          await api('auth:signOut');
        } catch {
          /* the token may already be invalid */
        }
        clearToken();
        location.href = '/signin';
      },
    },
    t('account.signOut'),
  );
  const links = isAdmin(me) ? [['/admin', 'nav.admin']] : [];
  mount(topBar(links), el('main', {}, profile, phones, el('div', { class: 'toolbar' }, signOut)));
}

async function load() {
  state.rerender = render;
  try {
    page.me = (await api('auth:check', { method: 'GET' })).data;
    await refresh();
  } catch (e) {
    if (e.status === 401) return toSignIn();
    mount(topBar([]), el('main', {}, el('p', { class: 'error', role: 'alert' }, e.message)));
    return;
  }
  render();
}

load();
