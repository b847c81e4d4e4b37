// /oidc/consent?<the authorize query>: an application asks to sign the user in; the page names
// it, the account and what it asks for, and sends the answer (Allow or Deny) to the server,
// which says where the browser goes next. The provider session is a cookie (Path=/oidc), so
// these requests carry no bearer token.
import { ApiError, alertBox, attempt, el, mount, state, t, topBar } from './common.js';

/** The sentence for each scope an application may ask for. */
const SCOPES = {
  openid: 'oidc.consent.scope.openid',
  profile: 'oidc.consent.scope.profile',
  phone: 'oidc.consent.scope.phone',
  email: 'oidc.consent.scope.email',
  offline_access: 'oidc.consent.scope.offlineAccess',
};

const page = { data: null, loadError: '' };

/** Sign-in, then back to this page with its query. */
const signInUrl = () => `/signin?redirect=${encodeURIComponent(location.pathname + location.search)}`;

function toSignIn() {
  location.href = signInUrl();
}

/** `GET` (with this page's query) or `POST` (with `body`) to /oidc/interaction; rejects with an
 *  ApiError carrying the server's `errors[0].message` in the current language, like `api`. */
async function interaction(body) {
  const headers = { 'X-Locale': state.locale };
  if (body) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(body ? '/oidc/interaction' : `/oidc/interaction${location.search}`, {
      method: body ? 'POST' : 'GET',
      headers,
      credentials: 'same-origin',
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ApiError(0, 'NETWORK', t('error.network'));
  }
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = json.errors?.[0] || {};
    throw new ApiError(res.status, e.code || `HTTP_${res.status}`, e.message || t('error.network'));
  }
  return json;
}

/** Only http(s) addresses: the answer names the application's redirect URI or /oidc/authorize. */
function navigable(target) {
  try {
    const url = new URL(target, location.origin);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

function who(user) {
  const name = user.nickname || user.username || user.phone || `#${user.id}`;
  return user.phone && name !== user.phone ? `${name} (${user.phone})` : name;
}

function consentCard({ client, scopes, user }) {
  const app = client.name || client.clientId;
  const error = alertBox('consent-error');
  const allow = el('button', { type: 'button', id: 'consent-allow' }, t('oidc.consent.allow'));
  const deny = el('button', { type: 'button', class: 'secondary', id: 'consent-deny' }, t('oidc.consent.deny'));
  const answer = (allowed) =>
    attempt(error, async () => {
      allow.disabled = true;
      deny.disabled = true;
      try {
        const res = await interaction({ query: location.search.slice(1), allow: allowed });
        const target = navigable(res.data?.redirect);
        if (!target) throw new Error(t('oidc.invalidRequest'));
        location.href = target;
      } catch (e) {
        if (e.status === 401) return toSignIn();
        allow.disabled = false;
        deny.disabled = false;
        throw e;
      }
    });
  allow.addEventListener('click', () => answer(true));
  deny.addEventListener('click', () => answer(false));
  return el(
    'section',
    { class: 'card consent', id: 'consent' },
    el('h1', {}, t('oidc.consent.title', { app })),
    el(
      'p',
      { id: 'consent-user' },
      t('oidc.consent.signedInAs', { name: who(user || {}) }),
      ' ',
      el('a', { href: signInUrl(), id: 'consent-switch' }, t('oidc.consent.switchAccount')),
    ),
    el('p', {}, t('oidc.consent.intro', { app })),
    el(
      'ul',
      { class: 'scopes', id: 'consent-scopes' },
      (scopes || []).map((s) =>
        el('li', { 'data-scope': s }, SCOPES[s] ? t(SCOPES[s]) : t('oidc.consent.scope.other', { scope: s })),
      ),
    ),
    el('p', { class: 'hint' }, t('oidc.consent.hint', { app })),
    error,
    el('div', { class: 'toolbar' }, allow, deny),
  );
}

function render() {
  let card;
  if (page.loadError) {
    card = el(
      'section',
      { class: 'card', id: 'consent-failed' },
      el('h1', {}, t('oidc.error.title')),
      el('p', { class: 'error', role: 'alert', id: 'consent-error' }, page.loadError),
      el('p', { class: 'hint' }, t('oidc.error.hint')),
    );
  } else if (page.data) {
    card = consentCard(page.data);
  } else {
    card = el('section', { class: 'card' }, el('p', { role: 'status' }, t('oidc.consent.loading')));
  }
  mount(topBar([]), el('main', { class: 'narrow' }, card));
}

async function load() {
  state.rerender = render;
  render();
  try {
    page.data = (await interaction()).data;
  } catch (e) {
    if (e.status === 401) return toSignIn();
    page.loadError = e.message;
  }
  render();
}

load();
