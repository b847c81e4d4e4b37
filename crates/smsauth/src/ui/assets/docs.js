// The API reference page (/api/docs): renders /api/openapi.json, the OpenAPI 3.1 document the
// server builds from its routes and request types (SPEC §17). Every string of the document is set
// as text, never parsed as HTML; element ids are derived from paths (letters, digits, dashes).

import { el, mount, state, t, topBar } from './common.js';
import { MESSAGES } from './i18n.js';

const page = { doc: null, failed: false, filter: '', groups: [] };
// Display order of the methods a path item may have.
const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'trace'];
const ACL = {
  public: 'docs.acl.public',
  signedIn: 'docs.acl.signedIn',
  admin: 'docs.acl.admin',
  root: 'docs.acl.root',
};
const PARAMS = { header: 'docs.headers', query: 'docs.query', path: 'docs.pathParams' };
const FIELD_HEADS = ['docs.name', 'docs.type', 'docs.required', 'docs.description'];
const MAX_DEPTH = 6;

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const text = (v) => (typeof v === 'string' ? v : '');
const refName = (ref) => ref.split('/').pop();

/** `text` with its `backticked` parts as <code>. */
function rich(s) {
  return text(s)
    .split('`')
    .map((part, i) => (i % 2 ? el('code', {}, part) : part))
    .filter((part) => part !== '');
}

/** Paragraphs separated by blank lines. */
function paragraphs(s, cls) {
  return text(s)
    .split(/\n\s*\n/)
    .filter((p) => p.trim())
    .map((p) => el('p', { class: cls }, rich(p.trim())));
}

/** Makes unique ids `<prefix>-<slug>` from any string. */
function ids(prefix) {
  const used = new Set();
  return (s) => {
    const base = `${prefix}-${s.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'root'}`;
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
    used.add(id);
    return id;
  };
}

/** The schema a local `$ref` (`#/components/schemas/User`) points to, or null. */
function resolve(ref) {
  if (!ref.startsWith('#/')) return null;
  let node = page.doc;
  for (const part of ref.slice(2).split('/')) {
    const key = part.replaceAll('~1', '/').replaceAll('~0', '~');
    if (!isObject(node) || !Object.hasOwn(node, key)) return null;
    node = node[key];
  }
  return isObject(node) ? node : null;
}

/** `schema` with its `$ref`s followed: `{ s, refs }`; `s` is null when a ref of `trail` (those
 *  being expanded above) comes back, so a recursive schema stops there. */
function deref(schema, trail = []) {
  let s = isObject(schema) ? schema : {};
  const refs = [];
  while (typeof s.$ref === 'string') {
    if (trail.includes(s.$ref) || refs.includes(s.$ref)) return { s: null, refs };
    refs.push(s.$ref);
    s = resolve(s.$ref) || {};
  }
  return { s, refs };
}

/** `string`, `string | null`, `array<Role>`, `string (date-time)`, `User`… */
function typeLabel(schema) {
  if (!isObject(schema)) return t('docs.any');
  if (typeof schema.$ref === 'string') return refName(schema.$ref);
  if (Object.hasOwn(schema, 'const')) return JSON.stringify(schema.const);
  const variants = schema.oneOf || schema.anyOf;
  if (Array.isArray(variants)) return variants.map(typeLabel).join(' | ');
  if (Array.isArray(schema.allOf)) return schema.allOf.map(typeLabel).join(' & ');
  let types = [schema.type].flat().filter((ty) => typeof ty === 'string');
  if (!types.length && isObject(schema.properties)) types = ['object'];
  if (!types.length && isObject(schema.items)) types = ['array'];
  if (!types.length) return t('docs.any');
  const format = typeof schema.format === 'string' ? ` (${schema.format})` : '';
  return types
    .map((ty) => (ty === 'array' ? `array<${typeLabel(schema.items)}>` : ty + (ty === 'null' ? '' : format)))
    .join(' | ');
}

/** The description of a field (its own, else its schema's) and its allowed values. */
function describe(schema) {
  const { s } = deref(schema);
  const values = Array.isArray(s?.enum) ? s.enum.map((v) => JSON.stringify(v)).join(', ') : '';
  return [
    ...rich(text(schema?.description) || text(s?.description)),
    values ? el('span', { class: 'docs-enum' }, t('docs.oneOf', { values })) : null,
  ];
}

