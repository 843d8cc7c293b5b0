// outboxview.js - what waits in the outbox: pending items, and refused
// ones with the problem and what changed on the case since the person saw
// it, each with "send again" and "discard".
import { h, when, mount } from './dom.js';
import { label, bi } from './i18n.js';
import * as outbox from './outbox.js';

export function itemCard(me, it, rerender) {
  const failed = it.status === 'failed';
  const p = it.problem || {};
  const head = h('div', { class: 'ob-head' },
    h('b', {}, label(it.action)), ' ',
    h('a', { href: `#/case/${it.case_id}` }, it.case_id), ' ',
    h('span', { class: 'muted' }, when(it.body.at)));
  if (!failed)
    return h('li', { class: 'ob ob-pending', dataset: { key: it.key } }, head,
      h('div', { class: 'muted' }, bi('รอส่ง', 'Waiting to be sent')));
  const changes = (it.changes || []).map((e) =>
    h('li', {}, label(e.action || e.type), e.from || e.to ? [' ', e.from ? label(e.from) : '', ' → ', e.to ? label(e.to) : ''] : '',
      ` · ${e.actor || ''} · ${when(e.at)}`));
  return h('li', { class: 'ob ob-failed', dataset: { key: it.key } }, head,
    h('p', { class: 'problem' }, bi('ส่งไม่สำเร็จ', 'Not applied'), ': ', p.detail || p.title || p.code || ''),
    it.now_state ? h('p', { class: 'now' }, bi('สถานะตอนนี้', 'The case is now'), ': ',
      h('b', { class: 'now-state' }, label(it.now_state)),
      ' (', bi('ตอนบันทึก', 'when you acted'), ': ', label(it.body.expect_state), ')') : null,
    changes.length ? h('div', {}, bi('สิ่งที่เปลี่ยนไป', 'What changed meanwhile'), h('ul', { class: 'changes' }, changes)) : null,
    h('div', { class: 'buttons' },
      h('button', { type: 'button', class: 'retry', onclick: async () => { await outbox.retry(me.user, it); rerender(); } },
        bi('ส่งอีกครั้ง', 'Send again')),
      h('button', { type: 'button', class: 'discard', onclick: async () => { await outbox.discard(it); rerender(); } },
        bi('ทิ้ง', 'Discard'))));
}

export async function renderOutbox(ctx, el) {
  const list = await outbox.items(ctx.me.user);
  const rerender = () => renderOutbox(ctx, el);
  mount(el,
    h('h1', {}, bi('รอส่ง', 'Outbox')),
    h('p', { class: 'muted' }, bi('บันทึกที่ทำตอนไม่มีสัญญาณจะส่งเองเมื่อกลับมาออนไลน์', 'Actions taken offline are sent by themselves when the phone is back online.')),
    list.length ? h('ol', { class: 'outbox' }, list.map((it) => itemCard(ctx.me, it, rerender)))
      : h('p', { class: 'empty' }, bi('ไม่มีรายการรอส่ง', 'Nothing waiting')));
}
