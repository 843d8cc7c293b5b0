// dom.js - builds DOM nodes from data without innerHTML, so text from the
// daemon (names, notes) can never become markup.

// h('p', {class: 'x', onclick: fn}, 'text', node, [more]) -> element
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) add(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Replaces the contents of el with children.
export function mount(el, ...children) {
  el.replaceChildren();
  add(el, children);
  return el;
}

// A date and time as the phone shows it (Thai locale, Buddhist era when the phone uses it).
export function when(ms) {
  if (typeof ms !== 'number') return '';
  return new Date(ms).toLocaleString('th-TH', { dateStyle: 'medium', timeStyle: 'short' });
}

export function days(ms) {
  return Math.floor(ms / 86400000);
}
