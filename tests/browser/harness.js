// harness.js - a real logbookd (manual clock) and logbook-web on free
// loopback ports in a temporary folder, a gateway key of role gateway, users
// made with `logbook user add --password-stdin`, and Debian's Chromium
// through puppeteer-core. Servers are stopped by pid.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.LOGBOOK_BIN || path.join(ROOT, 'bin');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls cond() every 50 ms until it is truthy or ms pass.
export async function until(cond, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export class Env {
  async start() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-browser-'));
    this.data = path.join(this.dir, 'data');
    this.keys = path.join(this.dir, 'keys');
    fs.mkdirSync(this.keys, { mode: 0o700 });
    this.users = path.join(this.dir, 'users.tsv');
    const [req, ev, http] = [await freePort(), await freePort(), await freePort()];
    this.req = `tcp://127.0.0.1:${req}`;
    this.ev = `tcp://127.0.0.1:${ev}`;
    this.base = `http://127.0.0.1:${http}`;
    this.cli(['keygen', 'web', '--dir', this.keys]);
    const pub = /public-key = "(.*)"/.exec(fs.readFileSync(path.join(this.keys, 'web.key'), 'utf8'))[1];
    fs.writeFileSync(path.join(this.dir, 'clients.yaml'),
      `clients:\n  - name: web\n    public_key: "${pub}"\n    role: gateway\n    areas: ["*"]\n    events: true\n`);
    fs.writeFileSync(path.join(this.dir, 'logbookd.yaml'), [
      `data_dir: ${this.data}`,
      `endpoints: { requests: ["${this.req}"], events: ["${this.ev}"] }`,
      `workflows: ${ROOT}/config/workflows`,
      `indicators: ${ROOT}/config/indicators.yaml`,
      'security:', '  curve: true', '  clients: clients.yaml', '  users: users.tsv',
      'log_level: warn', ''].join('\n'));
    this.daemon = this.spawn('logbookd', ['--config', path.join(this.dir, 'logbookd.yaml'), '--foreground', '--clock', 'manual'], 'daemon.log');
    await until(() => {
      if (this.daemon.exitCode !== null) throw new Error('logbookd exited: ' + this.log('daemon.log'));
      return fs.existsSync(path.join(this.data, 'keys/server.key'));
    }, 10000, 'the server key');
    await until(() => { try { this.cli(['ping']); return true; } catch { return false; } }, 10000, 'the daemon');
    fs.writeFileSync(path.join(this.dir, 'logbook-web.yaml'), [
      `listen: 127.0.0.1:${http}`,
      `daemon: { endpoint: "${this.req}", events_endpoint: "${this.ev}" }`,
      `cert: ${path.join(this.keys, 'web.key_secret')}`,
      `server_cert: ${path.join(this.data, 'keys/server.key')}`,
      'users: users.tsv',
      `static: ${ROOT}/clients/web/static`,
      `indicators: ${ROOT}/config/indicators.yaml`, ''].join('\n'));
    this.web = this.spawn('logbook-web', ['--config', path.join(this.dir, 'logbook-web.yaml')], 'web.log');
    await until(async () => {
      if (this.web.exitCode !== null) throw new Error('logbook-web exited: ' + this.log('web.log'));
      try { return (await fetch(this.base + '/')).ok; } catch { return false; }
    }, 10000, 'the gateway');
    return this;
  }

  log(name) {
    return fs.readFileSync(path.join(this.dir, name), 'utf8');
  }

  spawn(name, args, log) {
    const out = fs.openSync(path.join(this.dir, log), 'a');
    const p = spawn(path.join(BIN, name), args, { cwd: this.dir, stdio: ['ignore', out, out] });
    p.exited = new Promise((r) => p.once('exit', r));
    return p;
  }

  // bin/logbook as the daemon's admin; -> stdout. Throws on a non-zero exit.
  cli(args, input) {
    return execFileSync(path.join(BIN, 'logbook'), ['-e', this.req, '-E', this.ev,
      '-k', path.join(this.data || '', 'keys/admin.key_secret'), '-s', path.join(this.data || '', 'keys/server.key'),
      ...args], { cwd: this.dir, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  }

  user(name, role, areas, password) {
    this.cli(['user', 'add', name, '--role', role, '--areas', areas, '--users', this.users, '--password-stdin'], password + '\n');
  }

  // The case's events as the daemon stores them.
  history(caseId) {
    return JSON.parse(this.cli(['--json', 'history', caseId])).events;
  }

  show(caseId) {
    return JSON.parse(this.cli(['--json', 'show', caseId]));
  }

  async stop() {
    for (const p of [this.web, this.daemon]) {
      if (p && p.exitCode === null) {
        p.kill('SIGTERM');
        await Promise.race([p.exited, sleep(5000)]);
        if (p.exitCode === null) p.kill('SIGKILL');
      }
    }
    if (this.dir && !process.env.KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// Debian's Chromium, headless, a fresh profile each time; collects console errors.
export async function browser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lb-chromium-'));
  const b = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profile}`],
  });
  b.profileDir = profile;
  const close = b.close.bind(b);
  b.close = async () => {
    await close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return b;
}

// A phone-sized page that records every console error and uncaught exception.
// Each in its own browser context: its own cookies, storage and service worker.
export async function phone(b) {
  const context = await b.createBrowserContext();
  const page = await context.newPage();
  const close = page.close.bind(page);
  page.close = async () => {
    await close();
    await context.close();
  };
  await page.setViewport({ width: 360, height: 640, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  page.errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.errors.push({ text: m.text(), url: (m.location() || {}).url || '' });
  });
  page.on('pageerror', (e) => page.errors.push({ text: 'uncaught: ' + e.message, url: '' }));
  return page;
}

export async function login(page, base, name, password) {
  await page.goto(base + '/', { waitUntil: 'load' });
  await page.waitForSelector('#login #name');
  await page.type('#name', name);
  await page.type('#password', password);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#nav:not([hidden])');
}
