// /admin, tab "Applications (OIDC)": the applications (OpenID Connect relying parties) that sign
// their users in with smsauth. An application is registered with the addresses it returns to;
// after it is created, and after its secret is rotated, the values an operator pastes into the
// application are shown once (the server keeps only a hash of the secret).
import { alertBox, api, checkbox, el, field, formatTime, pager, t } from './common.js';

const PAGE_SIZE = 50;
const ALGS = ['RS256', 'EdDSA'];
/** What an application asks for to get the user's ID, nickname and phone number. */
const SCOPES = 'openid profile phone';
let clients = [];
let meta = { page: 1, totalPage: 1 };
let pageNo = 1;
/** The discovery document, once it was read. */
let discovery = null;

export async function load() {
  const list = () => api('oidcClients:list', { method: 'GET', query: { page: pageNo, pageSize: PAGE_SIZE } });
  let res = await list();
  // The last application of the last page was deleted: show the page before.
  if (!res.data?.length && pageNo > 1) {
    pageNo = Math.max(1, res.meta?.totalPage || 1);
    res = await list();
  }
  clients = res.data || [];
  meta = res.meta || { page: pageNo, totalPage: 1 };
}

/** Digits and letters only, for element ids. */
const idPart = (s) => String(s).replace(/[^A-Za-z0-9]/g, '');

/** The issuer and endpoints from the discovery document; without it, those of this origin. */
async function endpoints() {
  if (!discovery) {
    try {
      const res = await fetch('/.well-known/openid-configuration', { headers: { Accept: 'application/json' } });
      if (res.ok) discovery = await res.json();
    } catch {
      /* the values of this origin are shown instead */
    }
  }
  const issuer = discovery?.issuer || location.origin;
  const base = issuer.replace(/\/+$/, '');
  return {
    issuer,
    discovery: `${base}/.well-known/openid-configuration`,
    authorization: discovery?.authorization_endpoint || `${base}/oidc/authorize`,
    token: discovery?.token_endpoint || `${base}/oidc/token`,
    userinfo: discovery?.userinfo_endpoint || `${base}/oidc/userinfo`,
  };
}

/** The card with the values to paste into the application, opened after a create or rotate. */
async function credentialsForm(client, rotated) {
  return { kind: 'oidcCredentials', client, secret: client.clientSecret || '', urls: await endpoints(), rotated };
}

/** URIs one per line (any white space separates them: a URI has none). */
const uris = (text) => text.split(/\s+/).filter(Boolean);

function copyButton(name, value, code) {
  const button = el(
    'button',
    {
      type: 'button',
      class: 'secondary',
      'aria-label': t('admin.oidc.copyField', { name }),
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(value);
          button.textContent = t('admin.oidc.copied');
          button.setAttribute('aria-label', t('admin.oidc.copied'));
        } catch {
          // No clipboard (an address that is not secure): select the text for a manual copy.
          window.getSelection()?.selectAllChildren(code);
        }
      },
    },
    t('admin.oidc.copy'),
  );
  return button;
}

