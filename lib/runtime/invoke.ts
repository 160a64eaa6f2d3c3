/**
 * One call, whichever door it came through: parse the arguments -> role -> mode -> Proxmox privileges
 * -> confirmation -> run (with protections on every Proxmox request) -> history -> response envelope.
 * No handler repeats any of this, and no door does it differently.
 */
import { z } from 'zod';
import { ToolError, toToolError } from '../errors.ts';
import { effectOfCall, inToolsets, type AnyTool, type Caller, type Effect, type Mode, type Plan, type Progress, type ToolContext, type ToolOutcome } from '../tool.ts';
import type { CallRecord } from '../store/history.ts';
import { redactArgs } from './redact-args.ts';
import { normalModeWarnings, planText } from '../policy/plan-text.ts';
import { maskKnown, redactStrings, redactText, secretsIn } from '../policy/redact-text.ts';
import { callerScope } from '../policy/caller-scope.ts';
import type { Runtime } from './runtime.ts';
import { learningFor, learningForError } from '../learning.ts';
import { requiredStrength, type ProofSetting } from '../approval/policy.ts';
import { maxWaitSeconds, proofGate } from '../approval/gate.ts';
import { targetDigest } from '../approval/digest.ts';
import { acceptProxmoxNames, refuseUnknownArguments } from './strict-input.ts';

/** The response envelope (DESIGN.md), the same through MCP (structuredContent) and REST (JSON body). */
export interface Envelope {
  success: boolean;
  data: unknown;
  stdout?: string;
  stderr?: string;
  /** Milliseconds. */
  execution_time: number;
  timestamp: string;
  mode: Mode;
  explanation?: string;
  warnings: string[];
  suggestions: string[];
  error?: { code: string; message: string; details?: Record<string, unknown> };
  /** Learning mode only: what was done in plain words, the equivalent CLI command, what to look at next. */
  learning?: { explanation: string; cli_equivalent?: string; next?: string[] };
}

export type CallResult =
  | { kind: 'ok'; envelope: Envelope; summary: string; images?: { mimeType: 'image/png'; data: string }[] }
  | { kind: 'error'; envelope: Envelope; error: ToolError }
  | { kind: 'needs_confirmation'; envelope: Envelope; error: ToolError; confirmationId: string; plan: Plan; humanOnly: boolean }
  /** Proof needed (issue 13): an approver must approve on the approval page (url) or on the host. */
  | { kind: 'needs_approval'; envelope: Envelope; error: ToolError; approvalId: string; url: string; plan: Plan };

export interface InvokeOptions {
  signal?: AbortSignal;
  progress?: (update: Progress) => void;
  /** A confirmation id the caller passes back (argument `confirmation_id`, or accepted elicitation). */
  confirmationId?: string;
  /** True when confirmationId comes from a human's answer to an elicitation, not from the agent. */
  confirmedByHuman?: boolean;
  /** An approval id the client brings back (requestState of a URL elicitation); same as confirmation_id. */
  approvalId?: string;
  /** How long to wait for an approver's decision on this call (wait_seconds; bounded). */
  waitSeconds?: number;
  /** The Host the client reached this server at, for the approval page's URL. */
  hostHint?: string;
}

/** The runtime argument that waits, on the same call, for an approver's decision (seconds). */
export const waitArgument = 'wait_seconds';

export const confirmationArgument = 'confirmation_id';
/** Every argument the runtime takes beside a tool's own (strict-input.ts lets them through). */
export { runtimeArguments } from './strict-input.ts';

const modeAllows: Record<Mode, (effect: Effect) => boolean> = {
  'read-only': (effect) => effect === 'read',
  safe: () => true,
  normal: () => true,
};

/** Object arguments that arrive as JSON strings (some clients do that) are parsed before validation. */
function parseJsonStrings(tool: AnyTool, args: Record<string, unknown>): Record<string, unknown> {
  const shape = tool.input.shape as Record<string, z.ZodType>;
  const out: Record<string, unknown> = { ...args };
  for (const [key, value] of Object.entries(args)) {
    if (typeof value !== 'string' || !shape[key]) continue;
    const trimmed = value.trim();
    if (!(trimmed.startsWith('{') || trimmed.startsWith('['))) continue;
    if (shape[key].safeParse(value).success) continue;
    try {
      out[key] = JSON.parse(trimmed);
    } catch {
      // leave it; validation will say what is wrong
    }
  }
  return out;
}

