/**
 * The proof gate of one call (lib/runtime/invoke.ts calls it when the policy says proof): find or
 * create the approval for exactly this token + tool + arguments, wait for the human's decision when
 * asked to, check that the target has not changed since the plan was shown, and use the approval once.
 * Nothing the client sends can approve: only a row an approver (page, TOTP) or the host CLI decided.
 */
import { ToolError } from '../errors.ts';
import { sleep } from '../abort.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { Caller, Plan } from '../tool.ts';
import { approvalsOf, type ApprovalRow } from './store.ts';

/** How long a pending approval waits for a human, and an approved one for its run. */
export const approvalTtlMs = 30 * 60_000;
/** Longest wait_seconds a call may ask for (the call's own timeout is far longer). */
export const maxWaitSeconds = 120;
/**
 * Brakes on one client token (issue 13 red team): at most this many of its approvals pending at once (more
 * would bury the approver's list and fill the database), and at most this many of its calls waiting for a
 * decision at once in this process (each wait holds a request open and polls the store); a further call
 * answers "still waiting" at once instead of waiting.
 */
export const approvalLimits = { pendingPerToken: 20, waitsPerToken: 3 };
const waiting = new Map<string, number>();

export const approvalSettingKey = 'approval.public_url';

/**
 * After a URL elicitation the client retries at once, often before the approver has typed the code:
 * that retry waits this long for the decision before answering "still waiting" (tests shorten it).
 */
export const approvalTimings = { afterUrlElicitationSeconds: 30 };

/** Where the approval page is, as a client's user can open it. */
export async function approvalBaseUrl(runtime: Pick<Runtime, 'config' | 'store'>, hostHint?: string): Promise<string> {
  const configured = await runtime.store.settings.get<string>(approvalSettingKey).catch(() => undefined);
  if (typeof configured === 'string' && /^https?:\/\//.test(configured)) return configured.replace(/\/+$/, '');
  if (hostHint && /^[A-Za-z0-9.\-:[\]]+$/.test(hostHint)) return `http://${hostHint}`;
  const { host, port, allowedHosts } = runtime.config;
  const name = host === '0.0.0.0' || host === '::' ? (allowedHosts[0] ?? 'localhost') : host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}

export function approvalPath(id: string): string {
  return `/approve/${encodeURIComponent(id)}`;
}

export interface GateInput {
  runtime: Runtime;
  caller: Caller;
  tool: string;
  argsHash: string;
  /** Redacted arguments as JSON, for the page. */
  args: string;
  plan: Plan;
  reason: string;
  digest: string;
  /** The id the client passed back (argument confirmation_id, X-Confirmation-Id, or requestState). */
  approvalId?: string;
  waitMs: number;
  signal: AbortSignal;
  hostHint?: string;
  /**
   * The call as it runs (arguments and plan before secrets were masked): what the approver is shown must
   * be this call with only secrets hidden, never with shell syntax hidden along with them.
   */
  raw?: { input: unknown; plan: Plan };
  /** Progress while waiting (MCP progress notifications keep a client's request timeout from firing). */
  progress?: (update: { progress: number; total?: number; message?: string }) => void;
}

/**
 * The shell control characters of a text that are outside single quotes, in order (`;`, `&`, `|`, `$`,
 * backquote, parentheses, redirections, line breaks; `$` and backquote count inside double quotes, where
 * the shell still expands them), with every quote delimiter, backslash escape and break between words.
 */
export function shellControls(text: string): string {
  let out = '';
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote === "'") {
      if (ch === "'") {
        quote = null;
        out += ch;
      }
      continue;
    }
    if (ch === '\\') {
      // an escape, and what it escapes: removing one would change how the rest reads
      out += ch + (text[i + 1] ?? '');
      i++;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') {
        quote = null;
        out += ch;
      } else if (ch === '$' || ch === '`') out += ch;
      continue;
    }
    // Word breaks count: a mask that ran over several words hid arguments (`-H X-API-Key:abc http://x -o FILE`).
    if (ch === ' ' || ch === '\t') {
      if (text[i - 1] !== ' ' && text[i - 1] !== '\t') out += ' ';
      continue;
    }
    // Quote delimiters count too: a mask that took one away would turn quoted text into commands.
    if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (';&|`$()<>\n\r'.includes(ch)) out += ch;
  }
  return out;
}

const redactedMarker = /^\[redacted[^\]]*\]$/;

