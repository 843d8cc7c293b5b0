// timeline.js - a case's history (GET /api/cases/{id}/history) as a list,
// newest first, and the outbox items still waiting for it.
import { h, when } from './dom.js';
import { label, bi } from './i18n.js';

function summary(data) {
  if (!data || typeof data !== 'object') return null;
  const parts = [];
  for (const [k, v] of Object.entries(data)) {
    if (k === 'at') continue;
    if (k === 'findings' && v && typeof v === 'object') {
      for (const [d, codes] of Object.entries(v)) parts.push(h('span', { class: 'chip' }, label(d), ': ', codes.join(', ')));
    } else if (Array.isArray(v)) {
      parts.push(h('span', { class: 'chip' }, label(k), ': ', v.join(', ')));
    } else if (v !== null && typeof v !== 'object') {
      parts.push(h('span', { class: 'chip' }, label(k), ': ', String(v)));
    }
  }
  return parts.length ? h('div', { class: 'data' }, parts) : null;
}

export function eventItem(e) {
  const what = e.action ? label(e.action) : label(e.type || e.kind);
  const move = e.from || e.to ? h('span', { class: 'move' }, e.from ? label(e.from) : '', ' → ', e.to ? label(e.to) : '') : null;
  const level = e.level ? h('span', { class: 'badge lvl-' + e.level }, label(e.level)) : null;
  return h('li', { class: 'ev ev-' + e.kind, dataset: { seq: e.seq } },
    h('div', { class: 'ev-head' }, h('b', {}, what), ' ', level, ' ', move),
    h('div', { class: 'ev-meta' }, when(e.at), e.actor ? ` · ${e.actor}` : ''),
    summary(e.data));
}

export function timeline(events) {
  const list = [...(events || [])].sort((a, b) => b.seq - a.seq);
  if (!list.length) return h('p', { class: 'muted' }, bi('ยังไม่มีเหตุการณ์', 'Nothing yet'));
  return h('ol', { class: 'timeline' }, list.map(eventItem));
}
