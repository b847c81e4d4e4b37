// /signin: one tab per enabled authenticator; SMS (phone + code with a countdown) or password.
// Afterwards back to `?redirect=` (same origin only); an OpenID Connect sign-in is handed to the
// provider's session (`POST /oidc/session`) instead of keeping the token.
import {
  alertBox,
  api,
  attempt,
  countdown,
  el,
  field,
  mount,
  onSubmit,
  safeRedirect,
  setToken,
  state,
  t,
  topBar,
} from './common.js';

const page = { auths: [], active: 0, until: {}, phone: {}, loadError: null, app: null };
let stopTimer = () => {};

/** Signed in: back to the page that sent the visitor here, else /account. An OpenID Connect
 *  sign-in (a target under /oidc/) trades the token for the provider's session cookie instead of
 *  keeping it, so the application's sign-in does not also sign this browser in to smsauth. */
async function done(token) {
  const target = safeRedirect(new URLSearchParams(location.search).get('redirect'));
  if (target?.startsWith('/oidc/')) {
    await providerSession(token);
    location.href = target;
    return;
  }
  setToken(token);
  location.href = target || '/account';
}

/** `POST /oidc/session` with the fresh token; throws the server's message on a refusal. */
async function providerSession(token) {
  let res;
  try {
    res = await fetch('/oidc/session', {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'X-Locale': state.locale },
      credentials: 'same-origin',
    });
  } catch {
    throw new Error(t('error.network'));
  }
  if (!res.ok) {
    const json = await res.json().catch(() => ({}));
    throw new Error(json.errors?.[0]?.message || t('error.network'));
  }
}

function smsForm(auth) {
  const opts = auth.options || {};
  const phone = el('input', {
    type: 'tel',
    autocomplete: 'tel',
    name: 'phone',
    id: 'phone',
    required: true,
    value: page.phone[auth.name] || '',
    oninput: (e) => {
      page.phone[auth.name] = e.target.value;
    },
  });
  const code = el('input', {
    type: 'text',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    name: 'code',
    id: 'code',
    maxlength: '10',
    pattern: '[0-9]*',
    required: true,
  });
  const error = alertBox('error');
  const send = el('button', { type: 'button', id: 'send-code', class: 'secondary' }, t('code.send'));
  const start = (until) => {
    page.until[auth.name] = until;
    stopTimer();
    stopTimer = countdown(send, until, 'code.send');
  };
  const sendCode = async () => {
    if (!phone.value.trim()) {
      phone.focus();
      throw new Error(t('signin.phoneRequired'));
    }
    // Old setups name no verifier: the legacy endpoint uses the default one.
    const res = opts.verifier
      ? await api('smsOTP:publicCreate', {
          body: { action: 'auth:signIn', verifier: opts.verifier, uuid: phone.value },
        })
      : await api('verifications:create', { body: { type: 'auth:signIn', phone: phone.value } });
    start(new Date(res.data.expiresAt).getTime());
    code.focus();
  };
  send.addEventListener('click', () => attempt(error, sendCode, { busy: send }));
  if (page.until[auth.name] > Date.now()) start(page.until[auth.name]);
  const submit = el('button', { type: 'submit', class: 'wide', id: 'sign-in' }, t('signin.submit'));
  const signIn = async () => {
    const res = await api('auth:signIn', { authenticator: auth.name, body: { uuid: phone.value, code: code.value } });
    await done(res.data.token);
  };
  const form = el(
    'form',
    { novalidate: true, onsubmit: onSubmit(error, signIn, { busy: submit }) },
    field(t('signin.phone'), phone),
    el('div', {}, el('label', { for: 'code' }, t('signin.code')), el('div', { class: 'row' }, code, send)),
    opts.autoSignup ? el('p', { class: 'hint', id: 'auto-signup-hint' }, t('signin.autoSignup')) : null,
    error,
    submit,
  );
  return form;
}

