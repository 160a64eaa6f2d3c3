import { z } from 'zod';
import { defineTool, effectOfCall, type ConfirmationPolicy, type Effect, type Mode, type ToolContext } from '../lib/tool.ts';
import { requiredStrength } from '../lib/approval/policy.ts';
import { ToolError, toToolError } from '../lib/errors.ts';
import { nodeName } from '../lib/schemas.ts';
import { explainCommandLine } from '../lib/exec/explain.ts';
import { loadKnowledge } from '../lib/knowledge.ts';
import { refusalFor, vetCommandLine } from '../lib/policy/command-guard.ts';
import { mainNodeResolver } from '../lib/policy/protections.ts';
import { planText } from '../lib/policy/plan-text.ts';
import { parseArguments } from '../lib/runtime/invoke.ts';

const part = z.object({
  text: z.string(),
  what: z.string(),
  level: z.string(),
  risk: z.string(),
  reversible: z.boolean().nullable(),
  undo: z.string().nullable(),
  safer_alternative: z.string().nullable(),
  api: z.string().nullable(),
  options: z.array(z.object({ option: z.string(), value: z.string().nullable(), meaning: z.string().nullable() })),
  arguments: z.array(z.object({ value: z.string(), meaning: z.string().nullable(), dynamic: z.boolean() })),
  recognised: z.boolean(),
  reasons: z.array(z.string()),
  notes: z.array(z.string()),
});

const verdictSchema = z.object({
  /** What would happen if this caller ran it now. */
  outcome: z.enum(['runs', 'needs_confirmation', 'refused_by_mode', 'refused_protected', 'refused_invalid']),
  why: z.string(),
});

type Verdict = z.infer<typeof verdictSchema>;

function verdictFor(effect: Effect, mode: Mode, policy: string, refusal?: ToolError, canAsk = false): Verdict {
  if (refusal) {
    return refusal.code === 'protected'
      ? { outcome: 'refused_protected', why: refusal.message }
      : refusal.code === 'mode_denied' || refusal.code === 'forbidden'
        ? { outcome: 'refused_by_mode', why: refusal.message }
        : { outcome: 'refused_invalid', why: refusal.message };
  }
  if (mode === 'read-only' && effect !== 'read') return { outcome: 'refused_by_mode', why: `This client is in read-only mode and this is a ${effect === 'write' ? 'change' : 'destructive change'}.` };
  // The runtime's own rule (lib/approval/policy.ts), with the token's default proof setting.
  const decision = requiredStrength({ policy: policy as ConfirmationPolicy, effect, mode, proof: 'default', canAsk });
  if (decision.strength === 'proof') return { outcome: 'needs_confirmation', why: `Needs proof that a human approved it (${decision.reason}): an approver on the approval page, or an admin on the host. Nothing the agent sends counts.` };
  if (decision.strength === 'ask') return { outcome: 'needs_confirmation', why: 'Safe mode: the client asks its user before it runs.' };
  return { outcome: 'runs', why: effect === 'read' ? 'It only reads.' : 'Normal mode: changes run, with warnings.' };
}

const levelEffect: Record<string, Effect> = { read: 'read', write: 'write', destructive: 'destructive', forbidden: 'destructive' };

async function explainLine(line: string, node: string | undefined, ctx: ToolContext) {
  const knowledge = ctx.services.knowledge ?? loadKnowledge();
  const mainNode = await mainNodeResolver(ctx.pve, ctx.config.mainNode)();
  // the same decision execute_command makes (lib/policy/command-guard.ts), for this caller
  const verdict = await vetCommandLine(line, node ?? mainNode ?? 'localhost', { pve: ctx.pve, mainNode, knowledge, settings: ctx.services.store?.settings, caller: ctx.caller });
  const explanation = explainCommandLine(line, knowledge, verdict.context);
  const findings = verdict.protectedReasons;
  const refusal = refusalFor(verdict, ctx.caller);
  const forbidden = explanation.level === 'forbidden' || findings.length > 0;
  const effect = levelEffect[explanation.level];
  return {
    kind: 'command' as const,
    subject: line,
    level: forbidden ? 'forbidden' : explanation.level,
    effect,
    summary: explanation.summary,
    risk: forbidden ? 'high' : explanation.risk,
    reversible: explanation.reversible,
    undo: explanation.undo,
    safer_alternatives: explanation.saferAlternatives,
    unknown_parts: explanation.unrecognised,
    reasons: [...new Set([...findings, ...explanation.reasons, ...verdict.classification.featureReasons.map((reason) => `needs a grant: ${reason}`)])],
    parts: explanation.parts.map((p) => ({
      text: p.text,
      what: p.what,
      level: p.level,
      risk: p.risk,
      reversible: p.reversible,
      undo: p.undo ?? null,
      safer_alternative: p.saferAlternative ?? null,
      api: p.api ?? null,
      options: p.options.map((o) => ({ option: o.option, value: o.value ?? null, meaning: o.meaning ?? null })),
      arguments: p.arguments.map((a) => ({ value: a.value, meaning: a.meaning ?? a.name ?? null, dynamic: a.dynamic })),
      recognised: p.recognised,
      reasons: p.reasons,
      notes: [...p.notes, ...(p.wrappers.length ? [`run through ${p.wrappers.join(' > ')}`] : []), ...(p.connector && p.connector !== 'newline' ? [`followed by ${p.connector}`] : [])],
    })),
    api_calls: [...new Set([...verdict.apiRequests, ...explanation.parts.map((p) => p.api).filter((api): api is string => Boolean(api))])],
    cli_equivalent: line,
    verdict: verdictFor(effect, ctx.caller.mode, 'mode', refusal, ctx.caller.canElicit),
  };
}