export function formatIssues(issues: z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const where = issue.path.length ? issue.path.join('.') : 'arguments';
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

export function parseArguments(tool: AnyTool, raw: unknown): { input: Record<string, unknown>; confirmationId?: string; waitSeconds?: number } {
  let args: unknown = raw ?? {};
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      throw new ToolError('invalid_input', `The arguments of ${tool.name} are not valid JSON. Send an object such as {"vmid": 101}.`);
    }
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw new ToolError('invalid_input', `The arguments of ${tool.name} must be a JSON object.`);
  }
  const { [confirmationArgument]: confirmation, ...withWait } = args as Record<string, unknown>;
  // wait_seconds is the runtime's unless the tool takes its own (self_update): then it is both.
  const ownWait = waitArgument in (tool.input.shape as Record<string, unknown>);
  const { [waitArgument]: wait, ...withoutWait } = withWait;
  const rest = ownWait ? withWait : withoutWait;
  const waitSeconds = typeof wait === 'number' && Number.isFinite(wait) && wait > 0 ? Math.min(wait, maxWaitSeconds) : undefined;
  if (!ownWait && wait !== undefined && (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0)) {
    throw new ToolError('invalid_input', `Invalid arguments for ${tool.name}: wait_seconds must be a number of seconds (0-${maxWaitSeconds}).`);
  }
  const given = parseJsonStrings(tool, acceptProxmoxNames(tool.input.shape, rest));
  refuseUnknownArguments(tool.name, tool.input, given);
  const parsed = tool.input.safeParse(given);
  if (!parsed.success) {
    throw new ToolError('invalid_input', `Invalid arguments for ${tool.name}: ${formatIssues(parsed.error.issues)}`, {
      details: { issues: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })) },
    });
  }
  return { input: parsed.data as Record<string, unknown>, confirmationId: typeof confirmation === 'string' && confirmation ? confirmation : undefined, waitSeconds };
}

