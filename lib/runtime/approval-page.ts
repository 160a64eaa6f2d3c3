/**
 * The approval page (issue 13): server-rendered HTML from the Hono app, no build step, no script, no
 * third-party asset. It lists pending approvals and recent history, shows one approval's plan as the
 * server computed it, and takes an approver's decision with their TOTP code. It also lets an approver
 * set a client's mode. Nothing a client token can send decides here: only a named approver's code.
 *
 * Defences: the app's Host/Origin checks run first (as for /mcp); every POST must come from this very
 * origin (Origin header equal to the Host it was sent to) and carry a CSRF field bound to the approval
 * (or form) and to a random SameSite=Strict cookie; a strict Content-Security-Policy (default-src
 * 'none', the one stylesheet by nonce, form-action 'self', frame-ancestors 'none'); bodies are capped.
 * Every refusal (wrong, reused or expired code, unknown or decided id, tampered form, foreign origin) is
 * answered with a clear message and recorded in approval_events, including requests for /approve that
 * the app's Host/Origin check refuses before they reach these routes (recordRefusedApprovalRequest).
 *
 * What someone who merely reaches the page sees (anyone on the network can, and so can the agent):
 * - the list shows pending approvals by id, tool, risk and age only: no client names, no summaries, no
 *   argument values; the mode form takes the client's name typed in (no list of tokens);
 * - the detail page of a PENDING approval shows the full plan and the exact arguments, because the
 *   approver must judge them before typing a code; its id is random and it lives minutes, not days;
 *   a decided one shows only its outcome and who decided it;
 * - history (decisions, calls, refused tries) is shown only to an approver who gives a code, like a
 *   decision (it uses up that code's 30-second step; the host CLI shows it too: npm run approve -- history).
 * A page that shows nothing without a login would need approver sessions; a code per look keeps the
 * page stateless and the approver credential the only key.
 *
 * Wrong codes slow down rather than lock an approver for everyone (see checkCode in approval/store.ts):
 * an address is locked out of an approver after 5 wrong codes; the approver as a whole only gets slower.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { approvalsOf, type ApprovalRow } from '../approval/store.ts';
import { sleep } from '../abort.ts';
import { FailureThrottle } from '../auth/authenticate.ts';
import { modeRank } from '../store/tokens.ts';
import type { Mode, Plan } from '../tool.ts';
import type { Runtime } from './runtime.ts';

const csrfCookie = 'pmcp_approve';
const idPattern = /^approval_[0-9a-f]{20}$/;

/** Whether a request path is the approval page's (its refusals belong in the approval record). */
export function isApprovalPath(path: string): boolean {
  return path === '/approve' || path.startsWith('/approve/');
}

// One brake per runtime for refused approval requests, shared by the page and the app's Host/Origin check.
const throttles = new WeakMap<object, FailureThrottle>();
function throttleOf(runtime: Runtime): FailureThrottle {
  let found = throttles.get(runtime);
  if (!found) throttles.set(runtime, (found = new FailureThrottle()));
  return found;
}

function addressOf(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } }; remoteAddr?: { hostname?: string } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? env?.remoteAddr?.hostname ?? 'unknown';
}

/** Printable and short: header values are the sender's to choose. */
function clip(text: string, max = 120): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, max);
}

/**
 * A request for /approve refused before the page (foreign Origin, unknown Host): on record with the
 * reason, the method, path and source address; nothing of the request's body, cookies or credentials.
 * The address is slowed down like one that sends refused forms, so a flood cannot fill the record fast.
 */
export async function recordRefusedApprovalRequest(runtime: Runtime, c: Context, reason: string): Promise<void> {
  const throttle = throttleOf(runtime);
  const address = addressOf(c);
  const delay = throttle.delayFor(address);
  throttle.fail(address);
  if (delay > 0) await sleep(delay);
  const segment = c.req.path.split('/')[2] ?? '';
  await approvalsOf(runtime.store)
    .event({
      approvalId: idPattern.test(segment) ? segment : null,
      how: 'page',
      outcome: 'refused',
      message: `${clip(c.req.method, 10)} ${clip(c.req.path)} from ${clip(address, 60)} refused before the page: ${clip(reason, 300)}`,
    })
    .catch((error: Error) => runtime.log.warn('Could not record a refused approval request', { error: error.message }));
}
const maxFormBytes = 8 * 1024;
const modes: Mode[] = ['read-only', 'safe', 'normal'];