async function explainToolCall(name: string, args: Record<string, unknown>, ctx: ToolContext) {
  const tool = ctx.services.tools?.get(name);
  if (!tool) throw new ToolError('not_found', `There is no tool "${name}" on this server; list the tools to see their names.`);
  let input: Record<string, unknown>;
  try {
    input = parseArguments(tool, args).input;
  } catch (error) {
    const refusal = toToolError(error);
    return {
      kind: 'tool_call' as const,
      subject: `${name} ${JSON.stringify(args)}`,
      level: tool.effect,
      effect: tool.effect,
      summary: `${tool.title}: these arguments are not valid, so it would not run. ${refusal.message}`,
      risk: 'none',
      reversible: null,
      undo: [],
      safer_alternatives: [],
      unknown_parts: [],
      reasons: [refusal.message],
      parts: [],
      api_calls: [],
      cli_equivalent: null,
      verdict: verdictFor(tool.effect, ctx.caller.mode, 'mode', refusal, ctx.caller.canElicit),
    };
  }
  const effect = effectOfCall(tool, input);
  const policy = tool.confirmation ? tool.confirmation(input as never, ctx) : 'mode';
  let refusal: ToolError | undefined;
  let plan;
  try {
    plan = tool.explain ? await tool.explain(input as never, ctx) : undefined;
  } catch (error) {
    refusal = toToolError(error);
  }
  const summary = plan ? planText(plan) : refusal ? refusal.message : `${tool.title}: ${tool.description}`;
  return {
    kind: 'tool_call' as const,
    subject: `${name} ${JSON.stringify(input)}`,
    level: refusal?.code === 'protected' ? 'forbidden' : effect,
    effect,
    summary,
    risk: plan?.risk ?? (refusal?.code === 'protected' ? 'high' : effect === 'destructive' ? 'high' : effect === 'write' ? 'medium' : 'none'),
    reversible: plan ? plan.reversible : effect === 'read' ? true : null,
    undo: plan?.undo ? [plan.undo] : [],
    safer_alternatives: [],
    unknown_parts: [],
    reasons: [...(plan?.warnings ?? []), ...(refusal ? [refusal.message] : [])],
    parts: [],
    api_calls: plan?.apiCalls ?? [],
    cli_equivalent: plan?.cliEquivalent ?? null,
    verdict: verdictFor(effect, ctx.caller.mode, policy, refusal, ctx.caller.canElicit),
  };
}

export default defineTool({
  name: 'explain_command',
  title: 'Explain a shell command or a tool call before running it',
  description:
    'Explain, without running anything, what a shell command line (as execute_command would run it) or a call of one of this server\'s tools would do: ' +
    'every part of it, the risk, whether and how it can be undone, a safer alternative, which parts are unknown, and whether this client could run it now ' +
    '(or would be asked to confirm, or refused). Give either command (and optionally node) or tool with arguments.',
  input: z.object({
    command: z.string().min(1).max(8192).optional().describe('A shell command line, e.g. "qm destroy 101 --purge"'),
    node: nodeName.optional().describe('For a command: the node it would run on (default: the main node)'),
    tool: z.string().max(64).optional().describe('For a tool call: the tool name, e.g. "proxmox_api"'),
    arguments: z.record(z.string(), z.unknown()).optional().describe('For a tool call: its arguments'),
  }),
  output: z.object({
    kind: z.enum(['command', 'tool_call']),
    subject: z.string(),
    level: z.string(),
    effect: z.enum(['read', 'write', 'destructive']),
    summary: z.string(),
    risk: z.string(),
    reversible: z.boolean().nullable(),
    undo: z.array(z.string()),
    safer_alternatives: z.array(z.string()),
    unknown_parts: z.array(z.string()),
    reasons: z.array(z.string()),
    parts: z.array(part),
    api_calls: z.array(z.string()),
    cli_equivalent: z.string().nullable(),
    verdict: verdictSchema,
  }),
  effect: 'read',
  async run(input, ctx) {
    if ((input.command === undefined) === (input.tool === undefined)) {
      throw new ToolError('invalid_input', 'Give either "command" (a shell command line) or "tool" with "arguments" (a tool call), not both and not neither.');
    }
    const data = input.command !== undefined ? await explainLine(input.command, input.node, ctx) : await explainToolCall(input.tool as string, input.arguments ?? {}, ctx);
    return {
      data,
      summary: `${data.subject.slice(0, 80)}: ${data.level}, risk ${data.risk}; ${data.verdict.outcome.replace(/_/g, ' ')}`,
      explanation: data.summary,
    };
  },
});