function credentials(shell, { client, secret, urls, rotated }) {
  const rows = [
    ['admin.oidc.issuer', urls.issuer, 'issuer'],
    ['admin.oidc.discovery', urls.discovery, 'discovery'],
    ['admin.oidc.clientId', client.clientId, 'client-id'],
    secret ? ['admin.oidc.clientSecret', secret, 'client-secret'] : null,
    ['admin.oidc.authorizationEndpoint', urls.authorization, 'authorization'],
    ['admin.oidc.tokenEndpoint', urls.token, 'token'],
    ['admin.oidc.userinfoEndpoint', urls.userinfo, 'userinfo'],
    ['admin.oidc.scopes', SCOPES, 'scopes'],
  ].filter(Boolean);
  return el(
    'section',
    { class: 'card credentials', id: 'oidc-credentials', 'aria-labelledby': 'oidc-credentials-title' },
    el('h2', { id: 'oidc-credentials-title' }, t('admin.oidc.credentialsTitle', { name: client.name })),
    el(
      'p',
      { class: 'success', role: 'status' },
      t(rotated ? 'admin.oidc.rotatedNotice' : 'admin.oidc.createdNotice', { name: client.name }),
    ),
    secret
      ? el('p', { class: 'notice', id: 'oidc-secret-once' }, t('admin.oidc.secretOnce'))
      : el('p', { class: 'hint', id: 'oidc-no-secret' }, t('admin.oidc.noSecret')),
    el(
      'dl',
      {},
      rows.flatMap(([key, value, id]) => {
        const code = el('code', { id: `oidc-cred-${id}` }, value);
        return [el('dt', {}, t(key)), el('dd', {}, code, copyButton(t(key), value, code))];
      }),
    ),
    el('p', { class: 'hint' }, t('admin.oidc.scopesHint')),
    el(
      'div',
      { class: 'toolbar' },
      el(
        'button',
        { type: 'button', id: 'oidc-credentials-done', onclick: () => shell.show(null) },
        t('admin.oidc.done'),
      ),
    ),
  );
}

function clientForm(shell, existing) {
  const error = alertBox('form-error');
  const name = el('input', {
    id: 'oidc-client-name',
    autocomplete: 'off',
    value: existing?.name || '',
    required: true,
  });
  const redirects = el(
    'textarea',
    {
      id: 'oidc-client-redirect-uris',
      spellcheck: 'false',
      placeholder: 'https://app.example/callback',
      required: true,
    },
    (existing?.redirectUris || []).join('\n'),
  );
  const postLogout = el(
    'textarea',
    { id: 'oidc-client-post-logout-uris', spellcheck: 'false', placeholder: 'https://app.example/' },
    (existing?.postLogoutRedirectUris || []).join('\n'),
  );
  // The type is chosen once: a public client has no secret to keep, a confidential one must.
  const isPublic = checkbox(t('admin.oidc.public'), {
    id: 'oidc-client-public',
    checked: !!existing?.public,
    disabled: !!existing,
  });
  const firstParty = checkbox(t('admin.oidc.firstParty'), {
    id: 'oidc-client-first-party',
    checked: !!existing?.firstParty,
  });
  const alg = el(
    'select',
    { id: 'oidc-client-alg' },
    ALGS.map((a) => el('option', { value: a, selected: a === (existing?.idTokenSignedResponseAlg || 'RS256') }, a)),
  );
  const save = async () => {
    const values = {
      name: name.value.trim(),
      redirectUris: uris(redirects.value),
      postLogoutRedirectUris: uris(postLogout.value),
      firstParty: firstParty.box.checked,
      idTokenSignedResponseAlg: alg.value,
    };
    if (!values.name) {
      name.focus();
      throw new Error(t('admin.oidc.nameRequired'));
    }
    if (!values.redirectUris.length) {
      redirects.focus();
      throw new Error(t('admin.oidc.redirectRequired'));
    }
    if (existing) {
      // Only what changed.
      const before = {
        name: existing.name,
        redirectUris: existing.redirectUris || [],
        postLogoutRedirectUris: existing.postLogoutRedirectUris || [],
        firstParty: !!existing.firstParty,
        idTokenSignedResponseAlg: existing.idTokenSignedResponseAlg || 'RS256',
      };
      const body = {};
      for (const [k, v] of Object.entries(values)) if (JSON.stringify(v) !== JSON.stringify(before[k])) body[k] = v;
      if (Object.keys(body).length) {
        await api('oidcClients:update', { query: { filterByTk: existing.clientId }, body });
      }
      await shell.saved();
      return;
    }
    const created = (await api('oidcClients:create', { body: { ...values, public: isPublic.box.checked } })).data;
    // The secret is in this answer only: show it even if the list cannot be read again.
    try {
      await load();
    } catch {
      /* the list is refreshed on the next visit of the tab */
    }
    shell.show(await credentialsForm(created, false));
  };
  return el(
    'form',
    { class: 'card', id: 'oidc-client-form', novalidate: true, onsubmit: shell.submit(error, save) },
    el('h2', {}, existing ? t('admin.oidc.edit', { name: existing.name }) : t('admin.oidc.add')),
    field(t('admin.oidc.name'), name, t('admin.oidc.nameHint')),
    field(t('admin.oidc.redirectUris'), redirects, t('admin.oidc.redirectUrisHint')),
    field(t('admin.oidc.postLogoutUris'), postLogout, t('admin.oidc.postLogoutUrisHint')),
    isPublic.node,
    el('p', { class: 'hint' }, t('admin.oidc.publicHint')),
    firstParty.node,
    el('p', { class: 'hint' }, t('admin.oidc.firstPartyHint')),
    field(t('admin.oidc.alg'), alg, t('admin.oidc.algHint')),
    error,
    el(
      'div',
      { class: 'toolbar' },
      el('button', { type: 'submit', id: 'oidc-client-save' }, t('admin.save')),
      el('button', { type: 'button', class: 'secondary', onclick: () => shell.show(null) }, t('admin.cancel')),
    ),
  );
}