/** The fields of `schema` as rows `{ name, schema, required, depth }`: nested ones named `a.b`,
 *  array items `a[].b`, the other keys of a map `a.*`. */
function collect(schema, prefix = '', depth = 0, trail = [], rows = []) {
  const { s, refs } = deref(schema, trail);
  if (!s || depth > MAX_DEPTH) return rows;
  const seen = [...trail, ...refs];
  for (const key of ['allOf', 'oneOf', 'anyOf']) {
    for (const variant of Array.isArray(s[key]) ? s[key] : []) collect(variant, prefix, depth, seen, rows);
  }
  if (isObject(s.items)) collect(s.items, `${prefix}[]`, depth, seen, rows);
  const required = Array.isArray(s.required) ? s.required : [];
  const fields = isObject(s.properties) ? Object.entries(s.properties) : [];
  const extra = s.additionalProperties;
  if (isObject(extra) && Object.keys(extra).length) fields.push(['*', extra]);
  for (const [key, field] of fields) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (rows.some((r) => r.name === name)) continue;
    rows.push({ name, schema: field, required: required.includes(key), depth });
    collect(field, name, depth + 1, seen, rows);
  }
  return rows;
}

/** A table: column heads (catalogue keys), then `tbody` elements. */
function table(cls, heads, bodies) {
  const head = el(
    'thead',
    {},
    el(
      'tr',
      {},
      heads.map((k) => el('th', { scope: 'col' }, t(k))),
    ),
  );
  return el('div', { class: 'table-wrap' }, el('table', { class: cls }, head, bodies));
}

/** Rows from `collect` as a table; each cell names its column, for the narrow layout. */
function fieldTable(rows) {
  if (!rows.length) return null;
  const body = rows.map((r) => {
    const type = el('code', { class: 'docs-type' }, typeLabel(r.schema));
    const cells = [el('code', {}, r.name), type, r.required ? t('docs.yes') : null, describe(r.schema)];
    const tds = cells.map((c, i) => el('td', { 'data-label': i ? t(FIELD_HEADS[i]) : null }, c));
    return el('tr', { class: `depth-${r.depth}` }, tds);
  });
  return table('docs-fields', FIELD_HEADS, el('tbody', {}, body));
}

/** Header, query and path parameters, a table for each. */
function parameters(list) {
  const groups = new Map();
  for (const p of Array.isArray(list) ? list.filter(isObject) : []) {
    const key = Object.hasOwn(PARAMS, p.in) ? PARAMS[p.in] : 'docs.parameters';
    const schema = { ...(isObject(p.schema) ? p.schema : {}), description: p.description ?? p.schema?.description };
    const row = { name: text(p.name), schema, required: p.required === true, depth: 0 };
    groups.set(key, [...(groups.get(key) || []), row]);
  }
  return [...groups].map(([key, rows]) =>
    el('section', { class: 'docs-block docs-params' }, el('h4', {}, t(key)), fieldTable(rows)),
  );
}

/** A request body or a response: its description, content type when not JSON, and fields. */
function body(cls, title, part) {
  const content = isObject(part.content) ? part.content : {};
  const type = Object.hasOwn(content, 'application/json') ? 'application/json' : Object.keys(content)[0];
  const schema = type && isObject(content[type]) ? content[type].schema : undefined;
  const fields = fieldTable(collect(schema));
  const meta = [];
  if (type && type !== 'application/json')
    meta.push(el('dt', {}, t('docs.contentType')), el('dd', {}, el('code', {}, type)));
  if (!fields && isObject(schema))
    meta.push(el('dt', {}, t('docs.type')), el('dd', {}, el('code', {}, typeLabel(schema))));
  const ref =
    isObject(schema) && typeof schema.$ref === 'string'
      ? el('code', { class: 'docs-schema' }, refName(schema.$ref))
      : null;
  return el(
    'section',
    { class: `docs-block ${cls}` },
    el('h4', {}, title, ref),
    paragraphs(part.description, 'docs-desc'),
    paragraphs(deref(schema).s?.description, 'docs-desc'),
    meta.length ? el('dl', { class: 'docs-meta' }, meta) : null,
    fields,
  );
}

/** The server's message for an error code in the reader's language, when the catalogue has one. */
function codeMessage(code) {
  if (!Object.hasOwn(MESSAGES['en-US'] || {}, code)) return null;
  return t(code).replace(/\{\{\w+\}\}/g, '…');
}

