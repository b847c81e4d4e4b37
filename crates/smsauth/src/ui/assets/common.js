// Shared by every page: translation, the API client (token, X-New-Token, errors), DOM helpers
// that never parse HTML (so server data cannot inject markup), and the page header.
import { LOCALES, load, MESSAGES, NAMES } from './i18n.js';

const TOKEN_KEY = 'smsauth.token';
const LOCALE_KEY = 'smsauth.locale';

function matchLocale(tag) {
  const lang = String(tag || '')
    .toLowerCase()
    .split(/[-_]/)[0];
  return LOCALES.find((l) => l.toLowerCase().startsWith(`${lang}-`)) || null;
}

/** The saved choice, else the language the server picked from Accept-Language, else en-US. */
function initialLocale() {
  const saved = localStorage.getItem(LOCALE_KEY);
  if (saved && LOCALES.includes(saved)) return saved;
  return matchLocale(document.documentElement.lang) || 'en-US';
}

export const state = { locale: initialLocale(), rerender: () => {} };
// The chosen locale and the fallback are loaded before any page renders.
await Promise.all([load(state.locale), load('en-US')]);

export function t(key, params = {}) {
  let s = MESSAGES[state.locale]?.[key] ?? MESSAGES['en-US'][key] ?? key;
  for (const [k, v] of Object.entries(params)) s = s.replaceAll(`{{${k}}}`, String(v));
  return s;
}

export async function setLocale(locale) {
  await load(locale);
  state.locale = locale;
  localStorage.setItem(LOCALE_KEY, locale);
  document.documentElement.lang = locale;
  state.rerender();
}

export const getToken = () => localStorage.getItem(TOKEN_KEY);
export const setToken = (tk) => localStorage.setItem(TOKEN_KEY, tk);
export const clearToken = () => localStorage.removeItem(TOKEN_KEY);

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls `/api/<action>`; resolves to the JSON body, rejects with an ApiError whose message is
 *  the server's `errors[0].message` in the current language. */
export async function api(action, { method = 'POST', body, query, authenticator } = {}) {
  const headers = { 'X-Locale': state.locale };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (authenticator) headers['X-Authenticator'] = authenticator;
  if (method !== 'GET') headers['Content-Type'] = 'application/json';
  const qs = query ? `?${new URLSearchParams(query).toString()}` : '';
  let res;
  try {
    res = await fetch(`/api/${action}${qs}`, {
      method,
      headers,
      body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', t('error.network'));
  }
  const renewed = res.headers.get('X-New-Token');
  if (renewed) setToken(renewed);
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = json.errors?.[0] || {};
    throw new ApiError(res.status, e.code || `HTTP_${res.status}`, e.message || t('error.network'));
  }
  return json;
}

/** Creates an element. `attrs` keys starting with `on` are listeners; children are nodes or
 *  strings (always text, never HTML). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'class') node.className = v;
    else if (k === 'value') node.value = v;
    else if (k === 'checked') node.checked = !!v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

let fieldSeq = 0;
/** A label bound to its control. */
export function field(labelText, control, hint) {
  if (!control.id) control.id = `f${++fieldSeq}`;
  return el(
    'div',
    {},
    el('label', { for: control.id }, labelText),
    control,
    hint ? el('p', { class: 'hint' }, hint) : null,
  );
}

export function checkbox(labelText, attrs = {}) {
  const box = el('input', { type: 'checkbox', ...attrs });
  return { box, node: el('label', { class: 'inline' }, box, labelText) };
}

/** A delete button that asks "Delete {name}?" before `remove()` runs. */
export function deleteButton(id, name, remove, attrs = {}) {
  return el(
    'button',
    {
      type: 'button',
      class: 'danger',
      id,
      ...attrs,
      onclick: () => confirm(t('admin.confirmDelete', { name })) && remove(),
    },
    t('admin.delete'),
  );
}

/** The page buttons of a list whose answer had `meta` ({ page, totalPage }): "Previous",
 *  "Page N of M", "Next"; `go(page)` loads another page. */
export function pager(id, meta, go) {
  const page = meta?.page || 1;
  const total = Math.max(1, meta?.totalPage || 1);
  return el(
    'nav',
    { class: 'toolbar pager', id, 'aria-label': t('admin.pages') },
    el(
      'button',
      { type: 'button', class: 'secondary', id: `${id}-prev`, disabled: page <= 1, onclick: () => go(page - 1) },
      t('admin.prevPage'),
    ),
    el('span', { id: `${id}-status` }, t('admin.pageOf', { page, total })),
    el(
      'button',
      { type: 'button', class: 'secondary', id: `${id}-next`, disabled: page >= total, onclick: () => go(page + 1) },
      t('admin.nextPage'),
    ),
  );
}

/** An ISO time as the reader's locale writes it, or '' for none. */
export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(state.locale);
}

