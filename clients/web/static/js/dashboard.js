// dashboard.js - the committee dashboard: the report for the person's
// areas (GET /api/report), the overdue and unacknowledged cases worst first
// with an acknowledge button, both refreshed live from the events stream
// (GET /api/events, Server-Sent Events; the browser resumes with
// Last-Event-ID). Area names show when the API gives them, codes otherwise.
import { h, mount, when, days } from './dom.js';
import { label, bi } from './i18n.js';
import * as api from './api.js';
import { worstFirst, areaOf, ack } from './field.js';

const FIGURES = [
  ['cases', 'เคสทั้งหมด', 'Cases'], ['open', 'ยังเปิด', 'Open'], ['visited', 'เยี่ยมแล้ว', 'Visited'],
  ['assisted', 'ได้รับความช่วยเหลือ', 'Assisted'], ['resolved', 'แก้ไขสำเร็จ', 'Resolved'],
  ['closed', 'ปิด', 'Closed'], ['overdue', 'เกินกำหนด', 'Overdue'], ['unacked', 'ยังไม่รับทราบ', 'Unacknowledged'],
];
const FINER = { 0: 'province', 2: 'district', 4: 'subdistrict', 6: 'village', 8: 'village' };

// The grouping one level below the person's widest area.
function groupBy(areas) {
  if (!areas || areas.includes('*')) return 'province';
  return FINER[Math.min(...areas.map((a) => a.length))] || 'village';
}

let stream = null;

export function stopStream() {
  if (stream) stream.close();
  stream = null;
}

function reportView(rep, by) {
  const t = rep.totals || {};
  return h('section', { class: 'report' },
    h('div', { class: 'figures' }, FIGURES.map(([k, th, en]) =>
      h('div', { class: 'figure fig-' + k, dataset: { figure: k } }, h('b', {}, String(t[k] ?? 0)), bi(th, en)))),
    h('table', { class: 'rows' },
      h('thead', {}, h('tr', {}, h('th', {}, label(by)), FIGURES.map(([, th, en]) => h('th', {}, bi(th, en))))),
      h('tbody', {}, (rep.rows || []).map((r) =>
        h('tr', {}, h('td', {}, r.area_name ? `${r.area_name} (${r.key})` : r.key),
          FIGURES.map(([k]) => h('td', { class: 'num' }, String(r[k] ?? 0))))))));
}

function listView(ctx, cases, refresh) {
  if (!cases.length) return h('p', { class: 'empty' }, bi('ไม่มีเคสค้างรับทราบ', 'No unacknowledged overdue cases'));
  return h('ol', { class: 'alerts' }, cases.map((c) =>
    h('li', { class: 'alert lvl-' + (c.escalation || 'none'), dataset: { case: c.case_id } },
      h('div', {},
        h('a', { href: `#/case/${c.case_id}` }, h('b', {}, c.case_id)), ' ',
        c.escalation ? h('span', { class: 'badge lvl-' + c.escalation }, label(c.escalation)) : null, ' ',
        label(c.state), h('span', { class: 'muted' }, ` · ${days(Date.now() - c.entered_at)} d · ${areaOf(c)}`)),
      ctx.me.role === 'reporter' ? null : h('button', { type: 'button', class: 'ack', onclick: async (ev) => {
        ev.target.disabled = true;
        await ack(c.case_id);
        refresh();
      } }, bi('รับทราบ', 'Acknowledge')))));
}

export async function renderDashboard(ctx, el) {
  const by = groupBy(ctx.me.areas);
  const live = h('span', { class: 'live', role: 'status' }, bi('กำลังเชื่อมต่อ', 'connecting'));
  const stamp = h('span', { class: 'muted stamp' });
  const repBox = h('div', {}, h('p', { class: 'loading' }, bi('กำลังโหลด…', 'Loading…')));
  const listBox = h('div', { id: 'alerts' });
  mount(el,
    h('h1', {}, bi('ภาพรวมพื้นที่', 'Area dashboard'), ' ', h('small', {}, (ctx.me.areas || []).join(', '))),
    h('p', { class: 'toolbar' }, live, ' ', stamp, ' ',
      h('button', { type: 'button', class: 'noprint', onclick: () => window.print() }, bi('พิมพ์', 'Print'))),
    repBox,
    h('h2', {}, bi('เกินกำหนดและยังไม่รับทราบ', 'Overdue and not acknowledged')),
    listBox);

  let busy = false, again = false;
  const refresh = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const [rep, list] = await Promise.all([
        api.get(`/api/report?by=${by}`),
        api.get('/api/cases?overdue=true&unacked=true&limit=500'),
      ]);
      mount(repBox, reportView(rep, by));
      mount(listBox, listView(ctx, (list.cases || []).sort(worstFirst), refresh));
      stamp.textContent = when(Date.now());
    } catch (e) {
      mount(repBox, h('p', { class: 'problem' }, e.message));
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  };
  await refresh();
  if (!el.contains(live)) return; // another view took the page meanwhile

  stopStream();
  if (!navigator.onLine) return;
  let timer = null;
  stream = new EventSource('/api/events');
  stream.onopen = () => live.replaceChildren(bi('สด', 'live'));
  stream.onerror = () => live.replaceChildren(bi('กำลังเชื่อมต่อใหม่', 'reconnecting'));
  const onEvent = () => { clearTimeout(timer); timer = setTimeout(refresh, 250); };
  for (const k of ['case', 'visit', 'assist', 'followup', 'note', 'escalation']) stream.addEventListener(k, onEvent);
}
