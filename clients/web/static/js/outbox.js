// outbox.js - actions wait here (IndexedDB) until the gateway has applied
// them: each with its Idempotency-Key (a retry after a lost answer is
// applied once) and `at`, the time on the phone when the person acted.
// They are sent in the order they were taken; a refusal (the state moved on,
// the case was closed) stays visible with what changed, until the person
// sends it again or discards it. Nothing is dropped silently.
import * as api from './api.js';

const DB = 'logbook';
const STORE = 'outbox';
let dbp = null;

function db() {
  if (!dbp)
    dbp = new Promise((resolve, reject) => {
      const r = indexedDB.open(DB, 1);
      r.onupgradeneeded = () => r.result.createObjectStore(STORE, { keyPath: 'n', autoIncrement: true });
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  return dbp;
}

async function run(mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(STORE, mode);
    const req = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(req && req.result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

// Every item of this person, oldest first.
export async function items(user) {
  const all = (await run('readonly', (s) => s.getAll())) || [];
  return all.filter((i) => i.user === user).sort((a, b) => a.n - b.n);
}

export const put = (item) => run('readwrite', (s) => s.put(item));
export const remove = (n) => run('readwrite', (s) => s.delete(n));

function changed() {
  window.dispatchEvent(new CustomEvent('lb:outbox'));
}

// Queues one action and tries to send it. -> the stored item.
export async function add(user, c, action, def, data) {
  const item = {
    user,
    key: crypto.randomUUID(),
    case_id: c.case_id,
    action,
    to: def.to || null,
    base_seq: c.last_seq || 0,
    body: { data, at: Date.now(), expect_state: c.state },
    status: 'pending',
    created: Date.now(),
  };
  item.n = await put(item);
  changed();
  await flush(user);
  return item;
}

let running = null;

// Sends the pending items in order; one flush at a time.
export function flush(user) {
  if (!running) running = send(user).finally(() => (running = null));
  return running;
}

const RETRY_LATER = new Set([401, 408, 425, 429, 500, 502, 503, 504]);

async function send(user) {
  if (!user || !navigator.onLine) return;
  const failedCases = new Set();
  for (const it of await items(user)) {
    if (it.status === 'failed') failedCases.add(it.case_id);
    if (it.status !== 'pending' || failedCases.has(it.case_id)) continue; // keep each case's order
    let r;
    try {
      const path = `/api/cases/${encodeURIComponent(it.case_id)}/actions/${encodeURIComponent(it.action)}`;
      r = await api.call('POST', path, it.body, { idem: it.key });
    } catch (e) {
      if (e.offline) break;
      throw e;
    }
    if (r.ok) {
      await remove(it.n);
      window.dispatchEvent(new CustomEvent('lb:applied', { detail: { item: it, result: r.data } }));
    } else if (RETRY_LATER.has(r.status) || r.offline) {
      break;
    } else {
      await refuse(it, r.problem);
      failedCases.add(it.case_id);
    }
    changed();
  }
}

// Keeps a refused item with the problem and what happened to the case since the person saw it.
async function refuse(it, problem) {
  it.status = 'failed';
  it.problem = problem;
  it.changes = [];
  try {
    const now = await api.get(`/api/cases/${it.case_id}`);
    it.now_state = now.state;
    const h = await api.get(`/api/cases/${it.case_id}/history?after_seq=${it.base_seq}`);
    it.changes = (h.events || []).map((e) => ({
      seq: e.seq, at: e.at, kind: e.kind, type: e.type, action: e.action,
      from: e.from, to: e.to, actor: e.actor, level: e.level,
    }));
  } catch {
    /* the case may be gone from the person's scope: the problem alone says it */
  }
  await put(it);
  window.dispatchEvent(new CustomEvent('lb:refused', { detail: it }));
}

// The person chose to send a refused item again, on the case as it is now.
export async function retry(user, it) {
  it.status = 'pending';
  it.key = crypto.randomUUID(); // the refused request was not applied: a new request
  if (it.now_state) it.body.expect_state = it.now_state;
  delete it.problem;
  await put(it);
  changed();
  await flush(user);
}

export async function discard(it) {
  await remove(it.n);
  changed();
}

// The state a case will be in once this person's pending items for it are applied.
export function projected(c, queued) {
  let state = c.state;
  for (const it of queued) if (it.case_id === c.case_id && it.status === 'pending' && it.to) state = it.to;
  return state;
}