/** An ISO time as the value of an `<input type="datetime-local">` (the reader's time zone). */
export function toLocalInput(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The value of an `<input type="datetime-local">` as an RFC 3339 UTC time, or null. */
export function fromLocalInput(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** An error line that screen readers announce. */
export function alertBox(id) {
  return el('p', { class: 'error', role: 'alert', id });
}

export function isAdmin(user) {
  return (user.roles || []).some((r) => r.name === 'admin' || r.name === 'root');
}

export function isRoot(user) {
  return (user.roles || []).some((r) => r.name === 'root');
}

/** Only same-origin paths: `/x` but not `//evil.example` or `/\evil.example`. */
export function safeRedirect(target) {
  if (typeof target !== 'string' || !target.startsWith('/')) return null;
  if (target.startsWith('//') || target.startsWith('/\\')) return null;
  try {
    const url = new URL(target, location.origin);
    return url.origin === location.origin ? url.pathname + url.search + url.hash : null;
  } catch {
    return null;
  }
}

/** The bar at the top: product name, navigation and the language switcher. */
export function topBar(links = []) {
  const select = el(
    'select',
    { id: 'language', onchange: (e) => setLocale(e.target.value) },
    LOCALES.map((l) => el('option', { value: l, selected: l === state.locale }, NAMES[l])),
  );
  return el(
    'header',
    { class: 'top' },
    el('a', { class: 'brand', href: '/account' }, 'smsauth'),
    el(
      'nav',
      { 'aria-label': t('nav.label') },
      links.map(([href, key]) => el('a', { href }, t(key))),
      el('label', { class: 'visually-hidden', for: 'language' }, t('lang.label')),
      select,
    ),
  );
}

export function mount(...nodes) {
  const app = document.getElementById('app');
  app.replaceChildren(...nodes);
  document.title = `${t('app.title')} – smsauth`;
}

/** Sends the visitor to sign in and back here afterwards. */
export function toSignIn() {
  location.href = `/signin?redirect=${encodeURIComponent(location.pathname)}`;
}

/** Runs one step of a form (its submit, or a "send code" click): clears `error`, then awaits
 *  `fn`. When `fn` throws, the message (the server's `errors[0].message`, see `api`, or the
 *  form's own check) is shown in `error` and the form keeps its inputs. Options: `busy`, a button
 *  disabled while `fn` runs and enabled again only after a failure (on success the page moves on
 *  or a countdown takes the button over); `toSignIn`, when a 401 (the session is over) sends the
 *  visitor to sign in instead of showing the message. */
export async function attempt(error, fn, { busy = null, toSignIn: signIn = false } = {}) {
  error.textContent = '';
  if (busy) busy.disabled = true;
  try {
    await fn();
  } catch (e) {
    if (signIn && e.status === 401) return toSignIn();
    error.textContent = e.message;
    if (busy) busy.disabled = false;
  }
}

/** A form's `onsubmit`: no page load, then `attempt(error, fn, options)`. */
export function onSubmit(error, fn, options) {
  return (e) => {
    e.preventDefault();
    return attempt(error, fn, options);
  };
}

/** A button that counts down to `until` (ms) showing "Retry after N seconds", then calls done. */
export function countdown(button, until, labelKey, done) {
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) {
      button.disabled = false;
      button.textContent = t(labelKey);
      clearInterval(timer);
      if (done) done();
      return;
    }
    button.disabled = true;
    button.textContent = t('code.retryAfter', { n: left });
  };
  const timer = setInterval(tick, 250);
  tick();
  return () => clearInterval(timer);
}