export function view(shell) {
  const { act, page } = shell;
  const rows = clients.map((c) => {
    const id = idPart(c.clientId);
    return el(
      'tr',
      { id: `oidc-client-row-${id}` },
      el('td', {}, c.name),
      el('td', {}, el('code', {}, c.clientId)),
      el(
        'td',
        {},
        c.public ? t('admin.oidc.publicShort') : t('admin.oidc.confidential'),
        c.firstParty ? el('span', { class: 'badge' }, t('admin.oidc.firstPartyShort')) : null,
      ),
      el(
        'td',
        {},
        (c.redirectUris || []).map((u) => el('code', { class: 'uri' }, u)),
      ),
      el('td', {}, c.idTokenSignedResponseAlg || ''),
      el('td', {}, formatTime(c.createdAt)),
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
              id: `oidc-client-edit-${id}`,
              onclick: () => shell.show({ kind: 'oidcClient', existing: c }),
            },
            t('admin.edit'),
          ),
          el(
            'button',
            {
              type: 'button',
              class: 'secondary',
              id: `oidc-client-rotate-${id}`,
              disabled: !!c.public,
              onclick: () =>
                confirm(t('admin.oidc.confirmRotate', { name: c.name })) &&
                act(async () => {
                  const res = await api('oidcClients:rotateSecret', { query: { filterByTk: c.clientId } });
                  page.form = await credentialsForm(res.data, true);
                }),
            },
            t('admin.oidc.rotate'),
          ),
          el(
            'button',
            {
              type: 'button',
              class: 'danger',
              id: `oidc-client-delete-${id}`,
              onclick: () =>
                confirm(t('admin.oidc.confirmDelete', { name: c.name })) &&
                act(() => api('oidcClients:destroy', { query: { filterByTk: c.clientId } })),
            },
            t('admin.delete'),
          ),
        ),
      ),
    );
  });
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
        { type: 'button', id: 'add-oidc-client', onclick: () => shell.show({ kind: 'oidcClient' }) },
        t('admin.oidc.add'),
      ),
    ),
    el('p', { class: 'hint' }, t('admin.oidc.hint')),
    page.form?.kind === 'oidcCredentials' ? credentials(shell, page.form) : null,
    page.form?.kind === 'oidcClient' ? clientForm(shell, page.form.existing) : null,
    el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { id: 'oidc-client-table' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            [
              'admin.oidc.name',
              'admin.oidc.clientId',
              'admin.type',
              'admin.oidc.redirectUris',
              'admin.oidc.algShort',
              'admin.created',
              'admin.actions',
            ].map((k) => el('th', {}, t(k))),
          ),
        ),
        el(
          'tbody',
          {},
          rows.length ? rows : el('tr', { class: 'empty' }, el('td', { colspan: '7' }, t('admin.oidc.empty'))),
        ),
      ),
    ),
    meta.totalPage > 1 ? pager('oidc-client-pages', meta, go) : null,
  ];
}
