// forms.js - an action's form, generated from the workflow definition
// (GET /api/workflows: the action's `record` and `require` keys) and the
// indicator catalog (GET /api/indicators); no form is written by hand.
// RECORDS says which fields each record kind has (PROTOCOL.md section 4),
// FIELDS how each field is asked for and read back.
import { h } from './dom.js';
import { label, text, bi } from './i18n.js';

export const DIMENSIONS = ['health', 'living', 'education', 'income', 'accessibility'];
const LEVELS = ['survive', 'sufficient', 'sustainable'];
const KINDS = ['cash', 'goods', 'occupation', 'training', 'loan', 'housing', 'health_service',
  'education_support', 'welfare_registration', 'referral', 'other'];
const CLOSE_REASONS = ['moved', 'deceased', 'refused', 'duplicate', 'not_poor'];

// record kind -> [field, required]
const RECORDS = {
  visit: [['findings', false], ['team', false], ['note', false]],
  assistance: [['agency', true], ['dimension', true], ['kind', true], ['amount_thb', false],
    ['meets', false], ['note', false]],
  follow_up: [['level', true], ['met', false], ['note', false]],
  note: [['note', true]],
};

const FIELDS = {
  findings: { type: 'findings' },
  team: { type: 'text', max: 63 },
  note: { type: 'textarea', max: 4096 },
  agency: { type: 'text', max: 200 },
  dimension: { type: 'select', options: DIMENSIONS },
  kind: { type: 'select', options: KINDS },
  amount_thb: { type: 'number' },
  meets: { type: 'indicators' },
  met: { type: 'indicators' },
  level: { type: 'select', options: LEVELS },
  reason: { type: 'text', suggest: CLOSE_REASONS },
};

// The fields of an action: its record's, then its `require` keys not already asked.
export function fieldsOf(def) {
  const out = (RECORDS[def.record] || []).map(([name, req]) => ({ name, req }));
  for (const k of def.require || []) {
    const f = out.find((x) => x.name === k);
    if (f) f.req = true;
    else out.push({ name: k, req: true });
  }
  return out;
}

let seq = 0;

function indicatorBoxes(name, list, checked) {
  return h('div', { class: 'checks' }, list.map((it) =>
    h('label', { class: 'check' },
      h('input', { type: 'checkbox', name, value: it.code, checked: checked.has(it.code) }),
      h('span', {}, it.th, h('small', { lang: 'en' }, ` ${it.en} (${it.code})`)))));
}

function control(f, ctx) {
  const spec = FIELDS[f.name] || { type: 'text', max: 200 };
  const id = `f${++seq}`;
  const req = f.req ? h('abbr', { title: 'required', class: 'req' }, '*') : null;
  const head = h('label', { for: id }, label(f.name), req);
  switch (spec.type) {
    case 'findings':
      return h('fieldset', { class: 'field', dataset: { field: f.name, type: 'findings' } },
        h('legend', {}, label('findings')),
        DIMENSIONS.map((d) => {
          const list = ctx.catalog.filter((i) => i.dimension === d);
          if (!list.length) return null;
          return h('details', { class: 'dim', open: ctx.openDims.has(d) },
            h('summary', {}, label(d)), indicatorBoxes(`${f.name}.${d}`, list, ctx.openNeeds));
        }));
    case 'indicators': {
      const open = ctx.catalog.filter((i) => ctx.openNeeds.has(i.code));
      const list = open.length ? open : ctx.catalog;
      return h('fieldset', { class: 'field', dataset: { field: f.name, type: 'indicators' } },
        h('legend', {}, label(f.name)), indicatorBoxes(f.name, list, new Set()));
    }
    case 'select':
      return h('div', { class: 'field', dataset: { field: f.name, type: 'select' } }, head,
        h('select', { id, name: f.name, required: f.req },
          h('option', { value: '' }, '—'),
          spec.options.map((o) => h('option', { value: o }, text(o)))));
    case 'textarea':
      return h('div', { class: 'field', dataset: { field: f.name, type: 'text' } }, head,
        h('textarea', { id, name: f.name, rows: 3, maxlength: spec.max, required: f.req }));
    case 'number':
      return h('div', { class: 'field', dataset: { field: f.name, type: 'number' } }, head,
        h('input', { id, name: f.name, type: 'number', min: 0, step: 1, inputmode: 'numeric', required: f.req }));
    default: {
      const list = spec.suggest ? `${id}-list` : undefined;
      return h('div', { class: 'field', dataset: { field: f.name, type: 'text' } }, head,
        h('input', { id, name: f.name, type: 'text', maxlength: spec.max || 200, required: f.req, list,
          value: f.name === 'team' ? ctx.team || '' : '' }),
        list ? h('datalist', { id: list }, spec.suggest.map((o) => h('option', { value: o }, text(o)))) : null);
    }
  }
}

// Reads the form back into the action's `data`; empty optional fields are left out.
function read(form, fields) {
  const data = {};
  for (const f of fields) {
    const box = form.querySelector(`[data-field="${f.name}"]`);
    const type = box.dataset.type;
    if (type === 'findings') {
      const out = {};
      for (const d of DIMENSIONS) {
        const codes = [...box.querySelectorAll(`input[name="${f.name}.${d}"]:checked`)].map((i) => i.value);
        if (codes.length) out[d] = codes;
      }
      if (Object.keys(out).length) data[f.name] = out;
    } else if (type === 'indicators') {
      const codes = [...box.querySelectorAll('input:checked')].map((i) => i.value);
      if (codes.length) data[f.name] = codes;
    } else {
      const el = box.querySelector('[name]');
      const v = el.value.trim();
      if (v === '') continue;
      data[f.name] = type === 'number' ? Number(v) : v;
    }
  }
  return data;
}

// The form for one action. ctx: {catalog, c (the case)}; onSubmit(data) is awaited.
export function actionForm(name, def, ctx, onSubmit, onCancel) {
  const openNeeds = new Set((ctx.c.needs || []).filter((n) => n.status === 'open' && n.indicator).map((n) => n.indicator));
  const openDims = new Set((ctx.c.needs || []).filter((n) => n.status === 'open').map((n) => n.dimension));
  const fields = fieldsOf(def);
  const c2 = { catalog: ctx.catalog, openNeeds, openDims, team: ctx.c.team };
  const msg = h('p', { class: 'form-msg', role: 'alert' });
  const form = h('form', { class: 'action-form', dataset: { action: name } },
    h('h3', {}, label(name)),
    fields.map((f) => control(f, c2)),
    msg,
    h('div', { class: 'buttons' },
      h('button', { type: 'submit', class: 'primary' }, bi('บันทึก', 'Save')),
      h('button', { type: 'button', onclick: onCancel }, bi('ยกเลิก', 'Cancel'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const data = read(form, fields);
    const missing = fields.find((f) => f.req && data[f.name] === undefined);
    if (missing) {
      msg.replaceChildren(bi('กรุณากรอก', 'Please fill in'), ' ', label(missing.name));
      return;
    }
    form.querySelector('button[type=submit]').disabled = true;
    await onSubmit(data);
  });
  return form;
}
