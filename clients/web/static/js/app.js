// app.js - the single page: login, then the field app (#/cases, #/case/ID)
// or the committee dashboard (#/dashboard), and the outbox (#/outbox).
// Registers the service worker (sw.js) that keeps the app and the person's
// cases for offline use, and sends the outbox whenever the phone is online.
import { h, mount } from './dom.js';
import { bi } from './i18n.js';
import * as api from './api.js';
import * as outbox from './outbox.js';
import { renderCases, renderCase } from './field.js';
import { renderDashboard, stopStream } from './dashboard.js';
import { renderOutbox } from './outboxview.js';

const app = document.getElementById('app');
const ctx = { me: null, workflows: {}, catalog: [] };

function home() {
  return ctx.me.role === 'field' ? '#/cases' : '#/dashboard';
}

function loginView(message) {
  const msg = h('p', { class: 'form-msg', role: 'alert' }, message || '');
  const form = h('form', { class: 'login', id: 'login' },
    h('h1', {}, bi('เข้าสู่ระบบ', 'Log in')),
    h('label', { for: 'name' }, bi('ชื่อผู้ใช้', 'User name')),
    h('input', { id: 'name', name: 'name', autocomplete: 'username', autocapitalize: 'none', required: true }),
    h('label', { for: 'password' }, bi('รหัสผ่าน', 'Password')),
    h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    msg,
    h('button', { type: 'submit', class: 'primary' }, bi('เข้าสู่ระบบ', 'Log in')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let r;
    try {
      r = await api.login(form.name.value.trim(), form.password.value);
    } catch {
      msg.replaceChildren(bi('ไม่มีสัญญาณ', 'No connection'));
      return;
    }
    if (!r.ok) {
      msg.replaceChildren(r.status === 429 ? bi('ลองผิดหลายครั้ง รอสักครู่', 'Too many attempts; wait a while')
        : bi('ชื่อหรือรหัสผ่านไม่ถูกต้อง', 'Wrong name or password'));
      return;
    }
    await clearData();
    await start();
  });
  document.getElementById('nav').hidden = true;
  mount(app, form);
}

// The service worker's copy of the API answers belongs to the person who logged in.
async function clearData() {
  if (navigator.serviceWorker && navigator.serviceWorker.controller)
    navigator.serviceWorker.controller.postMessage({ type: 'clear-data' });
}

async function loadDefinitions() {
  const [wfs, cat] = await Promise.all([api.get('/api/workflows'), api.get('/api/indicators')]);
  ctx.workflows = Object.fromEntries(wfs.map((w) => [w.name, w]));
  ctx.catalog = cat;
}

function showNav() {
  const nav = document.getElementById('nav');
  for (const a of nav.querySelectorAll('[data-role]'))
    a.hidden = !a.dataset.role.split(' ').includes(ctx.me.role);
  nav.hidden = false;
}

async function route() {
  if (!ctx.me) return;
  const hash = location.hash || home();
  stopStream();
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('here', hash.startsWith(a.getAttribute('href')));
  try {
    let m;
    if ((m = hash.match(/^#\/case\/(C\d+)$/))) await renderCase(ctx, app, m[1]);
    else if (hash === '#/cases') await renderCases(ctx, app);
    else if (hash === '#/dashboard') await renderDashboard(ctx, app);
    else if (hash === '#/outbox') await renderOutbox(ctx, app);
    else location.hash = home();
  } catch (e) {
    if (e.problem && e.problem.status === 401) return;
    mount(app, h('p', { class: 'problem' }, e.offline ? bi('ไม่มีสัญญาณและยังไม่มีข้อมูลนี้ในเครื่อง', 'Offline, and this page is not on the phone yet') : e.message));
  }
}

async function start() {
  ctx.me = await api.resume();
  if (!ctx.me) return loginView();
  showNav();
  try {
    await loadDefinitions();
  } catch (e) {
    if (!ctx.me) return;
    mount(app, h('p', { class: 'problem' }, e.offline ? bi('ไม่มีสัญญาณ', 'No connection') : e.message));
    return;
  }
  if (!location.hash) location.hash = home(); // the hashchange routes
  else await route();
  outbox.flush(ctx.me.user);
  countOutbox();
}

async function countOutbox() {
  if (!ctx.me) return;
  const items = await outbox.items(ctx.me.user);
  const failed = items.filter((i) => i.status === 'failed').length;
  const b = document.getElementById('outbox-count');
  b.textContent = items.length ? String(items.length) : '';
  b.className = failed ? 'failed' : '';
}

function net() {
  document.getElementById('net').replaceChildren(navigator.onLine ? '' : bi('ออฟไลน์', 'offline'));
  document.body.classList.toggle('offline', !navigator.onLine);
}

window.addEventListener('hashchange', route);

// An item of the outbox was applied or refused: the page shows the case as it is now,
// unless the person is filling in a form.
let again = null;
function outboxMoved() {
  if (ctx.busy) return; // the page that sent it renders itself
  clearTimeout(again);
  again = setTimeout(() => {
    const hash = location.hash;
    if (!ctx.me || document.querySelector('form.action-form')) return;
    if (hash.startsWith('#/case/') || hash === '#/outbox' || hash === '#/cases') route();
  }, 100);
}
window.addEventListener('lb:applied', outboxMoved);
window.addEventListener('lb:refused', outboxMoved);
window.addEventListener('online', () => { net(); if (ctx.me) outbox.flush(ctx.me.user); });
window.addEventListener('offline', net);
window.addEventListener('lb:outbox', countOutbox);
window.addEventListener('lb:unauthorized', () => {
  if (ctx.me) loginView(bi('หมดเวลาเข้าใช้ กรุณาเข้าสู่ระบบอีกครั้ง (รายการรอส่งยังอยู่)', 'Your session ended; log in again (the outbox is kept)'));
});
document.getElementById('logout').addEventListener('click', async () => {
  stopStream();
  try { await api.logout(); } catch { api.forget(); }
  await clearData();
  ctx.me = null;
  location.hash = '';
  loginView();
});
// a retry every 20 s while something waits (the online event alone can be missed)
setInterval(() => { if (ctx.me && navigator.onLine) outbox.flush(ctx.me.user); }, 20000);

if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {});
net();
// for the browser tests: send the outbox now; wait until My cases has read its cases ahead
window.lb = { ctx, flush: () => outbox.flush(ctx.me && ctx.me.user), prefetched: () => ctx.prefetched };
start();
