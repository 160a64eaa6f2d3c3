/**
 * The approval page: a real headless Chromium approves a destructive call that a safe-mode client was
 * refused, and the client's retry runs it (screenshots in test-artifacts/); an attacker page on another
 * origin cannot decide; and every kind of bad input (wrong, reused or expired code, unknown or decided
 * id, tampered form, foreign or missing Origin, a locked approver) is refused with a clear message,
 * decides nothing, runs nothing and is on record.
 */
import { createServer, request as httpRequest, type Server as HttpServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRest } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { addApprover, approveCli, csrfIn, decideOnPage, getPage, postForm, type TestApprover } from './helpers/approval.ts';
import { hasChromium, launchChromium, chromiumPath } from './helpers/chromium.ts';
import { approvalsOf } from '../lib/approval/store.ts';
import { totp } from '../lib/approval/totp.ts';
import type { SimGuest } from '../lib/simulator/index.ts';

let ts: SafetyServer;
let safe: string;
let guest: SimGuest;
let counter = 0;

beforeAll(async () => {
  ts = await startSafetyServer();
  safe = await ts.createToken({ name: 'page-safe', role: 'operator', mode: 'safe', ceiling: 'normal' });
  guest = [...ts.sim.state.guests.values()].find((g) => g.type === 'qemu' && !g.config.protection && !g.config.template)!;
});
afterAll(async () => {
  await ts?.close();
});

const description = () => ts.sim.state.guests.get(guest.vmid)!.config.description;

/** A change a REST client in safe mode is refused with approval_required; returns its id. */
async function askForChange(): Promise<{ id: string; args: Record<string, unknown>; text: string }> {
  const text = `page note ${++counter}`;
  const args = { method: 'PUT', path: `/nodes/${guest.node}/qemu/${guest.vmid}/config`, params: { description: text } };
  const response = await callRest(ts.url, safe, 'proxmox_api', args);
  expect(response.status).toBe(428);
  return { id: response.body.error.details.approval_id, args, text };
}

