// web.test.js - the field app and the committee dashboard in a real headless
// Chromium (Debian's, through puppeteer-core) against a real logbookd and
// logbook-web (harness.js), on a phone-sized viewport. Run by `make
// browser-test` (part of `make test` when chromium and node are present).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Env, browser, phone, login, until } from './harness.js';

const FIELD = ['somchai', 'field', '6501', 'somchai-pw-1'];
const COMMITTEE = ['anong', 'committee', '65', 'anong-pw-1'];

// Offline for the page and for its service worker (whose fetches are its own).
async function offline(b, page, on) {
  await page.setOfflineMode(on);
  for (const t of b.targets().filter((x) => x.type() === 'service_worker')) {
    const s = await t.createCDPSession();
    await s.send('Network.enable');
    await s.send('Network.emulateNetworkConditions', { offline: on, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await s.detach();
  }
}

async function controlled(page) {
  await until(() => page.evaluate(() => !!(navigator.serviceWorker && navigator.serviceWorker.controller)), 10000, 'the service worker');
}

// Opens an action's generated form, fills it (fill(page) for the fields), saves.
async function act(page, action, fill) {
  await page.waitForSelector(`.action-buttons button[data-action="${action}"]`);
  await page.click(`.action-buttons button[data-action="${action}"]`);
  await page.waitForSelector(`form.action-form[data-action="${action}"]`);
  if (fill) await fill(page);
  await page.click(`form.action-form[data-action="${action}"] button[type=submit]`);
  await page.waitForSelector(`form.action-form[data-action="${action}"]`, { hidden: true });
}

const actions = (events) => events.filter((e) => e.action).map((e) => e.action);

function noErrors(page, allowed = []) {
  const left = page.errors.filter((e) => !allowed.some((a) => a(e)));
  assert.deepEqual(left, [], 'console errors: ' + JSON.stringify(left));
}

describe('logbook-web in Chromium', { timeout: 150000 }, () => {
  let env, b;
  before(async () => {
    env = await new Env().start();
    env.user(...FIELD);
    env.user(...COMMITTEE);
    b = await browser();
  });
  after(async () => {
    if (b) await b.close();
    if (env) await env.stop();
  });

  test('a visit online, then plan, assistance and a note offline: each applied once, in order', async () => {
    env.cli(['open', '65010000001', '65010101', '--head', 'สมชาย ใจดี', '--deprived', 'bmn22,bmn8']);
    env.cli(['schedule', 'C000000001', 'team-mueang-1']);
    const page = await phone(b);
    await login(page, env.base, FIELD[0], FIELD[3]);
    await page.waitForSelector('li.case[data-case="C000000001"]');
    await controlled(page);
    await page.evaluate(() => window.lb.prefetched());
    await page.click('li.case[data-case="C000000001"] a');
    await page.waitForSelector('h1 .state[data-state="visit_scheduled"]');

    // the form is generated: findings per dimension from the catalog, the case's needs checked
    await act(page, 'record_visit', async (p) => {
      assert.equal(await p.$eval('input[name="findings.income"][value="bmn22"]', (i) => i.checked), true);
      assert.ok(await p.$('input[name="findings.health"][value="bmn1"]'), 'health indicators offered');
    });
    await page.waitForSelector('h1 .state[data-state="visited"]:not(.wait)');
    await until(() => actions(env.history('C000000001')).includes('record_visit'), 5000, 'the visit');

    await offline(b, page, true);
    await until(() => page.evaluate(() => !navigator.onLine), 5000, 'navigator.onLine false');
    const before = Date.now();
    await act(page, 'plan_assistance');
    await act(page, 'record_assistance', async (p) => {
      await p.type('[data-field="agency"] input', 'อบต. ท่าทอง');
      await p.select('[data-field="dimension"] select', 'income');
      await p.select('[data-field="kind"] select', 'occupation');
      await p.click('[data-field="meets"] input[value="bmn22"]');
    });
    await act(page, 'add_note', (p) => p.type('[data-field="note"] textarea', 'ครอบครัวเริ่มเลี้ยงไก่ · started raising chickens'));
    await until(async () => (await page.$$('.ob-pending')).length === 3, 5000, 'three actions in the outbox');
    assert.deepEqual(actions(env.history('C000000001')), ['schedule_visit', 'record_visit'], 'nothing sent while offline');

    // reopened with no signal: the service worker serves the app and the case
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('h1 .state[data-state="assisting"]');
    await until(async () => (await page.$$('.ob-pending')).length === 3, 5000, 'the outbox after the reload');

    await offline(b, page, false);
    await until(() => env.history('C000000001').length === 6, 15000, 'the queued actions to land');
    await page.waitForSelector('#outbox-count:empty');
    await page.evaluate(() => Promise.all([window.lb.flush(), window.lb.flush()]));
    const evs = env.history('C000000001');
    assert.deepEqual(actions(evs), ['schedule_visit', 'record_visit', 'plan_assistance', 'record_assistance', 'add_note']);
    for (const e of evs.slice(3)) assert.equal(e.actor, 'somchai via web');
    const c = env.show('C000000001');
    for (const r of [c.assistance[0], c.notes[0]])
      assert.ok(r.at >= before - 1000 && r.at <= Date.now(), 'a record keeps the time on the phone');
    assert.equal(c.state, 'assisting');
    assert.equal(c.assistance.length, 1);
    assert.equal(c.assistance[0].kind, 'occupation');
    assert.equal(c.notes.length, 1);
    assert.equal(c.needs.find((n) => n.indicator === 'bmn22').status, 'met');
    await page.waitForSelector('.timeline li[data-seq] ');
    noErrors(page);
    await page.close();
  });

  test('a conflicting offline action is shown to the person, with what changed', async () => {
    env.cli(['open', '65010000002', '65010102', '--deprived', 'bmn1']);
    const id = 'C000000002';
    const page = await phone(b);
    await login(page, env.base, FIELD[0], FIELD[3]);
    await controlled(page);
    await page.waitForSelector('li.case');
    await page.evaluate(() => window.lb.prefetched());
    await page.goto(`${env.base}/#/case/${id}`, { waitUntil: 'load' });
    await page.waitForSelector('h1 .state[data-state="identified"]');
    await offline(b, page, true);
    await act(page, 'schedule_visit', (p) => p.type('[data-field="team"] input', 'team-2'));
    env.cli(['close', id, 'duplicate']); // meanwhile the committee closed the case
    await offline(b, page, false);
    await page.waitForSelector('.ob-failed .now-state', { timeout: 15000 });
    const text = await page.$eval('.ob-failed', (e) => e.textContent);
    assert.match(text, /Closed/, 'the state the case is in now');
    assert.match(text, /Close/, 'the action that changed it');
    assert.match(text, /conflict|not identified|state/i, 'the daemon\'s reason');
    assert.equal(await page.$eval('#outbox-count', (e) => e.className), 'failed');
    assert.ok(!actions(env.history(id)).includes('schedule_visit'), 'the refused action was not applied');
    // it stays until the person decides
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('.ob-failed button.discard');
    await page.click('.ob-failed button.discard');
    await page.waitForSelector('.ob-failed', { hidden: true });
    noErrors(page, [(e) => /status of 409/.test(e.text) && e.url.endsWith(`/api/cases/${id}/actions/schedule_visit`)]);
    await page.close();
  });

  test('a committee member acknowledges an escalation and sees the list change live', async () => {
    env.cli(['open', '65010000003', '65010103', '--deprived', 'bmn8']);
    const id = 'C000000003';
    const page = await phone(b);
    await login(page, env.base, COMMITTEE[0], COMMITTEE[3]);
    await page.waitForSelector('.figures .fig-cases b');
    await page.waitForSelector('.live');
    await until(() => page.$eval('.live', (e) => /live/.test(e.textContent)), 5000, 'the events stream');
    assert.equal(await page.$(`li.alert[data-case="${id}"]`), null);
    const unackedBefore = Number(await page.$eval('.fig-unacked b', (e) => e.textContent));

    env.cli(['admin', 'clock', '8d']); // identified for over 7 days: the team level fires
    await page.waitForSelector(`li.alert[data-case="${id}"]`, { timeout: 10000 }); // no reload: the stream
    await until(async () => Number(await page.$eval('.fig-unacked b', (e) => e.textContent)) > unackedBefore, 5000, 'the report to follow');

    await page.click(`li.alert[data-case="${id}"] button.ack`);
    await page.waitForSelector(`li.alert[data-case="${id}"]`, { hidden: true, timeout: 10000 });
    const esc = env.show(id).escalations;
    assert.ok(esc.length >= 1 && esc[esc.length - 1].acked_at, 'acknowledged in the daemon');
    assert.equal(esc[esc.length - 1].acked_by, 'anong via web');

    // drill-down from the report's list to the case's timeline
    await page.goto(`${env.base}/#/case/${id}`, { waitUntil: 'load' });
    await page.waitForSelector('.timeline li.ev-escalation');
    noErrors(page);
    await page.close();
  });

  test('no console errors on any page (login, cases, case, outbox, dashboard, print)', async () => {
    env.user('admin1', 'admin', '*', 'admin1-pw-1');
    const page = await phone(b);
    await page.goto(env.base + '/', { waitUntil: 'load' });
    await page.waitForSelector('#login');
    await login(page, env.base, 'admin1', 'admin1-pw-1');
    for (const [hash, sel] of [['#/cases', 'li.case'], ['#/case/C000000001', '.timeline'], ['#/outbox', 'h1'],
      ['#/dashboard', '.figures']]) {
      await page.goto(env.base + '/' + hash, { waitUntil: 'load' });
      await page.waitForSelector(sel);
    }
    await page.emulateMediaType('print');
    const pdf = await page.pdf({ format: 'A4' });
    assert.ok(pdf.length > 1000, 'the dashboard prints');
    await page.emulateMediaType(null);
    await page.click('#logout');
    await page.waitForSelector('#login');
    noErrors(page);
    await page.close();
  });
});