/** One row group per error status: the status (with its description when that says more than
 *  the list of codes), then each code with its message. */
function errors(responses) {
  const statuses = Object.keys(responses).filter((s) => !s.startsWith('2') && isObject(responses[s]));
  if (!statuses.length) return null;
  const groups = statuses
    .sort((a, b) => Number(a) - Number(b))
    .map((status) => {
      const r = responses[status];
      const listed = [r['x-smsauth-codes']].flat().filter((c) => typeof c === 'string');
      const codes = listed.length ? listed : [null];
      const more = text(r.description) && text(r.description) !== listed.join(', ');
      const said = more ? el('span', { class: 'docs-enum' }, rich(r.description)) : null;
      const head = el('th', { scope: 'rowgroup', rowspan: String(codes.length) }, status, said);
      const rows = codes.map((code, i) =>
        el(
          'tr',
          {},
          i ? null : head,
          el('td', {}, code ? el('code', {}, code) : '—'),
          el('td', {}, code && codeMessage(code)),
        ),
      );
      return el('tbody', {}, rows);
    });
  const heads = ['docs.status', 'docs.code', 'docs.description'];
  return el('section', { class: 'docs-block' }, el('h4', {}, t('docs.errors')), table('docs-errors', heads, groups));
}

function operation(o) {
  const { op } = o;
  const acl = op['x-smsauth-acl'];
  const responses = isObject(op.responses) ? op.responses : {};
  const ok = Object.keys(responses).find((s) => s.startsWith('2') && isObject(responses[s]));
  const methods = o.methods.map((m) => el('span', { class: `docs-method method-${m}` }, m.toUpperCase()));
  const access = el('span', { class: 'visually-hidden' }, `${t('docs.access')}: `);
  const badge = Object.hasOwn(ACL, acl) ? el('span', { class: `docs-acl acl-${acl}` }, access, t(ACL[acl])) : null;
  return el(
    'article',
    { class: 'card docs-op', id: o.id, 'data-path': o.path },
    el('div', { class: 'docs-op-head' }, el('h3', {}, methods, el('code', { class: 'docs-path' }, o.path)), badge),
    op.summary ? el('p', { class: 'docs-summary' }, rich(op.summary)) : null,
    paragraphs(op.description, 'docs-desc'),
    parameters(op.parameters),
    isObject(op.requestBody) ? body('docs-request', t('docs.request'), op.requestBody) : null,
    ok ? body('docs-response', `${t('docs.response')} ${ok}`, responses[ok]) : null,
    errors(responses),
  );
}

/** The entries by tag, in the document's order of tags, untagged ones last. One entry per path:
 *  its methods, and its POST operation (the one with the body) else the first. */
function byTag(doc) {
  const groups = new Map();
  for (const tag of Array.isArray(doc.tags) ? doc.tags : []) {
    if (isObject(tag) && typeof tag.name === 'string') groups.set(tag.name, { ...tag, key: tag.name, ops: [] });
  }
  const other = { name: t('docs.other'), key: 'other', ops: [] };
  const opId = ids('op');
  for (const [path, item] of Object.entries(doc.paths)) {
    const methods = isObject(item) ? METHODS.filter((m) => isObject(item[m])) : [];
    if (!methods.length) continue;
    const op = isObject(item.post) ? item.post : item[methods[0]];
    const tag = Array.isArray(op.tags) ? op.tags[0] : undefined;
    (groups.get(tag) || other).ops.push({ path, methods, op, id: opId(path) });
  }
  const tagId = ids('tag');
  return [...groups.values(), other].filter((g) => g.ops.length).map((g) => ({ ...g, id: tagId(g.key) }));
}

/** Shows the entries whose path or summary holds the filter text, and their navigation links. */
function applyFilter() {
  const q = page.filter.trim().toLowerCase();
  const show = (id, on) => {
    document.getElementById(id).hidden = !on;
    document.getElementById(`nav-${id}`).hidden = !on;
  };
  let shown = 0;
  let total = 0;
  for (const g of page.groups) {
    const matches = g.ops.filter((o) => {
      const match = !q || o.path.toLowerCase().includes(q) || text(o.op.summary).toLowerCase().includes(q);
      show(o.id, match);
      return match;
    });
    show(g.id, matches.length > 0);
    shown += matches.length;
    total += g.ops.length;
  }
  document.getElementById('docs-count').textContent = t('docs.count', { shown, total });
  document.getElementById('docs-none').hidden = shown > 0;
}