/** A request with headers fetch() will not send (Host), or from another loopback source address. */
function rawRequest(options: { path: string; method?: string; headers?: Record<string, string>; body?: string; localAddress?: string }): Promise<{ status: number; html: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(ts.url);
    const req = httpRequest({ hostname: url.hostname, port: url.port, path: options.path, method: options.method ?? 'GET', headers: options.headers, localAddress: options.localAddress }, (res) => {
      let html = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (html += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, html }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** POST a form as a browser on another address would. */
function postFrom(localAddress: string, path: string, fields: Record<string, string>, cookie: string) {
  const body = new URLSearchParams(fields).toString();
  return rawRequest({ path, method: 'POST', localAddress, body, headers: { host: new URL(ts.url).host, origin: ts.url, cookie, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) } });
}

async function eventsFor(id: string) {
  return approvalsOf(ts.server.store).events(50, id);
}

describe('the page itself', () => {
  it('is HTML with a strict CSP, no framing, a SameSite=Strict HttpOnly cookie, and shows the plan, the client and the exact arguments', async () => {
    const { id, text } = await askForChange();
    const page = await getPage(ts.url, `/approve/${id}`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toMatch(/^default-src 'none'; style-src 'nonce-[A-Za-z0-9+/=]+'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'$/);
    const nonce = /'nonce-([^']+)'/.exec(csp)![1];
    expect(page.html).toContain(`<style nonce="${nonce}">`);
    expect(page.html).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1)/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('set-cookie')).toMatch(/; Path=\/approve; HttpOnly; SameSite=Strict$/);
    expect(page.html).toContain('page-safe');
    expect(page.html).toContain(`PUT /nodes/${guest.node}/qemu/${guest.vmid}/config`);
    expect(page.html).toContain(text);
    expect(page.html).toContain('name="viewport"');
    const list = await getPage(ts.url, '/approve');
    expect(list.html).toContain(`/approve/${id}`);
  });

  it('answers only to the allowed Host names, like /mcp (DNS rebinding)', async () => {
    const { id } = await askForChange();
    // fetch() will not send a Host of our choosing; node:http will.
    const statusWithHost = (path: string, host: string) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL(`${ts.url}${path}`);
        const req = httpRequest({ hostname: url.hostname, port: url.port, path: url.pathname, headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await statusWithHost(`/approve/${id}`, 'attacker.example')).toBe(403);
    expect(await statusWithHost('/approve', 'attacker.example:80')).toBe(403);
    expect(await statusWithHost('/approve', new URL(ts.url).host)).toBe(200);
  });

  it('escapes what the agent wrote into its arguments', async () => {
    const args = { method: 'PUT', path: `/nodes/${guest.node}/qemu/${guest.vmid}/config`, params: { description: '<script>alert(1)</script><img src=x onerror=alert(1)>' } };
    const response = await callRest(ts.url, safe, 'proxmox_api', args);
    const page = await getPage(ts.url, `/approve/${response.body.error.details.approval_id}`);
    expect(page.html).not.toContain('<script>alert');
    expect(page.html).not.toContain('<img src=x');
    expect(page.html).toContain('&lt;script&gt;');
  });
});

describe('bad input on the page: refused, clear, nothing decided or run, on record', () => {
  let approver: TestApprover;
  beforeAll(async () => {
    approver = await addApprover(ts.server.store);
  });

  it('wrong, expired and reused codes', async () => {
    const { id, args, text } = await askForChange();
    const page = await getPage(ts.url, `/approve/${id}`);
    const csrf = csrfIn(page.html);
    const send = (code: string) => postForm(ts.url, `/approve/${id}`, { csrf, approver: approver.name, code, decision: 'approve' }, { cookie: page.cookie });
    const real = totp(approver.secret);
    const wrong = await send(real === '123456' ? '654321' : '123456');
    expect(wrong.status).toBe(403);
    expect(wrong.html).toMatch(/not the current code/);
    const expired = await send(totp(approver.secret, Date.now() - 5 * 60_000));
    expect(expired.status).toBe(403);
    // Use this step's code on another approval, then try it here.
    const other = await askForChange();
    const otherPage = await getPage(ts.url, `/approve/${other.id}`);
    const code = approver.nextCode();
    expect((await postForm(ts.url, `/approve/${other.id}`, { csrf: csrfIn(otherPage.html), approver: approver.name, code, decision: 'deny' }, { cookie: otherPage.cookie })).status).toBe(200);
    const reused = await send(code);
    expect(reused.status).toBe(403);
    expect(reused.html).toMatch(/already used/);
    const unknownApprover = await postForm(ts.url, `/approve/${id}`, { csrf, approver: 'mallory', code: real, decision: 'approve' }, { cookie: page.cookie });
    expect(unknownApprover.status).toBe(403);
    expect(unknownApprover.html).toMatch(/no approver named/);

    expect((await approvalsOf(ts.server.store).get(id))!.status).toBe('pending');
    const run = await callRest(ts.url, safe, 'proxmox_api', { ...args, confirmation_id: id });
    expect(run.status).toBe(428);
    expect(description()).not.toBe(text);
    const events = await eventsFor(id);
    expect(events.filter((e) => e.outcome === 'refused').length).toBeGreaterThanOrEqual(4);
  });

  it('unknown and already-decided ids', async () => {
    const unknown = await getPage(ts.url, '/approve/approval_doesnotexist000000');
    expect(unknown.status).toBe(404);
    const page = await getPage(ts.url, '/approve');
    const posted = await postForm(ts.url, '/approve/approval_doesnotexist000000', { csrf: 'x', approver: approver.name, code: '000000', decision: 'approve' }, { cookie: page.cookie });
    expect(posted.status).toBe(403); // the form token of another form never fits
    const { id } = await askForChange();
    const extra = await addApprover(ts.server.store);
    const opened = await getPage(ts.url, `/approve/${id}`);
    expect((await decideOnPage(ts.url, id, extra, 'deny')).status).toBe(200);
    const again = await postForm(ts.url, `/approve/${id}`, { csrf: csrfIn(opened.html), approver: extra.name, code: extra.nextCode(), decision: 'approve' }, { cookie: opened.cookie });
    expect(again.status).toBe(409);
    expect(again.html).toMatch(/already denied/);
    expect((await approvalsOf(ts.server.store).get(id))!.status).toBe('denied');
  });

  it('a tampered form: no or wrong CSRF field, the field of another approval, no cookie, no decision', async () => {
    const { id } = await askForChange();
    const other = await askForChange();
    const page = await getPage(ts.url, `/approve/${id}`);
    const otherPage = await getPage(ts.url, `/approve/${other.id}`, page.cookie);
    const fields = { approver: approver.name, decision: 'approve' };
    for (const [form, cookie] of [
      [{ ...fields, code: '111111' }, page.cookie],
      [{ ...fields, code: '111111', csrf: csrfIn(page.html).slice(0, -2) + 'AA' }, page.cookie],
      [{ ...fields, code: '111111', csrf: csrfIn(otherPage.html) }, page.cookie],
      [{ ...fields, code: '111111', csrf: csrfIn(page.html) }, undefined],
    ] as const) {
      const response = await postForm(ts.url, `/approve/${id}`, form as Record<string, string>, { cookie });
      expect(response.status).toBe(403);
      expect(response.html).toMatch(/changed or is stale/);
    }
    const noDecision = await postForm(ts.url, `/approve/${id}`, { csrf: csrfIn(page.html), approver: approver.name, code: '111111', decision: 'maybe' }, { cookie: page.cookie });
    expect(noDecision.status).toBe(400);
    expect((await approvalsOf(ts.server.store).get(id))!.status).toBe('pending');
    expect((await eventsFor(id)).length).toBeGreaterThanOrEqual(5);
  });

  it('a foreign or missing Origin', async () => {
    const { id } = await askForChange();
    const page = await getPage(ts.url, `/approve/${id}`);
    const form = { csrf: csrfIn(page.html), approver: approver.name, code: approver.nextCode(), decision: 'approve' };
    for (const origin of [null, 'http://127.0.0.1:1', 'https://evil.example', 'null']) {
      const response = await postForm(ts.url, `/approve/${id}`, form, { cookie: page.cookie, origin });
      expect(response.status, String(origin)).toBe(403);
    }
    expect((await approvalsOf(ts.server.store).get(id))!.status).toBe('pending');
    expect((await eventsFor(id)).some((e) => /Origin/.test(e.message))).toBe(true);
  });

  it('a body over 8 KiB, with or without Content-Length, is refused before it is read whole', async () => {
    const { id } = await askForChange();
    const big = 'x'.repeat(64 * 1024);
    const sized = await postForm(ts.url, `/approve/${id}`, { csrf: big, approver: 'a', code: '1', decision: 'approve' });
    expect(sized.status).toBe(413);
    const chunks = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 16; i++) controller.enqueue(new TextEncoder().encode(`pad${i}=${'y'.repeat(4096)}&`));
        controller.close();
      },
    });
    const chunked = await fetch(`${ts.url}/approve/${id}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ts.url }, body: chunks, duplex: 'half' } as RequestInit);
    expect(chunked.status).toBe(413);
    expect((await approvalsOf(ts.server.store).get(id))!.status).toBe('pending');
  });

  it('an address that sent 5 wrong codes is locked out of that approver, even with the right code; the approver from another address and the host CLI still decide', async () => {
    const locked = await addApprover(ts.server.store);
    const { id } = await askForChange();
    const page = await getPage(ts.url, `/approve/${id}`);
    const csrf = csrfIn(page.html);
    const right = totp(locked.secret);
    const wrong = right === '000000' ? '000001' : '000000';
    for (let i = 0; i < 5; i++) await postForm(ts.url, `/approve/${id}`, { csrf, approver: locked.name, code: wrong, decision: 'approve' }, { cookie: page.cookie });
    const response = await postForm(ts.url, `/approve/${id}`, { csrf, approver: locked.name, code: right, decision: 'approve' }, { cookie: page.cookie });
    expect(response.status).toBe(403);
    expect(response.html).toMatch(/Too many wrong codes/);
    expect(response.html).toMatch(/from this address/);
    expect((await approvalsOf(ts.server.store).get(id))!.status).toBe('pending');
    // The approver's own browser, on another address (127.0.0.2 is loopback too): not locked.
    const fromOther = await postFrom('127.0.0.2', `/approve/${id}`, { csrf, approver: locked.name, code: locked.nextCode(), decision: 'deny' }, page.cookie);
    expect(fromOther.status, fromOther.html).toBe(200);
    expect(fromOther.html).toMatch(/Denied\./);
    expect((await approvalsOf(ts.server.store).get(id))!.status).toBe('denied');
    // And the host CLI needs no code at all: it decides whatever the page's brakes.
    const next = await askForChange();
    expect((await approveCli(ts.server.store, 'no', next.id)).code).toBe(0);
    expect((await approvalsOf(ts.server.store).get(next.id))!.status).toBe('denied');
  });

  it('requests the app refuses before the page (foreign Origin, unknown Host) are on the approval record too, with no cookie or form value in it', async () => {
    const { id } = await askForChange();
    const page = await getPage(ts.url, `/approve/${id}`);
    const secretish = approver.nextCode();
    const foreign = await postForm(ts.url, `/approve/${id}`, { csrf: csrfIn(page.html), approver: approver.name, code: secretish, decision: 'approve' }, { cookie: page.cookie, origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.html).toMatch(/evil\.example/);
    const rebinding = await rawRequest({ path: '/approve', headers: { host: 'attacker.example', cookie: page.cookie } });
    expect(rebinding.status).toBe(403);
    const controls = await rawRequest({ path: `/approve/${id}`, method: 'GET', headers: { origin: 'https://evil.example\u0001x' } }).catch(() => ({ status: 0 }));
    expect([0, 403]).toContain(controls.status); // node refuses to send a control character, or the server refuses it
    // A path spelled with an escape is the page's path all the same (routes see it decoded).
    expect((await rawRequest({ path: '/%61pprove', headers: { origin: 'https://escaped.example' } })).status).toBe(403);
    const events = await approvalsOf(ts.server.store).events(50);
    const onRecord = events.filter((e) => /refused before the page/.test(e.message));
    expect(onRecord.some((e) => /GET \/approve from .*escaped\.example/.test(e.message))).toBe(true);
    expect(onRecord.some((e) => e.approvalId === id && /POST \/approve\/approval_\w+ from 127\.0\.0\.1 .*evil\.example/.test(e.message))).toBe(true);
    expect(onRecord.some((e) => /GET \/approve from .*Host 'attacker\.example' is not allowed/.test(e.message))).toBe(true);
    const text = JSON.stringify(events);
    expect(text).not.toContain(secretish);
    expect(text).not.toContain(page.cookie.split('=')[1]);
    expect(text).not.toContain(csrfIn(page.html));
    // Other paths are not approval business: /mcp from a foreign Origin is refused but not put here.
    const before = (await approvalsOf(ts.server.store).events(500)).length;
    const mcp = await fetch(`${ts.url}/mcp`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/json' }, body: '{}' });
    expect(mcp.status).toBe(403);
    expect((await approvalsOf(ts.server.store).events(500)).length).toBe(before);
    // ...and an approver sees them in the history.
    const viewer = await addApprover(ts.server.store);
    const list = await getPage(ts.url, '/approve');
    const history = await postForm(ts.url, '/approve/-/history', { csrf: csrfIn(list.html.slice(list.html.indexOf('/approve/-/history'))), approver: viewer.name, code: viewer.nextCode() }, { cookie: list.cookie });
    expect(history.status, history.html).toBe(200);
    expect(history.html).toContain('refused before the page');
    expect(history.html).toContain('evil.example');
  });
});

describe('what someone who merely reaches the page sees', () => {
  it('the list: ids, tools, risk and age; no client names, summaries, argument values, token list or history', async () => {
    const approver = await addApprover(ts.server.store);
    const { id, text } = await askForChange();
    const list = await getPage(ts.url, '/approve');
    expect(list.status).toBe(200);
    expect(list.html).toContain(`/approve/${id}`);
    expect(list.html).toContain('proxmox_api');
    expect(list.html).not.toContain(text);
    expect(list.html).not.toContain('page-safe');
    expect(list.html).not.toContain(`/qemu/${guest.vmid}`);
    expect(list.html).not.toMatch(/<select id="token"/);
    expect(list.html).not.toMatch(/Recent calls|Recent decisions/);
    expect(list.html).toMatch(/refused tr(y|ies) on record/);
    // The pending approval's own page shows everything the approver must judge.
    const detail = await getPage(ts.url, `/approve/${id}`);
    expect(detail.html).toContain(text);
    expect(detail.html).toContain('page-safe');
    // Once decided, it shows the outcome only.
    expect((await decideOnPage(ts.url, id, approver, 'deny')).status).toBe(200);
    const decided = await getPage(ts.url, `/approve/${id}`);
    expect(decided.html).toMatch(/denied/);
    expect(decided.html).not.toContain(text);
  });

  it('the mode form tells whether a client exists, and its ceiling, only after a right code', async () => {
    const approver = await addApprover(ts.server.store);
    const list = await getPage(ts.url, '/approve');
    const csrf = csrfIn(list.html);
    const right = totp(approver.secret);
    const wrong = right === '000000' ? '000001' : '000000';
    const answers: string[] = [];
    for (const [token, mode] of [['page-safe', 'normal'], ['no-such-client', 'safe'], ['page-safe', 'safe']]) {
      const response = await postForm(ts.url, '/approve/-/mode', { csrf, token: token!, mode: mode!, approver: approver.name, code: wrong }, { cookie: list.cookie });
      expect(response.status).toBe(403);
      answers.push(/class="msg error" role="status">([^<]*)</.exec(response.html)![1]!);
    }
    // The same words whatever the client: nothing about it leaks.
    expect(new Set(answers).size).toBe(1);
    expect(answers[0]).not.toMatch(/ceiling|no active client/);
    const unknown = await postForm(ts.url, '/approve/-/mode', { csrf, token: 'no-such-client', mode: 'safe', approver: approver.name, code: approver.nextCode() }, { cookie: list.cookie });
    expect(unknown.status).toBe(400);
    expect(unknown.html).toMatch(/no active client/);
    const badMode = await postForm(ts.url, '/approve/-/mode', { csrf, token: 'page-safe', mode: 'admin', approver: approver.name, code: wrong }, { cookie: list.cookie });
    expect(badMode.status).toBe(400);
  });

  it('history needs an approver code: a wrong code, no code or a foreign form shows nothing and is on record', async () => {
    const approver = await addApprover(ts.server.store);
    const list = await getPage(ts.url, '/approve');
    const csrf = csrfIn(list.html.slice(list.html.indexOf('/approve/-/history')));
    const right = totp(approver.secret);
    const wrong = await postForm(ts.url, '/approve/-/history', { csrf, approver: approver.name, code: right === '000000' ? '000001' : '000000' }, { cookie: list.cookie });
    expect(wrong.status).toBe(403);
    expect(wrong.html).toMatch(/History is shown to an approver only/);
    expect(wrong.html).not.toMatch(/Recent calls/);
    const stale = await postForm(ts.url, '/approve/-/history', { csrf: csrfIn(list.html), approver: approver.name, code: right }, { cookie: list.cookie }); // the mode form's token
    expect(stale.status).toBe(403);
    expect(stale.html).not.toMatch(/Recent calls/);
    const ok = await postForm(ts.url, '/approve/-/history', { csrf, approver: approver.name, code: approver.nextCode() }, { cookie: list.cookie });
    expect(ok.status).toBe(200);
    expect(ok.html).toMatch(/Recent calls/);
    expect(ok.html).toContain('page-safe');
    const events = await approvalsOf(ts.server.store).events(20);
    expect(events.some((e) => e.actor === approver.name && e.outcome === 'refused' && /^history: /.test(e.message))).toBe(true);
    expect(events.some((e) => e.actor === approver.name && e.outcome === 'history')).toBe(true);
  });
});

// CI installs Chromium and sets REQUIRE_CHROMIUM: there a missing browser fails instead of skipping.
if (!hasChromium && process.env.REQUIRE_CHROMIUM) throw new Error(`${chromiumPath} is absent but REQUIRE_CHROMIUM is set: install Debian's chromium.`);
describe.skipIf(!hasChromium)(`in a real headless Chromium (${chromiumPath})`, () => {
  if (!hasChromium) console.warn(`SKIPPED: ${chromiumPath} is absent; install Debian's chromium to run the approval page browser tests.`);

  it('an approver approves a refused destructive call on the page; the client retries and it runs; the list shows who approved how', async () => {
    const approver = await addApprover(ts.server.store);
    const admin = await ts.createToken({ role: 'admin', mode: 'normal' });
    const snap = `page${Date.now() % 100000}`;
    expect((await callRest(ts.url, admin, 'proxmox_api', { method: 'POST', path: `/nodes/${guest.node}/qemu/${guest.vmid}/snapshot`, params: { snapname: snap } })).status).toBe(200);
    const args = { method: 'DELETE', path: `/nodes/${guest.node}/qemu/${guest.vmid}/snapshot/${snap}` };
    const refused = await callRest(ts.url, safe, 'proxmox_api', args);
    expect(refused.status).toBe(428);
    const url = refused.body.error.details.approval_url as string;
    const id = refused.body.error.details.approval_id as string;
    expect(ts.sim.state.guests.get(guest.vmid)!.snapshots.has(snap)).toBe(true);

    const browser = await launchChromium();
    try {
      await browser.open(url.replace(/^http:\/\/[^/]+/, ts.url));
      const text = await browser.evaluate<string>('document.body.innerText');
      expect(text).toContain('page-safe');
      expect(text).toContain(`DELETE /nodes/${guest.node}/qemu/${guest.vmid}/snapshot/${snap}`);
      expect(text).toMatch(/cannot be undone/);
      // The stylesheet ran under the CSP (by its nonce): the page is laid out for a phone.
      expect(await browser.evaluate<string>('getComputedStyle(document.body).maxWidth')).toBe('768px');
      await browser.screenshot('approval-pending');
      await browser.evaluate(`document.querySelector('#approver').value = ${JSON.stringify(approver.name)}; document.querySelector('#code').value = ${JSON.stringify(approver.nextCode())}; true`);
      await browser.navigateBy(`document.querySelector('#approve').click()`);
      const after = await browser.evaluate<string>('document.body.innerText');
      expect(after, after).toMatch(/Approved\./);
      await browser.screenshot('approval-approved');

      const run = await callRest(ts.url, safe, 'proxmox_api', { ...args, confirmation_id: id });
      expect(run.status, JSON.stringify(run.body)).toBe(200);
      expect(ts.sim.state.guests.get(guest.vmid)!.snapshots.has(snap)).toBe(false);

      await ts.server.store.history.flush();
      await browser.open(`${ts.url}/approve`);
      await browser.evaluate(`document.querySelector('#approver-h').value = ${JSON.stringify(approver.name)}; document.querySelector('#code-h').value = ${JSON.stringify(approver.nextCode())}; true`);
      await browser.navigateBy(`document.querySelector('#history').click()`);
      const list = await browser.evaluate<string>('document.body.innerText');
      expect(list).toContain(`${approver.name} (proof)`);
      expect(list).toContain(`${approver.name} (page:totp)`);
      await browser.screenshot('approval-list');
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('an attacker page on another origin that auto-submits the form decides nothing', async () => {
    const approver = await addApprover(ts.server.store);
    const { id } = await askForChange();
    const code = approver.nextCode();
    const attacker: HttpServer = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form id="f" method="post" action="${ts.url}/approve/${id}"><input name="approver" value="${approver.name}"><input name="code" value="${code}"><input name="decision" value="approve"><input name="csrf" value="guess"></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    const port = (attacker.address() as { port: number }).port;
    const browser = await launchChromium();
    try {
      // The approver's browser has the page's cookie (they opened it before).
      await browser.open(`${ts.url}/approve/${id}`);
      await browser.open(`http://127.0.0.1:${port}/`);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const text = await browser.evaluate<string>('document.body.innerText');
      expect(text).toMatch(/must be sent from this server's own page|changed or is stale/);
      await browser.screenshot('approval-foreign-origin');
    } finally {
      await browser.close();
      attacker.close();
    }
    expect((await approvalsOf(ts.server.store).get(id))!.status).toBe('pending');
    expect((await eventsFor(id)).some((e) => e.outcome === 'refused')).toBe(true);
  }, 60_000);
});
