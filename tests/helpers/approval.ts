/**
 * Approvals in tests, the way a human gives them: an approver with a real TOTP secret, the approval
 * page over HTTP (cookie, CSRF field, Origin as a browser sends them) and the host CLI's own code.
 */
import { approvalsOf } from '../../lib/approval/store.ts';
import { runApproveCli } from '../../lib/approval/cli.ts';
import { totp, totpPeriodSeconds } from '../../lib/approval/totp.ts';
import type { Store } from '../../lib/store/store.ts';
import { connectClient, type Era } from './server.ts';

export interface TestApprover {
  name: string;
  secret: string;
  /**
   * A fresh code each call: steps now, now+1, now-1 in that order (a code is good once per step). The
   * previous step comes last: under load the clock may cross into the next step before the server checks
   * the code, and then now-1 has become too old while now and now+1 are still inside the window.
   */
  nextCode(): string;
}

let counter = 0;

export async function addApprover(store: Store, name = `approver-${process.pid}-${++counter}`): Promise<TestApprover> {
  const { uri } = await approvalsOf(store).addApprover(name);
  const secret = new URL(uri).searchParams.get('secret')!;
  const offsets = [0, 1, -1];
  return {
    name,
    secret,
    nextCode() {
      const offset = offsets.shift();
      if (offset === undefined) throw new Error('test approver used more than three times in one window: add another approver');
      return totp(secret, Date.now() + offset * totpPeriodSeconds * 1000);
    },
  };
}

/** GET a page as a browser would: returns the HTML and the cookie the server set (or the one given). */
export async function getPage(base: string, path: string, cookie?: string): Promise<{ status: number; html: string; cookie: string; headers: Headers }> {
  const response = await fetch(`${base}${path}`, { headers: cookie ? { cookie } : {} });
  const set = response.headers.get('set-cookie');
  return { status: response.status, html: await response.text(), cookie: set ? set.split(';')[0]! : cookie ?? '', headers: response.headers };
}

export function csrfIn(html: string): string {
  return /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
}

/** POST a form as a browser on the page would (same Origin, cookie, urlencoded). */
export async function postForm(base: string, path: string, fields: Record<string, string>, options: { cookie?: string; origin?: string | null } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (options.cookie) headers.cookie = options.cookie;
  if (options.origin !== null) headers.origin = options.origin ?? base;
  const response = await fetch(`${base}${path}`, { method: 'POST', headers, body: new URLSearchParams(fields).toString(), redirect: 'manual' });
  return { status: response.status, html: await response.text(), headers: response.headers };
}

/** An approver approves (or denies) on the page: open it, then send the form with a fresh code. */
export async function decideOnPage(base: string, id: string, approver: TestApprover, decision: 'approve' | 'deny' = 'approve') {
  const page = await getPage(base, `/approve/${id}`);
  return postForm(base, `/approve/${id}`, { csrf: csrfIn(page.html), approver: approver.name, code: approver.nextCode(), decision }, { cookie: page.cookie });
}

/** `npm run approve -- <args>` as the host CLI runs it (same function, this store). */
export async function approveCli(store: Store, ...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runApproveCli(store, args, { out: (text) => (out += text), user: 'test-admin' });
  return { code, out };
}

/**
 * A client that says yes to everything, as a script holding the token would: it accepts every
 * elicitation (form: confirm true; URL: accept) and collects the approval ids of the URLs it was sent.
 */
export async function connectAcceptingClient(mcpUrl: string, secret: string, era: Era, ids: Set<string>) {
  const client = await connectClient(mcpUrl, secret, era, { elicitation: { form: {}, url: {} } });
  client.setRequestHandler('elicitation/create', async (request) => {
    const params = request.params as { mode?: string; url?: string };
    if (params.url) ids.add(params.url.split('/').pop()!);
    return params.mode === 'url' ? { action: 'accept' } : { action: 'accept', content: { confirm: true } };
  });
  return client;
}
