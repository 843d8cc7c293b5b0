// api.js - the JSON API of docs/API.md. The CSRF token lives in
// sessionStorage only; the profile (name, role, areas; no secret) in
// localStorage, so a phone that reopens the app offline still knows whose
// cases and outbox to show. Errors come back as RFC 9457 problems.

const PROFILE = 'lb.profile';
const CSRF = 'lb.csrf';

export class Offline extends Error {
  constructor(cause) {
    super('offline');
    this.offline = true;
    this.cause = cause;
  }
}

export function profile() {
  try {
    return JSON.parse(localStorage.getItem(PROFILE) || 'null');
  } catch {
    return null;
  }
}

function keep(s) {
  localStorage.setItem(PROFILE, JSON.stringify({ user: s.user, role: s.role, areas: s.areas }));
  sessionStorage.setItem(CSRF, s.csrf);
}

export function forget() {
  localStorage.removeItem(PROFILE);
  sessionStorage.removeItem(CSRF);
}

// -> {ok, status, data, problem}; throws Offline when the network failed.
export async function call(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && !(method === 'POST' && path === '/api/session')) {
    let csrf = sessionStorage.getItem(CSRF);
    if (!csrf && method !== 'DELETE') csrf = await refreshCsrf();
    if (csrf) headers['X-CSRF-Token'] = csrf;
  }
  if (opts.idem) headers['Idempotency-Key'] = opts.idem;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new Offline(e);
  }
  const type = res.headers.get('Content-Type') || '';
  const json = type.includes('json') ? await res.json().catch(() => null) : null;
  if (res.status === 401 && path !== '/api/session') {
    sessionStorage.removeItem(CSRF);
    window.dispatchEvent(new CustomEvent('lb:unauthorized'));
  }
  if (res.ok) return { ok: true, status: res.status, data: json };
  const problem = json || { status: res.status, title: res.statusText, code: 'http_' + res.status };
  return { ok: false, status: res.status, problem, offline: !!(json && json.code === 'offline') };
}

// GET that throws on a problem (views show the message).
export async function get(path) {
  const r = await call('GET', path);
  if (!r.ok) {
    const e = new Error(r.problem.detail || r.problem.title || 'error');
    e.problem = r.problem;
    throw e;
  }
  return r.data;
}

async function refreshCsrf() {
  const r = await call('GET', '/api/session');
  if (!r.ok) return null;
  keep(r.data);
  return r.data.csrf;
}

// The session: from this tab, else asked of the gateway (the cookie may still be good).
export async function resume() {
  const p = profile();
  if (!p) return null;
  if (sessionStorage.getItem(CSRF)) return p;
  try {
    const r = await call('GET', '/api/session');
    if (r.ok) {
      keep(r.data);
      return profile();
    }
    if (r.status === 401) {
      forget();
      return null;
    }
  } catch (e) {
    if (!e.offline) throw e;
  }
  return p; // offline: work from what this phone holds; sending waits for a login
}

export async function login(name, password) {
  const r = await call('POST', '/api/session', { name, password });
  if (r.ok) keep(r.data);
  return r;
}

export async function logout() {
  try {
    await call('DELETE', '/api/session');
  } finally {
    forget();
  }
}
