// /admin: authenticators, verifiers, token policy, users, the SMS defences (SMS policy,
// SMS guard, test numbers, audit log) and the OpenID Connect applications, for roles admin and
// root only.
// This is the page: its tabs, switching between them and the state they share; each tab (its
// data, table and form) is a module of its own, admin-<tab>.js, given `shell` to reach the page.
import * as audit from './admin-audit.js';
import * as authenticators from './admin-authenticators.js';
import * as oidcClients from './admin-oidc-clients.js';
import * as policy from './admin-policy.js';
import * as smsGuard from './admin-sms-guard.js';
import * as smsPolicy from './admin-sms-policy.js';
import * as testNumbers from './admin-test-numbers.js';
import * as users from './admin-users.js';
import * as verifiers from './admin-verifiers.js';
import { alertBox, api, el, isAdmin, mount, onSubmit, state, t, topBar, toSignIn } from './common.js';

const TABS = { authenticators, verifiers, policy, users, smsPolicy, smsGuard, testNumbers, audit, oidcClients };
const page = { me: null, tab: 'authenticators', form: null, notice: '', error: '' };

/** What the tabs use of the page. `page.form` is the open form, `{ kind, ... }`, or null. */
const shell = {
  page,
  /** Opens `form` (null closes it) on `tab`, with the data already loaded. */
  show(form, tab = page.tab) {
    page.tab = tab;
    page.form = form;
    render();
  },
  /** After a form was saved: closes it and reloads the tab. */
  async saved() {
    page.form = null;
    await switchTab();
  },
  /** A form's submit: its error stays next to the form, whose inputs are kept. */
  submit: (error, fn) => onSubmit(error, fn, { toSignIn: true }),
  /** Runs a table action, then reloads the tab; a refusal (for example the last-authenticator
   *  rule) is shown above the table. */
  async act(fn, successNotice = '') {
    page.error = '';
    page.notice = '';
    try {
      await fn();
      page.notice = successNotice;
    } catch (e) {
      if (e.status === 401) return toSignIn();
      page.error = e.message;
    }
    await switchTab();
  },
};

function render() {
  const error = alertBox('admin-error');
  error.textContent = page.error;
  const tabs = el(
    'div',
    { class: 'tabs', role: 'tablist', 'aria-label': t('admin.title') },
    Object.keys(TABS).map((name) =>
      el(
        'button',
        {
          type: 'button',
          role: 'tab',
          id: `tab-${name}`,
          'aria-selected': String(page.tab === name),
          onclick: () => {
            page.tab = name;
            page.form = null;
            page.notice = '';
            page.error = '';
            switchTab();
          },
        },
        t(`admin.tab.${name}`),
      ),
    ),
  );
  const body = TABS[page.tab].view(shell);
  mount(
    topBar([['/account', 'nav.account']]),
    el(
      'main',
      {},
      el('h1', {}, t('admin.title')),
      tabs,
      page.notice ? el('p', { class: 'success', role: 'status' }, page.notice) : null,
      error,
      el('section', { role: 'tabpanel', 'aria-labelledby': `tab-${page.tab}`, id: 'tab-panel' }, body),
    ),
  );
}

/** Loads the current tab's data and renders. */
async function switchTab() {
  try {
    await TABS[page.tab].load();
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
    mount(
      topBar([['/account', 'nav.account']]),
      el(
        'main',
        {},
        el(
          'section',
          { class: 'card', id: 'forbidden' },
          el('h1', {}, t('admin.title')),
          el('p', { role: 'alert' }, t('admin.forbidden')),
          el('a', { href: '/account' }, t('nav.account')),
        ),
      ),
    );
    state.rerender = load;
    return;
  }
  await switchTab();
}

load();