/**
 * Where masking secrets also hid shell syntax (issue 13 red team): `curl -H X-API-Key:abc;rm -rf /x` was
 * shown to the approver as `curl -H X-API-Key:[redacted]`, so an approval given for the shown text ran
 * more. Walks the call as it runs beside the call as shown; a string masked whole (a secret-named
 * argument) is fine, a string masked in part must keep every shell control character outside quotes.
 * Returns the first such string as shown, or undefined.
 */
export function hiddenShellSyntax(raw: unknown, shown: unknown, depth = 0): string | undefined {
  if (depth > 12) return undefined;
  if (typeof raw === 'string') {
    if (typeof shown !== 'string' || shown === raw || redactedMarker.test(shown.trim())) return undefined;
    return shellControls(raw) === shellControls(shown) ? undefined : shown;
  }
  if (Array.isArray(raw)) {
    if (!Array.isArray(shown)) return undefined;
    for (let i = 0; i < raw.length; i++) {
      const found = hiddenShellSyntax(raw[i], shown[i], depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (raw && typeof raw === 'object') {
    if (!shown || typeof shown !== 'object') return undefined;
    for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
      const found = hiddenShellSyntax(value, (shown as Record<string, unknown>)[key], depth + 1);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

export type GateResult = { ok: true; row: ApprovalRow } | { ok: false; error: ToolError; approvalId?: string; url?: string };

async function waitForDecision(input: GateInput, id: string): Promise<ApprovalRow | undefined> {
  const store = approvalsOf(input.runtime.store);
  const token = input.caller.tokenId;
  const busy = waiting.get(token) ?? 0;
  // Too many waits of this token already: answer now (the client asks again later).
  if (busy >= approvalLimits.waitsPerToken) return store.get(id);
  waiting.set(token, busy + 1);
  try {
    const started = Date.now();
    const until = started + input.waitMs;
    let row = await store.get(id);
    let polls = 0;
    while (row?.status === 'pending' && Date.now() < until && !input.signal.aborted) {
      await sleep(Math.min(500, Math.max(0, until - Date.now())));
      row = await store.get(id);
      if (++polls % 10 === 0) {
        input.progress?.({ progress: Math.round((Date.now() - started) / 1000), total: Math.round(input.waitMs / 1000), message: `Waiting for an approver to decide ${id}` });
      }
    }
    return row;
  } finally {
    const left = (waiting.get(token) ?? 1) - 1;
    if (left > 0) waiting.set(token, left);
    else waiting.delete(token);
  }
}

/** How many calls of a token wait for a decision right now in this process (tests). */
export function waitsOf(tokenId: string): number {
  return waiting.get(tokenId) ?? 0;
}

async function required(input: GateInput, row: ApprovalRow, lead: string): Promise<GateResult> {
  const url = `${await approvalBaseUrl(input.runtime, input.hostHint)}${approvalPath(row.id)}`;
  const message =
    `${lead}${input.plan.summary}. This needs proof that a human approved it (${input.reason}): an approver opens ${url} and approves with their authenticator code, ` +
    `or an admin runs \`npm run approve -- yes ${row.id}\` on the host. Then call ${input.tool} again with the same arguments and "confirmation_id": "${row.id}" ` +
    `(add "wait_seconds": up to ${maxWaitSeconds} to wait for the decision on the same call). Answering a prompt yourself does not count.`;
  return {
    ok: false,
    approvalId: row.id,
    url,
    error: new ToolError('approval_required', message, {
      details: { approval_id: row.id, approval_url: url, expires_at: new Date(row.expiresAt).toISOString(), strength: 'proof', reason: input.reason, plan: input.plan },
      suggestions: [`Show the user this link: ${url}`, `Wait for the decision: call again with "confirmation_id": "${row.id}" and "wait_seconds": 60.`],
    }),
  };
}

async function create(input: GateInput, reuse = true): Promise<ApprovalRow> {
  const store = approvalsOf(input.runtime.store);
  await store.pruneNow();
  if (reuse) {
    const same = await store.pendingFor({ tokenId: input.caller.tokenId, tool: input.tool, argsHash: input.argsHash, targetDigest: input.digest });
    if (same) return same;
  }
  const pending = await store.countPendingFor(input.caller.tokenId);
  if (pending >= approvalLimits.pendingPerToken) {
    await store.event({ actor: input.caller.name, how: `client:${input.caller.door}`, outcome: 'refused', message: `${input.tool}: ${pending} approvals of this client are pending already; no new one` });
    throw new ToolError(
      'conflict',
      `${pending} approvals of client '${input.caller.name}' are waiting for a decision already, the most one client may have. Nothing was run and no new approval was asked for. Wait until an approver decides (or they expire after ${approvalTtlMs / 60_000} minutes), or repeat one of those calls with its confirmation_id.`,
    );
  }
  return store.create({
    tokenId: input.caller.tokenId,
    client: input.caller.name,
    tool: input.tool,
    argsHash: input.argsHash,
    args: input.args,
    plan: JSON.stringify(input.plan),
    reason: input.reason,
    targetDigest: input.digest,
    ttlMs: approvalTtlMs,
  });
}

export async function proofGate(input: GateInput): Promise<GateResult> {
  const store = approvalsOf(input.runtime.store);
  if (input.raw) {
    let shownArgs: unknown = input.args;
    try {
      shownArgs = JSON.parse(input.args);
    } catch {
      // compared as text
    }
    // The arguments, as the page shows them under "Exact arguments" (the plan is rendered from them, with
    // quotes dropped, so a quoted secret holding a ';' would look like syntax there).
    const hidden = hiddenShellSyntax(input.raw.input, shownArgs);
    if (hidden !== undefined) {
      await store.event({ approvalId: input.approvalId ?? null, actor: input.caller.name, how: `client:${input.caller.door}`, outcome: 'refused', message: `${input.tool}: a secret's mask would hide shell syntax from the approver (${hidden})` });
      return {
        ok: false,
        error: new ToolError(
          'invalid_input',
          `${input.tool} cannot be shown to an approver as it would run: hiding a secret in it also hides shell syntax next to it (shown as: ${hidden.slice(0, 200)}). Nothing was run and no approval was asked for. Quote the secret, or put a space between it and the next command (e.g. -H 'X-API-Key: ...' ; next).`,
        ),
      };
    }
  }
  const expected = { tokenId: input.caller.tokenId, tool: input.tool, argsHash: input.argsHash };
  let row: ApprovalRow | undefined;
  if (input.approvalId) {
    row = await store.get(input.approvalId);
    const refuse = async (why: string) => {
      await store.event({ approvalId: input.approvalId, actor: input.caller.name, how: `client:${input.caller.door}`, outcome: 'refused', message: `${input.tool}: ${why}` });
      return { ok: false as const, error: new ToolError('invalid_input', `Approval ${input.approvalId} ${why}. Nothing was run. Call ${input.tool} again without it to ask for a new approval.`) };
    };
    if (!row) {
      // A form-elicitation id (confirm_...) from safe mode is no proof either.
      return refuse('is not known (only an approval a human approved on the approval page or on the host counts as proof)');
    }
    if (row.tokenId !== expected.tokenId || row.tool !== expected.tool || row.argsHash !== expected.argsHash) {
      return refuse('was issued for another client, tool or other arguments');
    }
    if (row.status === 'pending' && input.waitMs > 0) row = (await waitForDecision(input, row.id)) ?? row;
    switch (row.status) {
      case 'pending':
        return required(input, row, 'Still waiting for a human: ');
      case 'denied':
        await store.event({ approvalId: row.id, actor: input.caller.name, how: `client:${input.caller.door}`, outcome: 'refused', message: `${input.tool}: approval was denied` });
        return { ok: false, error: new ToolError('forbidden', `${row.decidedBy ?? 'An approver'} denied ${input.tool} (${row.id}). Nothing was run.`) };
      case 'used':
        return refuse('was already used');
      case 'expired':
        return refuse('has expired');
      case 'void':
        return refuse('no longer counts: the target changed after it was asked for');
      default:
        break;
    }
  } else {
    row = await create(input);
    if (input.waitMs > 0) row = (await waitForDecision(input, row.id)) ?? row;
    if (row.status !== 'approved') {
      if (row.status === 'denied') return { ok: false, error: new ToolError('forbidden', `${row.decidedBy ?? 'An approver'} denied ${input.tool} (${row.id}). Nothing was run.`) };
      return required(input, row, 'Approval needed: ');
    }
  }
  // Approved: the target must still be what the approver was shown.
  if (row.targetDigest !== input.digest) {
    await store.voidApproval(row.id);
    await store.event({ approvalId: row.id, actor: input.caller.name, how: `client:${input.caller.door}`, outcome: 'void', message: `${input.tool}: the target changed after the plan was shown; asked again` });
    const fresh = await create(input);
    return required(input, fresh, `The target changed since ${row.id} was approved, so that approval no longer counts and a human is asked again: `);
  }
  const used = await store.use(row.id, expected);
  if (!used.ok) {
    return { ok: false, error: new ToolError('invalid_input', `Approval ${row.id} ${used.reason === 'used' ? 'was already used' : `cannot be used (${used.reason})`}. Nothing was run.`) };
  }
  return { ok: true, row: used.row };
}