function intro(doc) {
  const info = isObject(doc.info) ? doc.info : {};
  const schemes = Object.values(isObject(doc.components?.securitySchemes) ? doc.components.securitySchemes : {});
  const security = schemes.filter(isObject).map((s) => {
    const format = text(s.bearerFormat) ? ` (${s.bearerFormat})` : '';
    return el('dd', {}, el('code', {}, `${text(s.scheme) || text(s.type)}${format}`), ' ', rich(s.description));
  });
  const version = el('span', { class: 'docs-version' }, t('docs.version', { version: text(info.version) }));
  const json = el('a', { href: '/api/openapi.json', id: 'docs-json' }, t('docs.json'));
  return el(
    'header',
    { class: 'card docs-intro' },
    el('p', { class: 'docs-kicker' }, t('docs.title')),
    el('h1', {}, text(info.title) || 'API', version),
    paragraphs(info.description, 'docs-desc'),
    el(
      'dl',
      { class: 'docs-meta' },
      ...(security.length ? [el('dt', {}, t('docs.security')), ...security] : []),
      el('dt', {}, 'OpenAPI'),
      el('dd', {}, json, ` ${text(doc.openapi)}`),
    ),
  );
}

function navigation(groups) {
  const lists = groups.map((g) => {
    const links = g.ops.map((o) =>
      el('li', { id: `nav-${o.id}` }, el('a', { href: `#${o.id}` }, el('code', {}, o.path))),
    );
    const title = el('h3', {}, el('a', { href: `#${g.id}` }, text(g.name)));
    return el('div', { class: 'docs-nav-group', id: `nav-${g.id}` }, title, el('ul', {}, links));
  });
  const title = el('h2', { id: 'docs-nav-title' }, t('docs.contents'));
  return el('nav', { class: 'card docs-nav', 'aria-labelledby': title.id }, title, lists);
}

function render() {
  if (!page.doc) {
    const message = page.failed
      ? [
          el('p', { class: 'error', role: 'alert', id: 'docs-error' }, t('docs.loadFailed')),
          el('button', { type: 'button', id: 'docs-retry', onclick: load }, t('docs.retry')),
        ]
      : el('p', { id: 'docs-loading' }, t('docs.loading'));
    mount(topBar([]), el('main', { class: 'docs' }, message));
    document.title = `${t('docs.title')} – smsauth`;
    return;
  }
  page.groups = byTag(page.doc);
  const sections = page.groups.map((g) =>
    el(
      'section',
      { class: 'docs-tag', id: g.id, 'aria-labelledby': `${g.id}-title` },
      el('h2', { id: `${g.id}-title` }, text(g.name)),
      paragraphs(g.description, 'docs-tag-desc'),
      g.ops.map(operation),
    ),
  );
  const filter = el('input', {
    type: 'search',
    id: 'docs-filter',
    autocomplete: 'off',
    spellcheck: 'false',
    value: page.filter,
    oninput: (e) => {
      page.filter = e.target.value;
      applyFilter();
    },
  });
  const search = el(
    'div',
    { class: 'docs-search' },
    el('label', { for: filter.id }, t('docs.filter')),
    filter,
    el('p', { class: 'hint', id: 'docs-count', role: 'status' }),
  );
  const none = el('p', { class: 'card', id: 'docs-none' }, t('docs.noMatch'));
  const content = el('div', { class: 'docs-content' }, sections, none);
  mount(
    topBar([]),
    el(
      'main',
      { class: 'docs' },
      intro(page.doc),
      search,
      el('div', { class: 'docs-layout' }, navigation(page.groups), content),
    ),
  );
  document.title = `${t('docs.title')} – ${text(page.doc.info?.title) || 'smsauth'}`;
  applyFilter();
}

async function load() {
  page.failed = false;
  render();
  try {
    const res = await fetch('/api/openapi.json', { headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const doc = await res.json();
    if (!isObject(doc) || !isObject(doc.paths)) throw new Error('not an OpenAPI document');
    page.doc = doc;
  } catch {
    page.failed = true;
  }
  render();
  // The entries exist only now: go to the one the address names.
  const target = location.hash.length > 1 && document.getElementById(location.hash.slice(1));
  if (target) target.scrollIntoView();
}

state.rerender = render;
load();
