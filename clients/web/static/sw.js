// sw.js - the service worker: keeps the app shell, and the answers of the
// API reads the person made (their cases, the workflows, the catalog), so
// the app opens and shows their cases with no signal. Reads go to the
// network first and fall back to the copy; writes are never touched here
// (the app's outbox queues them). The session answer (it holds the CSRF
// token) and the events stream are never stored.
const SHELL_CACHE = 'lb-shell-v1';
const DATA_CACHE = 'lb-data-v1';
const SHELL = [
  '/', '/index.html', '/app.css', '/manifest.webmanifest', '/icon.svg',
  '/js/app.js', '/js/api.js', '/js/dom.js', '/js/i18n.js', '/js/outbox.js', '/js/forms.js',
  '/js/field.js', '/js/dashboard.js', '/js/timeline.js', '/js/outboxview.js',
];
const NEVER = ['/api/session', '/api/events'];

self.addEventListener('install', (ev) => {
  ev.waitUntil(caches.open(SHELL_CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (ev) => {
  ev.waitUntil((async () => {
    for (const k of await caches.keys()) if (k !== SHELL_CACHE && k !== DATA_CACHE) await caches.delete(k);
    await self.clients.claim();
  })());
});

self.addEventListener('message', (ev) => {
  if (ev.data && ev.data.type === 'clear-data') ev.waitUntil(caches.delete(DATA_CACHE));
});

function offline() {
  const body = JSON.stringify({ type: 'about:blank', title: 'Offline', status: 503, code: 'offline',
    detail: 'no connection, and no copy of this on the phone' });
  return new Response(body, { status: 503, headers: { 'Content-Type': 'application/problem+json' } });
}

async function apiRead(req) {
  const cache = await caches.open(DATA_CACHE);
  try {
    const res = await fetch(req);
    if (res.ok) await cache.put(req, res.clone());
    return res;
  } catch {
    return (await cache.match(req)) || offline();
  }
}

async function shell(req) {
  const cache = await caches.open(SHELL_CACHE);
  const hit = await cache.match(req, { ignoreSearch: true });
  const fresh = fetch(req).then((res) => {
    if (res.ok) cache.put(req, res.clone());
    return res;
  }).catch(() => null);
  if (hit) return hit; // the copy now, the network's answer for next time
  return (await fresh) || (await cache.match('/index.html')) || Response.error();
}

self.addEventListener('fetch', (ev) => {
  const req = ev.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  if (NEVER.includes(url.pathname)) return;
  if (url.pathname.startsWith('/api/')) ev.respondWith(apiRead(req));
  else if (url.pathname === '/formList' || url.pathname === '/metrics' || url.pathname.startsWith('/forms/')) return;
  else ev.respondWith(shell(req));
});