function escape(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

function time(ms: number | null | undefined): string {
  return ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '-';
}

/** Month-day hour:minute (UTC): short enough for a table on a phone. */
function short(ms: number | null | undefined): string {
  return ms ? new Date(ms).toISOString().slice(5, 16).replace('T', ' ') : '-';
}

function cookieOf(c: Context): string | undefined {
  const header = c.req.header('cookie') ?? '';
  for (const part of header.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === csrfCookie) return value.join('=');
  }
  return undefined;
}

/** The form token: bound to the browser's cookie and to what the form is about (an approval id or 'mode'). */
function csrfFor(cookie: string, scope: string): string {
  return createHash('sha256').update(`${cookie}\n${scope}`).digest('base64url');
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

const styles = `
body{font:16px/1.45 system-ui,sans-serif;margin:0;padding:1rem;max-width:48rem;margin-inline:auto;color:#1b1b1b;background:#fafafa}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}
.card{background:#fff;border:1px solid #ddd;border-radius:.5rem;padding:.8rem 1rem;margin:.6rem 0;overflow-wrap:anywhere}
.risk-high{border-left:.4rem solid #b00020}.risk-medium{border-left:.4rem solid #c77700}.risk-low,.risk-none{border-left:.4rem solid #2e7d32}
pre{white-space:pre-wrap;word-break:break-all;background:#f1f1f1;padding:.5rem;border-radius:.3rem;font-size:.85rem}
label{display:block;margin:.5rem 0 .2rem}input,select,button{font:inherit;padding:.55rem;width:100%;box-sizing:border-box;margin-bottom:.4rem}
button{border:0;border-radius:.4rem;color:#fff;background:#2e7d32}button.deny{background:#b00020}
.msg{padding:.6rem;border-radius:.4rem;background:#e8f5e9}.msg.error{background:#fdecea}
table{border-collapse:collapse;width:100%;font-size:.85rem}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}
.muted{color:#666;font-size:.85rem}`;

export function mountApprovalPage(app: Hono, runtime: Runtime): void {
  const approvals = approvalsOf(runtime.store);

  /** This browser's CSRF cookie: the one it sent, or a new one this response sets. */
  function sessionOf(c: Context): { cookie: string; fresh: boolean } {
    const cookie = cookieOf(c);
    if (cookie && /^[A-Za-z0-9_-]{20,64}$/.test(cookie)) return { cookie, fresh: false };
    return { cookie: randomBytes(24).toString('base64url'), fresh: true };
  }

  function csrfField(session: { cookie: string }, scope: string): string {
    return `<input type="hidden" name="csrf" value="${escape(csrfFor(session.cookie, scope))}">`;
  }

  async function approverOptions(): Promise<string> {
    const list = await approvals.listApprovers();
    if (list.length === 0) return '<option value="">(no approver yet: npm run approve -- approver add NAME on the host)</option>';
    return list.map((approver) => `<option>${escape(approver.name)}</option>`).join('');
  }

  function planHtml(plan: Plan): string {
    return `<p><strong>${escape(plan.summary)}</strong></p>
<p>Risk: <strong>${escape(plan.risk)}</strong> · ${plan.reversible ? 'can be undone' : '<strong>cannot be undone</strong>'}${plan.undo ? ` · undo: ${escape(plan.undo)}` : ''}</p>
${plan.apiCalls?.length ? `<p>Proxmox requests:</p><pre>${plan.apiCalls.map(escape).join('\n')}</pre>` : ''}
${plan.cliEquivalent ? `<p>Command line:</p><pre>${escape(plan.cliEquivalent)}</pre>` : ''}
${plan.warnings?.length ? `<p>Warnings:</p><ul>${plan.warnings.map((w) => `<li>${escape(w)}</li>`).join('')}</ul>` : ''}`;
  }

  /** One page: the stylesheet is allowed by a per-response nonce, and nothing else is. */
  function render(session: { cookie: string; fresh: boolean }, title: string, body: string, status = 200): Response {
    const nonce = randomBytes(16).toString('base64');
    const headers = new Headers({
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': `default-src 'none'; style-src 'nonce-${nonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      // same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on the form's POST.
      'referrer-policy': 'same-origin',
      'cache-control': 'no-store',
    });
    if (session.fresh) headers.append('set-cookie', `${csrfCookie}=${session.cookie}; Path=/approve; HttpOnly; SameSite=Strict`);
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${escape(title)}</title><style nonce="${nonce}">${styles}</style></head><body>${body}</body></html>`;
    return new Response(html, { status, headers });
  }

  function message(text: string, error = false): string {
    return `<p class="msg${error ? ' error' : ''}" role="status">${escape(text)}</p>`;
  }

  function age(ms: number): string {
    const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
    return seconds < 120 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
  }

  /** The list anyone who reaches the page sees: ids, tools, risk and age; no names, no arguments. */
  async function listPage(c: Context, note?: { text: string; error: boolean }, status = 200): Promise<Response> {
    const session = sessionOf(c);
    const pending = await approvals.pending();
    const refused = (await approvals.events(200)).filter((e) => e.outcome === 'refused' && e.at > Date.now() - 86400_000).length;
    const body = `<h1>Approvals</h1>${note ? message(note.text, note.error) : ''}
<h2>Waiting for a decision (${pending.length})</h2>
${pending.length ? pending.map((row) => `<div class="card risk-${escape((JSON.parse(row.plan) as Plan).risk)}"><a href="/approve/${escape(row.id)}">${escape(row.tool)}</a> <span class="muted">risk ${escape((JSON.parse(row.plan) as Plan).risk)} · asked ${age(row.createdAt)} · ${escape(row.id)}</span></div>`).join('') : '<p class="muted">Nothing is waiting.</p>'}
<p class="muted">Open one to see its plan, its client and its exact arguments before you decide.</p>
<h2>Set a client's mode</h2>
<form method="post" action="/approve/-/mode" class="card">${csrfField(session, 'mode')}
<label for="token">Client token name</label><input id="token" name="token" autocomplete="off" required maxlength="64">
<label for="mode">Mode</label><select id="mode" name="mode">${modes.map((m) => `<option>${m}</option>`).join('')}</select>
<label for="approver-m">Approver</label><select id="approver-m" name="approver">${await approverOptions()}</select>
<label for="code-m">Code from the authenticator app</label><input id="code-m" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required>
<button type="submit">Set mode</button></form>
<h2>History</h2>
<p class="muted">${refused} refused tr${refused === 1 ? 'y' : 'ies'} on record in the last day. Decisions, calls and refused tries are shown to an approver (a code is used up, as for a decision), or on the host: npm run approve -- history.</p>
<form method="post" action="/approve/-/history" class="card">${csrfField(session, 'history')}
<label for="approver-h">Approver</label><select id="approver-h" name="approver">${await approverOptions()}</select>
<label for="code-h">Code from the authenticator app</label><input id="code-h" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required>
<button type="submit" id="history">Show history</button></form>`;
    return render(session, 'Approvals · proxmox-mcp', body, status);
  }

  /** Recent decisions, calls and everything on record: only after an approver's code. */
  async function historyPage(c: Context, approver: string): Promise<Response> {
    const session = sessionOf(c);
    const recent = await approvals.recent(20);
    const events = await approvals.events(30);
    const calls = (await runtime.store.history.query({ limit: 20 })).rows;
    const body = `<p><a href="/approve">All approvals</a></p><h1>History</h1>${message(`Shown to ${approver}.`)}
<h2>Recent decisions <span class="muted">(times UTC)</span></h2>
<table><tr><th>When</th><th>Client</th><th>Call</th><th>Result</th><th>By</th></tr>
${recent.map((row) => `<tr><td>${short(row.decidedAt ?? row.createdAt)}</td><td>${escape(row.client)}</td><td>${escape(row.tool)} <span class="muted">${escape(row.id)}</span></td><td>${escape(row.status)}</td><td>${escape(row.decidedBy ?? '-')}${row.decidedHow ? ` (${escape(row.decidedHow)})` : ''}</td></tr>`).join('')}</table>
<h2>Recent calls</h2>
<table><tr><th>When</th><th>Client</th><th>Tool</th><th>Outcome</th><th>Approved by</th></tr>
${calls.map((row) => `<tr><td>${short(row.startedAt)}</td><td>${escape(row.client)}</td><td>${escape(row.tool)}</td><td>${escape(row.outcome)}</td><td>${row.approvedBy ? `${escape(row.approvedBy)} (${escape(row.approval)})` : '-'}</td></tr>`).join('')}</table>
<h2>Refused tries and decisions on record</h2>
<table><tr><th>When</th><th>Who</th><th>How</th><th>Outcome</th><th>What</th></tr>
${events.map((e) => `<tr><td>${short(e.at)}</td><td>${escape(e.actor ?? '-')}</td><td>${escape(e.how)}</td><td>${escape(e.outcome)}</td><td>${escape(e.message)}</td></tr>`).join('')}</table>`;
    return render(session, 'History · proxmox-mcp', body);
  }

  async function detailPage(c: Context, row: ApprovalRow | undefined, id: string, note?: { text: string; error: boolean }, status = 200): Promise<Response> {
    const session = sessionOf(c);
    if (!row) return render(session, 'Unknown approval', `<h1>Unknown approval</h1>${message(note?.text ?? `There is no approval ${id}. It may have been pruned, or the link is wrong.`, true)}<p><a href="/approve">All approvals</a></p>`, status === 200 ? 404 : status);
    const plan = JSON.parse(row.plan) as Plan;
    let args = row.args;
    try {
      args = JSON.stringify(JSON.parse(row.args), null, 2);
    } catch {
      // shown as stored
    }
    const decided = row.status !== 'pending';
    if (decided) {
      // Decided: the outcome only. The plan and arguments were for the approver to judge while it was open.
      const body = `<p><a href="/approve">All approvals</a></p><h1>${escape(row.tool)}: ${escape(row.status)}</h1>
${note ? message(note.text, note.error) : ''}
<div class="card"><p class="muted">${escape(row.id)} · asked ${time(row.createdAt)} · status <strong>${escape(row.status)}</strong>${row.decidedBy ? ` · ${escape(row.status === 'denied' ? 'denied' : 'approved')} by ${escape(row.decidedBy)} (${escape(row.decidedHow)}) ${time(row.decidedAt)}` : ''}</p>
<p class="muted">Its plan and arguments are no longer shown here; on the host: npm run approve -- show ${escape(row.id)}</p></div>`;
      return render(session, `${row.tool}: ${row.status}`, body, status);
    }
    const body = `<p><a href="/approve">All approvals</a></p><h1>${escape(row.tool)} for ${escape(row.client)}</h1>
${note ? message(note.text, note.error) : ''}
<div class="card risk-${escape(plan.risk)}">${planHtml(plan)}</div>
<div class="card"><p>Client token: <strong>${escape(row.client)}</strong> · tool <strong>${escape(row.tool)}</strong></p>
<p>Why proof: ${escape(row.reason)}</p><p>Exact arguments:</p><pre>${escape(args)}</pre>
<p class="muted">${escape(row.id)} · asked ${time(row.createdAt)} · expires ${time(row.expiresAt)} · status <strong>${escape(row.status)}</strong>${row.decidedBy ? ` · ${escape(row.status === 'denied' ? 'denied' : 'approved')} by ${escape(row.decidedBy)} (${escape(row.decidedHow)}) ${time(row.decidedAt)}` : ''}</p></div>
<form method="post" action="/approve/${escape(row.id)}" class="card">${csrfField(session, row.id)}
<label for="approver">Approver</label><select id="approver" name="approver">${await approverOptions()}</select>
<label for="code">Code from the authenticator app</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required>
<button type="submit" name="decision" value="approve" id="approve">Approve and let it run</button>
<button type="submit" name="decision" value="deny" class="deny" id="deny">Deny</button></form>`;
    return render(session, `Approve ${row.tool}`, body, status);
  }

  /** The POST's own checks: same origin, small urlencoded body, CSRF bound to this scope. */
  async function readForm(c: Context, scope: string): Promise<{ form: URLSearchParams } | { refused: string; status: number }> {
    const origin = c.req.header('origin');
    const host = c.req.header('host');
    let sameOrigin = false;
    try {
      sameOrigin = Boolean(origin && host && new URL(origin).host === host);
    } catch {
      sameOrigin = false;
    }
    if (!sameOrigin) return { refused: `This form must be sent from this server's own page (Origin ${origin ?? 'missing'} is not ${host ?? '?'}). Nothing was decided.`, status: 403 };
    const length = Number(c.req.header('content-length') ?? '0');
    if (length > maxFormBytes) return { refused: 'The form is too large. Nothing was decided.', status: 413 };
    if (!(c.req.header('content-type') ?? '').startsWith('application/x-www-form-urlencoded')) return { refused: 'The form was not sent as a web form. Nothing was decided.', status: 400 };
    const text = await c.req.text();
    if (text.length > maxFormBytes) return { refused: 'The form is too large. Nothing was decided.', status: 413 };
    const form = new URLSearchParams(text);
    const cookie = cookieOf(c);
    const given = form.get('csrf') ?? '';
    if (!cookie || !given || !sameText(given, csrfFor(cookie, scope))) {
      return { refused: 'The form was changed or is stale (its security token does not match this page). Reload the page and try again. Nothing was decided.', status: 403 };
    }
    return { form };
  }

  // An address that keeps sending refused forms is slowed down (a brake on floods of guesses and of
  // records; the approver lock is what stops guessing).
  const throttle = throttleOf(runtime);
  const brake = async (c: Context) => {
    const delay = throttle.delayFor(addressOf(c));
    if (delay > 0) await sleep(delay);
  };
  /** A refused form: on record, and its address slowed down. */
  const refusal = async (c: Context, event: Parameters<typeof approvals.event>[0]) => {
    throttle.fail(addressOf(c));
    await approvals.event(event);
  };

  // Bodies are capped as they stream in (a chunked body has no Content-Length to check first).
  // connection: close, or the unread rest of the body would be taken for the next request on the socket.
  const capped = bodyLimit({ maxSize: maxFormBytes, onError: (c) => c.text('The form is too large. Nothing was decided.', 413, { connection: 'close' }) });

  app.get('/approve', (c) => listPage(c));

  app.get('/approve/:id', async (c) => {
    const id = c.req.param('id');
    return detailPage(c, await approvals.get(id), id);
  });

  app.post('/approve/-/mode', capped, async (c) => {
    await brake(c);
    const read = await readForm(c, 'mode');
    if ('refused' in read) {
      await refusal(c, { how: 'page', outcome: 'refused', message: `mode form: ${read.refused}` });
      return listPage(c, { text: read.refused, error: true }, read.status);
    }
    const name = (read.form.get('token') ?? '').slice(0, 64);
    const mode = read.form.get('mode') as Mode;
    const approver = read.form.get('approver') ?? '';
    if (!modes.includes(mode)) {
      await refusal(c, { actor: approver, how: 'page', outcome: 'refused', message: `mode form: '${String(mode).slice(0, 40)}' is not a mode` });
      return listPage(c, { text: `'${mode}' is not a mode. Nothing was changed.`, error: true }, 400);
    }
    // The code first: whether a client name exists, and its ceiling, are for an approver to learn, not
    // for anyone who can reach the page.
    const check = await approvals.checkCode(approver, read.form.get('code') ?? '', { source: addressOf(c) });
    if (!check.ok) {
      await refusal(c, { actor: approver, how: 'page:totp', outcome: 'refused', message: `mode ${name} -> ${mode}: ${check.message}` });
      return listPage(c, { text: `${check.message} Nothing was changed.`, error: true }, 403);
    }
    const token = await runtime.store.tokens.byName(name);
    if (!token || token.revokedAt !== null) {
      await refusal(c, { actor: approver, how: 'page:totp', outcome: 'refused', message: `mode form: unknown client '${name}'` });
      return listPage(c, { text: `There is no active client '${name}' (npm run token -- list on the host). Nothing was changed.`, error: true }, 400);
    }
    if (modeRank[mode] > modeRank[token.ceiling]) {
      await refusal(c, { actor: approver, how: 'page:totp', outcome: 'refused', message: `mode ${name} -> ${mode}: above its ceiling ${token.ceiling}` });
      return listPage(c, { text: `${name} has the ceiling ${token.ceiling}; it cannot be put in ${mode} mode. Nothing was changed.`, error: true }, 400);
    }
    throttle.succeed(addressOf(c));
    await runtime.store.tokens.setMode(token.id, mode);
    await approvals.event({ actor: approver, how: 'page:totp', outcome: 'mode', message: `set ${name} from ${token.mode} to ${mode}` });
    return listPage(c, { text: `${name} is now in ${mode} mode (was ${token.mode}).`, error: false });
  });

  app.post('/approve/-/history', capped, async (c) => {
    await brake(c);
    const read = await readForm(c, 'history');
    if ('refused' in read) {
      await refusal(c, { how: 'page', outcome: 'refused', message: `history form: ${read.refused}` });
      return listPage(c, { text: read.refused, error: true }, read.status);
    }
    const approver = read.form.get('approver') ?? '';
    const check = await approvals.checkCode(approver, read.form.get('code') ?? '', { source: addressOf(c) });
    if (!check.ok) {
      await refusal(c, { actor: approver, how: 'page:totp', outcome: 'refused', message: `history: ${check.message}` });
      return listPage(c, { text: `${check.message} History is shown to an approver only.`, error: true }, 403);
    }
    throttle.succeed(addressOf(c));
    await approvals.event({ actor: approver, how: 'page:totp', outcome: 'history', message: 'looked at the history' });
    return historyPage(c, approver);
  });

  app.post('/approve/:id', capped, async (c) => {
    await brake(c);
    const id = c.req.param('id');
    const read = await readForm(c, id);
    let row = await approvals.get(id);
    if ('refused' in read) {
      await refusal(c, { approvalId: row ? id : null, how: 'page', outcome: 'refused', message: read.refused });
      return detailPage(c, row, id, { text: read.refused, error: true }, read.status);
    }
    const approver = read.form.get('approver') ?? '';
    const decision = read.form.get('decision');
    if (!row) {
      await refusal(c, { actor: approver, how: 'page', outcome: 'refused', message: `unknown approval ${id.slice(0, 80)}` });
      return detailPage(c, undefined, id, undefined, 404);
    }
    if (decision !== 'approve' && decision !== 'deny') {
      await refusal(c, { approvalId: id, actor: approver, how: 'page', outcome: 'refused', message: 'tampered form: no decision' });
      return detailPage(c, row, id, { text: 'The form did not say approve or deny. Nothing was decided.', error: true }, 400);
    }
    if (row.status !== 'pending') {
      const text = `This approval is already ${row.status}${row.decidedBy ? ` (by ${row.decidedBy})` : ''}; it cannot be decided again. Nothing was changed.`;
      await refusal(c, { approvalId: id, actor: approver, how: 'page', outcome: 'refused', message: text });
      return detailPage(c, row, id, { text, error: true }, 409);
    }
    const check = await approvals.checkCode(approver, read.form.get('code') ?? '', { source: addressOf(c) });
    if (!check.ok) {
      await refusal(c, { approvalId: id, actor: approver, how: 'page:totp', outcome: 'refused', message: check.message });
      return detailPage(c, row, id, { text: `${check.message} Nothing was decided.`, error: true }, 403);
    }
    const status = decision === 'approve' ? 'approved' : 'denied';
    if (!(await approvals.decide(id, status, approver, 'page:totp'))) {
      row = await approvals.get(id);
      const text = `This approval is no longer pending (${row?.status ?? 'gone'}). Nothing was changed.`;
      await refusal(c, { approvalId: id, actor: approver, how: 'page:totp', outcome: 'refused', message: text });
      return detailPage(c, row, id, { text, error: true }, 409);
    }
    throttle.succeed(addressOf(c));
    await approvals.event({ approvalId: id, actor: approver, how: 'page:totp', outcome: status, message: `${row.tool} for ${row.client}` });
    runtime.log.info('Approval decided on the page', { approvalId: id, tool: row.tool, client: row.client, approver, decision: status });
    row = await approvals.get(id);
    return detailPage(c, row, id, {
      text: status === 'approved' ? `Approved. ${row?.client ?? 'The client'} can now run it once (it continues by itself if it is waiting).` : 'Denied. Nothing will run.',
      error: false,
    });
  });
}