function passwordForm(auth) {
  const account = el('input', {
    type: 'text',
    autocomplete: 'username',
    name: 'account',
    id: 'account',
    required: true,
  });
  const password = el('input', {
    type: 'password',
    autocomplete: 'current-password',
    name: 'password',
    id: 'password',
    required: true,
  });
  const error = alertBox('error');
  const submit = el('button', { type: 'submit', class: 'wide', id: 'sign-in' }, t('signin.submit'));
  const signIn = async () => {
    const res = await api('auth:signIn', {
      authenticator: auth.name,
      body: { account: account.value, password: password.value },
    });
    await done(res.data.token);
  };
  return el(
    'form',
    { novalidate: true, onsubmit: onSubmit(error, signIn, { busy: submit }) },
    field(t('signin.account'), account),
    field(t('signin.password'), password),
    error,
    submit,
  );
}

function panel(auth) {
  return auth.authType === 'SMS' ? smsForm(auth) : passwordForm(auth);
}

/** The operator's title, unless it is empty or the stock one: then the translated type name. */
function tabTitle(auth) {
  const stock = ['', 'SMS', 'Password'];
  if (auth.title && !stock.includes(auth.title)) return auth.title;
  return auth.authType === 'SMS' ? t('signin.tabSms') : t('signin.tabPassword');
}

function render() {
  stopTimer();
  const card = el('section', { class: 'card' }, el('h1', {}, t('signin.title')));
  if (page.app) {
    card.append(el('p', { id: 'signin-app' }, t('signin.continueTo', { app: page.app })));
  }
  if (page.loadError) {
    card.append(el('p', { class: 'error', role: 'alert' }, page.loadError));
  } else if (page.auths.length === 0) {
    card.append(el('p', {}, t('signin.none')));
  } else {
    if (page.auths.length > 1) {
      card.append(
        el(
          'div',
          { class: 'tabs', role: 'tablist', 'aria-label': t('signin.methods') },
          page.auths.map((a, i) =>
            el(
              'button',
              {
                type: 'button',
                role: 'tab',
                id: `tab-${a.name}`,
                'aria-selected': String(i === page.active),
                'aria-controls': 'panel',
                onclick: () => {
                  page.active = i;
                  render();
                },
              },
              tabTitle(a),
            ),
          ),
        ),
      );
    }
    const auth = page.auths[page.active];
    card.append(
      el(
        'div',
        {
          id: 'panel',
          role: page.auths.length > 1 ? 'tabpanel' : null,
          'aria-labelledby': page.auths.length > 1 ? `tab-${auth.name}` : null,
        },
        panel(auth),
      ),
    );
  }
  mount(topBar([]), el('main', { class: 'narrow' }, card));
}

async function load() {
  state.rerender = render;
  try {
    page.auths = (await api('authenticators:publicList', { body: {} })).data;
  } catch (e) {
    page.loadError = e.message;
  }
  page.app = await applicationName();
  prefillFromHint();
  render();
}

/** An OpenID Connect `login_hint` that is a phone number fills the SMS forms' phone field and
 *  opens the first SMS tab. */
function prefillFromHint() {
  const target = safeRedirect(new URLSearchParams(location.search).get('redirect'));
  if (!target?.startsWith('/oidc/authorize?')) return;
  const hint = new URLSearchParams(target.slice('/oidc/authorize?'.length)).get('login_hint');
  if (!hint || !/^\+?[0-9][0-9 ().-]{4,24}$/.test(hint)) return;
  for (const auth of page.auths.filter((a) => a.authType === 'SMS')) page.phone[auth.name] ??= hint;
  const sms = page.auths.findIndex((a) => a.authType === 'SMS');
  if (sms >= 0) page.active = sms;
}

/** The application an OpenID Connect sign-in is for (`/oidc/client` checks the request the
 *  same way the authorization endpoint does), so the page can say where the user is going. */
async function applicationName() {
  const target = safeRedirect(new URLSearchParams(location.search).get('redirect'));
  if (!target?.startsWith('/oidc/authorize?')) return null;
  try {
    const res = await fetch(`/oidc/client?${target.slice('/oidc/authorize?'.length)}`, {
      headers: { 'X-Locale': state.locale },
    });
    return res.ok ? (await res.json()).data.name : null;
  } catch {
    return null;
  }
}

load();