/** A stable hash of the arguments, so a confirmation covers exactly these. */
export async function hashArguments(tool: string, input: unknown): Promise<string> {
  const canonical = JSON.stringify(input, (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : value,
  );
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${tool}\n${canonical}`));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

function fallbackPlan(tool: AnyTool, input: unknown, effect: Effect): Plan {
  return {
    summary: `${tool.title}: ${JSON.stringify(redactArgs(input))}`,
    risk: effect === 'destructive' ? 'high' : effect === 'write' ? 'medium' : 'none',
    reversible: effect !== 'destructive',
  };
}

/**
 * The node and guest a call is about, for history filters, known before it runs: arguments named node
 * and vmid, or a Proxmox API path argument (proxmox_api) naming /nodes/{node}/{qemu|lxc}/{vmid}.
 */
function pickTarget(input: Record<string, unknown>): { node?: string; vmid?: number } {
  let node = typeof input.node === 'string' ? input.node : undefined;
  let vmid = typeof input.vmid === 'number' ? input.vmid : undefined;
  if (typeof input.path === 'string') {
    const match = /^\/*(?:api2\/json\/+)?nodes\/+([^/?]+)(?:\/+(?:qemu|lxc)\/+(\d+))?/i.exec(input.path);
    if (match) {
      node ??= match[1];
      if (vmid === undefined && match[2]) vmid = Number(match[2]);
    }
  }
  return { node, vmid };
}

/** The history row of a call: who, which door, which tool, the arguments with secrets redacted. */
function callRecord(callId: string, startedAt: number, tool: AnyTool, input: Record<string, unknown>, caller: Caller): CallRecord {
  return {
    callId,
    startedAt,
    client: caller.name,
    door: caller.door,
    tool: tool.name,
    args: JSON.stringify(redactStrings(redactArgs(input))),
    mode: caller.mode,
    ...pickTarget(input),
    requestId: caller.requestId,
  };
}

function baseEnvelope(mode: Mode, startedAt: number): Omit<Envelope, 'success' | 'data'> {
  return { execution_time: Math.round(performance.now() - startedAt), timestamp: new Date().toISOString(), mode, warnings: [], suggestions: [] };
}

function errorEnvelope(error: ToolError, mode: Mode, startedAt: number, plan?: Plan): Envelope {
  return {
    success: false,
    data: null,
    ...baseEnvelope(mode, startedAt),
    // A call waiting for a yes carries the whole plan in words: what, to what, risk, undo, API calls.
    // Errors carry no secret in clear (lib/policy/redact-text.ts), not even one the caller sent: they are
    // shown to approvers, copied into tickets and transcripts.
    explanation: plan ? redactText(error.code === 'confirmation_required' || error.code === 'approval_required' ? planText(plan) : plan.summary) : undefined,
    warnings: (plan?.warnings ?? []).map(redactText),
    suggestions: error.suggestions,
    error: { code: error.code, message: redactText(error.message), ...(error.details ? { details: redactStrings(error.details) as Record<string, unknown> } : {}) },
  };
}

/** The token's proof setting (set only from the host CLI); read fresh, it is one indexed row. */
async function proofSettingOf(runtime: Runtime, caller: Caller): Promise<ProofSetting> {
  const row = await runtime.store.tokens.byId(caller.tokenId).catch(() => undefined);
  return (row?.proof as ProofSetting | undefined) ?? 'default';
}

export async function invokeTool(runtime: Runtime, tool: AnyTool, rawArgs: unknown, caller: Caller, options: InvokeOptions = {}): Promise<CallResult> {
  const startedAt = performance.now();
  const startedAtMs = Date.now();
  const callId = crypto.randomUUID();
  let input: Record<string, unknown> = {};
  let plan: Plan | undefined;
  let record: CallRecord | undefined;
  let begun = false;
  let callEffect: Effect = tool.effect;
  const abort = new AbortController();
  const onAbort = () => abort.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => abort.abort(new DOMException('call timed out', 'TimeoutError')), runtime.callTimeoutMs);

  /** The exact secret values of this call's arguments (as sent and as parsed), masked wherever a text shows them. */
  const callSecrets = () => secretsIn(rawArgs, secretsIn(input));

  const finishError = (error: ToolError, outcome: 'error' | 'refused' | 'confirmation_required'): Envelope => {
    const secrets = callSecrets();
    const envelope = maskKnown(errorEnvelope(error, caller.mode, startedAt, plan), secrets);
    if (caller.learning) envelope.learning = maskKnown(learningForError({ tool, input, effect: callEffect, plan, error }), secrets);
    const end = { outcome, errorCode: error.code, message: maskKnown(redactText(error.message), secrets).slice(0, 1000), durationMs: envelope.execution_time };
    if (!record) {
      record = makeRecord();
    }
    if (begun) runtime.store.history.complete(callId, end);
    else runtime.store.history.record(record, end);
    return envelope;
  };

  const makeRecord = (): CallRecord => callRecord(callId, startedAtMs, tool, input, caller);
  /** The plan as it is stored (approvals, confirmations) and shown to an approver: no secret in clear. */
  const storablePlan = (shown: Plan): Plan => maskKnown(redactStrings(shown) as Plan, callSecrets());

  try {
    const parsed = parseArguments(tool, rawArgs);
    input = parsed.input;
    const confirmationId = options.confirmationId ?? parsed.confirmationId;
    record = makeRecord();

    if (tool.roles && !tool.roles.includes(caller.role)) {
      throw new ToolError('forbidden', `${tool.name} needs a client token with role ${tool.roles.join(' or ')}; this one (${caller.name}) is ${caller.role}.`);
    }
    // Toolsets: one rule for every door (MCP lists only the enabled ones; REST refuses the same calls).
    if (!inToolsets(tool, caller)) {
      throw new ToolError('forbidden', `${tool.name} is in the '${tool.toolset}' toolset, which this client token (${caller.name}) has not enabled. An admin enables it on the Proxmox MCP host: npm run token -- toolsets ${caller.name} ${tool.toolset}`, {
        suggestions: [`npm run token -- toolsets ${caller.name} ${tool.toolset} (add the others it already has, comma-separated; 'all' enables every toolset)`],
      });
    }
    const effect = effectOfCall(tool, input);
    callEffect = effect;
    if (effect !== 'read' && tool.changeRoles && !tool.changeRoles.includes(caller.role)) {
      throw new ToolError(
        'forbidden',
        `This ${tool.name} call changes the cluster and needs a client token with role ${tool.changeRoles.join(' or ')}; this one (${caller.name}) is ${caller.role}. The read actions stay available.`,
      );
    }
    if (!modeAllows[caller.mode](effect)) {
      throw new ToolError('mode_denied', `This client is in read-only mode, so ${tool.name} (${effect}) cannot run. Nothing was changed.`, {
        suggestions: ['Use the read tools, or raise the mode with toggle_mode (a human must confirm it).'],
      });
    }

    const pve = runtime.guardFor ? runtime.pve.withGuard(runtime.guardFor(caller, effect)) : runtime.pve;
    const ctx: ToolContext = {
      pve,
      config: runtime.config,
      log: runtime.log.child({ tool: tool.name, requestId: caller.requestId }),
      signal: abort.signal,
      caller,
      progress: options.progress ?? (() => undefined),
      services: runtime.services,
    };

    if (tool.privileges && runtime.permissions) {
      const needs = await tool.privileges(input as never, ctx);
      const verdict = await runtime.permissions.check(needs, abort.signal);
      if (!verdict.ok) throw new ToolError('forbidden', verdict.message, { suggestions: ['Grant the Proxmox token the missing privilege (see best_practices topic api-tokens), or use a tool that needs less.'] });
    }

    // Which strength of yes this call needs (lib/approval/policy.ts): none, ask (form elicitation) or
    // proof (an approver's code on the approval page, or the host CLI). Nothing the agent sends is proof.
    const policy = tool.confirmation ? tool.confirmation(input as never, ctx) : 'mode';
    const judged = policy !== 'none' && (effect !== 'read' || policy !== 'mode');
    const decision = judged
      ? requiredStrength({ policy, effect, mode: caller.mode, proof: await proofSettingOf(runtime, caller), canAsk: caller.canElicit })
      : { strength: 'none' as const, reason: '' };
    if (decision.strength !== 'none' || effect !== 'read' || caller.learning) {
      plan = tool.explain ? await callerScope.run({ role: caller.role, name: caller.name }, () => tool.explain!(input as never, ctx)) : fallbackPlan(tool, input, effect);
      // An explain that gives nothing must not skip the yes below (`&& plan`): fail closed.
      if (!plan || typeof plan !== 'object' || typeof plan.summary !== 'string') plan = fallbackPlan(tool, input, effect);
    }
    // The requests the plan names are judged now, by the guard that judges them when they are sent, so
    // a refusal comes before anyone is asked to confirm or approve (lib/policy/guard.ts).
    if (plan?.requests?.length && runtime.guardFor) {
      const guard = runtime.guardFor(caller, effect);
      for (const request of plan.requests) await callerScope.run({ role: caller.role, name: caller.name }, () => guard(request as never));
    }
    if (decision.strength === 'ask' && plan) {
      const argsHash = await hashArguments(tool.name, input);
      // Only the client's own answer to the elicitation we sent counts; an id typed into the arguments does not.
      if (confirmationId !== undefined && options.confirmedByHuman === true) {
        const redeemed = await runtime.store.confirmations.redeem(confirmationId, { tokenId: caller.tokenId, tool: tool.name, argsHash });
        if (!redeemed.ok) {
          const why = {
            unknown: 'is not known',
            expired: 'has expired',
            used: 'was already used',
            mismatch: 'was issued for another client, tool or other arguments',
          }[redeemed.reason];
          throw new ToolError('invalid_input', `Confirmation ${confirmationId} ${why}. Call ${tool.name} again without it to be asked again.`);
        }
        record.approvedBy = 'client user (elicitation)';
        record.approval = 'ask';
      } else {
        const issued = await runtime.store.confirmations.issue({ tokenId: caller.tokenId, tool: tool.name, argsHash, plan: storablePlan(plan), ttlMs: runtime.confirmationTtlMs });
        const error = new ToolError('confirmation_required', `Confirmation needed (safe mode): ${plan.summary}. The client asks its user.`, {
          details: { expires_at: new Date(issued.expiresAt).toISOString(), strength: 'ask', plan },
        });
        return { kind: 'needs_confirmation', envelope: finishError(error, 'confirmation_required'), error, confirmationId: issued.id, plan, humanOnly: false };
      }
    }
    if (decision.strength === 'proof' && plan) {
      const argsHash = await hashArguments(tool.name, input);
      const gate = await proofGate({
        runtime,
        caller,
        tool: tool.name,
        argsHash,
        args: record.args,
        plan: storablePlan(plan),
        raw: { input, plan },
        reason: decision.reason,
        digest: await targetDigest(tool.name, input, ctx, caller, plan),
        approvalId: options.approvalId ?? confirmationId,
        waitMs: Math.min(options.waitSeconds ?? parsed.waitSeconds ?? 0, maxWaitSeconds) * 1000,
        signal: abort.signal,
        hostHint: options.hostHint,
        progress: options.progress,
      });
      if (!gate.ok) {
        if (gate.error.code === 'approval_required' && gate.approvalId && gate.url) {
          return { kind: 'needs_approval', envelope: finishError(gate.error, 'confirmation_required'), error: gate.error, approvalId: gate.approvalId, url: gate.url, plan };
        }
        throw gate.error;
      }
      record.approvedBy = gate.row.decidedBy;
      record.approval = 'proof';
    }

    if (effect !== 'read') {
      await runtime.store.history.begin(record);
      begun = true;
    }
    const outcome: ToolOutcome<unknown> = await callerScope.run({ role: caller.role, name: caller.name }, () => tool.run(input as never, ctx));
    const envelope: Envelope = {
      success: true,
      data: outcome.data,
      ...(outcome.stdout !== undefined ? { stdout: outcome.stdout } : {}),
      ...(outcome.stderr !== undefined ? { stderr: outcome.stderr } : {}),
      ...baseEnvelope(caller.mode, startedAt),
      explanation: outcome.explanation ?? (effect !== 'read' ? plan?.summary : undefined),
      warnings: [...(caller.mode === 'normal' ? normalModeWarnings(plan, effect) : []), ...(outcome.warnings ?? [])],
      suggestions: outcome.suggestions ?? [],
    };
    if (caller.learning) envelope.learning = learningFor({ tool, input, effect, plan, outcome });
    const end = {
      outcome: 'ok' as const,
      durationMs: envelope.execution_time,
      upids: outcome.upids,
      node: outcome.node ?? null,
      vmid: outcome.vmid ?? null,
    };
    if (begun) runtime.store.history.complete(callId, end);
    else runtime.store.history.record({ ...record, node: outcome.node ?? record.node, vmid: outcome.vmid ?? record.vmid }, end);
    return { kind: 'ok', envelope, summary: outcome.summary ?? `${tool.name}: done`, ...(outcome.images?.length ? { images: outcome.images } : {}) };
  } catch (thrown) {
    let error = toToolError(thrown);
    if (abort.signal.aborted && error.code === 'internal') error = new ToolError('timeout', `${tool.name} was cancelled or ran out of time.`);
    if (error.code === 'internal') runtime.log.error('Tool failed unexpectedly', { tool: tool.name, requestId: caller.requestId, error: (thrown as Error)?.stack ?? String(thrown) });
    // The guard refuses (protected, mode_denied) before a request leaves, so those are refusals even
    // for a change already on record as running.
    const refused = (['invalid_input', 'forbidden'].includes(error.code) && !begun) || ['protected', 'mode_denied'].includes(error.code);
    return { kind: 'error', envelope: finishError(error, refused ? 'refused' : 'error'), error };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * The user said no to an elicitation (MCP): nothing runs, the confirmation id it was issued under can
 * no longer be used, and the refusal is on record like every other call.
 */
export async function recordDeclined(runtime: Runtime, tool: AnyTool, rawArgs: unknown, caller: Caller, confirmationId: string): Promise<Envelope> {
  const startedAt = performance.now();
  let input: Record<string, unknown> = {};
  try {
    input = parseArguments(tool, rawArgs).input;
    await runtime.store.confirmations.redeem(confirmationId, { tokenId: caller.tokenId, tool: tool.name, argsHash: await hashArguments(tool.name, input) });
  } catch {
    // arguments that do not parse were never confirmable; the id then expires unused
  }
  const error = new ToolError('confirmation_required', `The user declined ${tool.name}. Nothing was changed.`, { details: { declined: true } });
  const envelope = errorEnvelope(error, caller.mode, startedAt);
  envelope.error = { code: 'declined', message: error.message };
  runtime.store.history.record(callRecord(crypto.randomUUID(), Date.now(), tool, input, caller), {
    outcome: 'refused',
    errorCode: 'declined',
    message: error.message,
    durationMs: envelope.execution_time,
  });
  return envelope;
}
