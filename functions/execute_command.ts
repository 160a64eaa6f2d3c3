import { z } from 'zod';
import { defineTool, type Effect, type Plan, type ToolContext } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { nodeName } from '../lib/schemas.ts';
import { classifyCommandLine, type Classification, type ClassifyContext } from '../lib/exec/classify.ts';
import { explainCommandLine } from '../lib/exec/explain.ts';
import { loadKnowledge } from '../lib/knowledge.ts';
import { refusalFor, vetCommandLine } from '../lib/policy/command-guard.ts';
import { mainNodeResolver, protectedUser } from '../lib/policy/protections.ts';

const effectByLevel: Record<Classification['level'], Effect> = { read: 'read', write: 'write', destructive: 'destructive', forbidden: 'destructive' };

interface Vetted {
  classification: Classification;
  context: ClassifyContext;
  /** The API requests its Proxmox CLI commands make (parameter names only). */
  apiRequests: string[];
}

/**
 * The one decision (lib/policy/command-guard.ts): classify (reads are an allow-list), translate the
 * Proxmox CLIs into API requests for the API policy, check the per-token shell feature grants, the role
 * and the mode; refuse what must not run.
 */
async function vet(input: { node: string; command: string }, ctx: ToolContext): Promise<Vetted> {
  const mainNode = await mainNodeResolver(ctx.pve, ctx.config.mainNode)();
  const verdict = await vetCommandLine(input.command, input.node, {
    pve: ctx.pve,
    mainNode,
    knowledge: ctx.services.knowledge,
    settings: ctx.services.store?.settings,
    caller: ctx.caller,
  });
  const refusal = refusalFor(verdict, ctx.caller);
  if (refusal) throw refusal;
  return { classification: verdict.classification, context: verdict.context, apiRequests: verdict.apiRequests };
}

/** The plan a person confirms: the explanation lib/exec/explain.ts gives, from the same verdict. */
function planFor(input: { node: string; command: string }, vetted: Vetted, ctx: ToolContext): Plan {
  const knowledge = ctx.services.knowledge ?? loadKnowledge();
  const explanation = explainCommandLine(input.command, knowledge, vetted.context);
  const level = vetted.classification.level;
  const parts = explanation.parts.map((part) => `${part.text}: ${part.what}${part.recognised ? '' : ' (not in the knowledge base)'}`);
  return {
    summary: `Run \`${input.command}\` on node ${input.node} as the proxmox-mcp user. ${explanation.summary}`,
    cliEquivalent: input.command,
    apiCalls: [...new Set([...vetted.apiRequests, ...explanation.parts.map((part) => part.api).filter((api): api is string => Boolean(api))])],
    risk: explanation.risk,
    reversible: explanation.reversible ?? level !== 'destructive',
    ...(explanation.undo.length ? { undo: explanation.undo.join(' ') } : {}),
    warnings: [
      ...vetted.classification.reasons,
      ...(parts.length > 1 ? parts.map((part) => `Part: ${part}`) : []),
      ...explanation.saferAlternatives.map((alternative) => `Safer: ${alternative}`),
      ...(explanation.unrecognised.length ? [`Not in the knowledge base: ${explanation.unrecognised.join(', ')}`] : []),
    ],
  };
}

export default defineTool({
  name: 'execute_command',
  title: 'Run a shell command on a Proxmox node',
  description:
    'Run one command line on a cluster node over SSH, as the restricted proxmox-mcp user (host key pinned, time and output bounded). ' +
    'Every command in the line is classified: plain reads (allow-listed programs and options) run in every mode and for viewers, changes follow the mode, ' +
    'Proxmox CLI lines are judged as the API requests they make, and what touches protected objects never runs. ' +
    'Interpreter code, eval, decoded scripts, /etc/pve writes and API calls via curl need an admin grant per token. ' +
    'Returns exit code, stdout, stderr, duration and whether output was cut or the time ran out. Prefer the typed tools when one fits.',
  input: z.object({
    node: nodeName.describe('The node to run it on, e.g. pve1'),
    command: z.string().min(1).max(8192).describe('One shell command line, e.g. "pvesm status" or "zpool status -x"'),
    timeout_seconds: z.coerce.number().int().min(1).max(3600).default(60).describe('Kill the command after this many seconds (default 60)'),
    max_output_bytes: z.coerce.number().int().min(1024).max(16 * 1024 * 1024).default(1024 * 1024).describe('Keep at most this many bytes of stdout and of stderr (default 1 MiB)'),
  }),
  output: z.object({
    node: z.string(),
    host: z.string(),
    command: z.string(),
    level: z.enum(['read', 'write', 'destructive']),
    exit_code: z.number().nullable(),
    signal: z.string().nullable(),
    stdout: z.string(),
    stderr: z.string(),
    stdout_truncated: z.boolean(),
    stderr_truncated: z.boolean(),
    duration_ms: z.number(),
    timed_out: z.boolean(),
    cancelled: z.boolean(),
  }),
  effect: 'destructive',
  // viewers may run plain reads (the allow-list) and nothing else
  changeRoles: ['admin', 'operator'],
  effectOf: (input) => {
    try {
      return effectByLevel[classifyCommandLine(input.command, { protectedUsers: [protectedUser] }).level];
    } catch {
      return 'destructive';
    }
  },
  idempotent: false,
  async explain(input, ctx) {
    return planFor(input, await vet(input, ctx), ctx);
  },
  async run(input, ctx) {
    const { classification } = await vet(input, ctx);
    const exec = ctx.services.exec;
    if (!exec) {
      throw new ToolError('unavailable', 'Running host commands is not set up on this server: SSH_KEY_FILE and SSH_KNOWN_HOSTS are not configured (or not readable).', {
        suggestions: ['Run ./setup.sh on the Proxmox host: it creates the restricted proxmox-mcp user, its SSH key and the pinned host keys.', 'Or use the typed tools and proxmox_api, which need no SSH.'],
      });
    }
    const result = await exec.run({
      node: input.node,
      command: input.command,
      timeoutMs: input.timeout_seconds * 1000,
      maxOutputBytes: input.max_output_bytes,
      signal: ctx.signal,
    });
    const warnings: string[] = [];
    if (result.timedOut) warnings.push(`The command was killed after ${input.timeout_seconds} s (timeout_seconds).`);
    if (result.cancelled) warnings.push('The call was cancelled; the command was killed.');
    if (result.stdoutTruncated || result.stderrTruncated) warnings.push(`Output was cut at ${input.max_output_bytes} bytes per stream (max_output_bytes).`);
    if (result.exitCode !== null && result.exitCode !== 0) warnings.push(`The command exited with code ${result.exitCode}; see stderr.`);
    const level = classification.level === 'forbidden' ? 'destructive' : classification.level;
    return {
      data: {
        node: result.node,
        host: result.host,
        command: input.command,
        level,
        exit_code: result.exitCode,
        signal: result.signal ?? null,
        stdout: result.stdout,
        stderr: result.stderr,
        stdout_truncated: result.stdoutTruncated,
        stderr_truncated: result.stderrTruncated,
        duration_ms: result.durationMs,
        timed_out: result.timedOut,
        cancelled: result.cancelled,
      },
      stdout: result.stdout,
      stderr: result.stderr,
      summary: result.timedOut ? `${input.node}: timed out after ${input.timeout_seconds} s` : `${input.node}: exit ${result.exitCode ?? result.signal ?? '?'} in ${result.durationMs} ms`,
      warnings,
      node: input.node,
    };
  },
});
