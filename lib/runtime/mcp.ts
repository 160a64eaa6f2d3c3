/**
 * The MCP door: Streamable HTTP through the official SDK (v2), serving the 2026-07-28 revision and the
 * 2025 revisions (stateless) on one endpoint.
 *
 * About "build the server once": SDK v2 serves each HTTP exchange on its own McpServer instance and
 * refuses to reuse one that is still serving (assertNotServing), so instances cannot be shared between
 * concurrent requests. What we build once is everything that costs anything: the tool catalog with
 * its JSON Schemas computed at start-up, annotations, and the bound call handlers. The per-request
 * factory only hands those prebuilt registrations to a fresh, empty McpServer shell.
 */
import { z } from 'zod';
import { McpServer, acceptedContent, inputRequired, inputResponse, type CallToolResult, type ServerContext } from '@modelcontextprotocol/server';
import type { AnyTool, Caller } from '../tool.ts';
import { invokeTool, confirmationArgument, recordDeclined, waitArgument, type CallResult } from './invoke.ts';
import { approvalTimings, maxWaitSeconds } from '../approval/gate.ts';
import { planText } from '../policy/plan-text.ts';
import { envelopeSchema } from './envelope-schema.ts';
import { renderAnswer } from './render-text.ts';
import { trimInputSchema } from './schema-trim.ts';
import { visibleTo } from '../tool.ts';
import type { Runtime } from './runtime.ts';

/** Where the resources/prompts features plug in (issue 9): called for every per-request instance. */
export type McpExtension = (server: McpServer, runtime: Runtime, caller: Caller | undefined) => void;

interface StandardJson {
  readonly '~standard': {
    version: 1;
    vendor: string;
    validate: (value: unknown) => { value: unknown };
    jsonSchema: { input: () => Record<string, unknown>; output: () => Record<string, unknown> };
  };
}

/**
 * A schema the SDK advertises but does not validate with: arguments are validated by invokeTool (which
 * also accepts object arguments sent as JSON strings and words its errors for people), and the
 * envelope we return is built by us.
 */
function prebuiltSchema(build: () => Record<string, unknown>): StandardJson {
  // Converted on first use and kept: start-up does not pay for tools nobody lists or calls.
  let json: Record<string, unknown> | undefined;
  const get = () => (json ??= build());
  return {
    '~standard': {
      version: 1,
      vendor: 'proxmox-mcp',
      validate: (value) => ({ value }),
      jsonSchema: { input: get, output: get },
    },
  };
}

export function inputJsonSchema(tool: AnyTool): Record<string, unknown> {
  const own = tool.input.shape as Record<string, unknown>;
  const schema = tool.effect === 'read' ? tool.input : tool.input.extend({
    [confirmationArgument]: z
      .string()
      .optional()
      .describe('Only when a previous call answered "approval_required": the approval id it gave. It runs only once a human approved it on the approval page or on the host.'),
    ...(waitArgument in own
      ? {}
      : {
          [waitArgument]: z
            .number()
            .min(0)
            .max(maxWaitSeconds)
            .optional()
            .describe(`When the call needs a human's approval: wait up to this many seconds (max ${maxWaitSeconds}) for the decision, and run if approved.`),
        }),
  });
  const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

export function outputJsonSchema(tool: AnyTool): Record<string, unknown> {
  const json = z.toJSONSchema(envelopeSchema(tool.output), { io: 'output', target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

export function annotationsFor(tool: AnyTool) {
  // The tool's title is beside the annotations already; saying it twice costs every listing.
  return {
    readOnlyHint: tool.effect === 'read',
    destructiveHint: tool.effect === 'destructive',
    idempotentHint: tool.idempotent ?? tool.effect === 'read',
    openWorldHint: tool.openWorld ?? false,
  };
}

/**
 * Default answers stay under 40,000 characters (issue 15); a bigger one only comes from a caller that
 * asked for it (a large limit), so say so to Claude Code, which would otherwise cut it.
 */
const defaultAnswerChars = 40_000;

function largeAnswerMeta(size: number): { _meta?: Record<string, unknown> } {
  return size > defaultAnswerChars ? { _meta: { 'anthropic/maxResultSizeChars': Math.min(Math.ceil(size / 10_000) * 10_000, 500_000) } } : {};
}

export function toCallToolResult(result: CallResult): CallToolResult {
  const envelope = result.envelope as unknown as Record<string, unknown>;
  // The envelope's message, which is redacted (lib/runtime/invoke.ts errorEnvelope).
  const headline = result.kind === 'ok' ? result.summary : `${result.error.code}: ${result.envelope.error?.message ?? result.error.message}`;
  const { envelope: full } = result;
  const text = renderAnswer({
    headline,
    data: result.kind === 'ok' ? full.data : undefined,
    warnings: full.warnings,
    suggestions: full.suggestions,
    explanation: full.explanation,
    stdout: full.stdout,
    stderr: full.stderr,
  });
  const learning = full.learning ? `\n\nLearning: ${full.learning.explanation}${full.learning.cli_equivalent ? `\nCLI: ${full.learning.cli_equivalent}` : ''}${full.learning.next?.length ? `\nNext: ${full.learning.next.join('; ')}` : ''}` : '';
  return {
    content: [{ type: 'text', text: text + learning }, ...(result.kind === 'ok' && result.images ? result.images.map((image) => ({ type: 'image' as const, data: image.data, mimeType: image.mimeType })) : [])],
    structuredContent: envelope,
    ...(result.kind === 'ok' ? {} : { isError: true }),
    ...largeAnswerMeta(text.length + learning.length + JSON.stringify(envelope).length),
  };
}

interface CatalogEntry {
  tool: AnyTool;
  input: StandardJson;
  annotations: ReturnType<typeof annotationsFor>;
}

const confirmSchema = {
  type: 'object' as const,
  properties: { confirm: { type: 'boolean' as const, title: 'Run it?', description: 'Yes runs exactly what is described above.' } },
  required: ['confirm'],
};

export interface McpDoorOptions {
  name: string;
  version: string;
  instructions: string;
  extensions?: McpExtension[];
}

/**
 * Who is calling, and whether a human can be asked directly.
 *
 * Only the current revision (2026-07-28, era 'modern') can ask: the handler returns an input_required
 * result, the client asks its user and retries the call with the answer; nothing has to survive between
 * the two HTTP requests except the confirmation id, which rides in requestState and lives in the DB.
 *
 * The 2025 revisions (era 'legacy') are served statelessly, one fresh McpServer per HTTP request. The
 * SDK's legacy shim would turn input_required into an `elicitation/create` request to the client, but
 * (a) a per-request instance never saw the client's `initialize`, so it knows no client capabilities and
 * the shim refuses ("per-request legacy serving cannot receive server-to-client requests"), and (b) even
 * if it sent the request, the client's answer would arrive as a new HTTP POST served by another fresh
 * instance that cannot route it back. So legacy callers are never asked: where a yes is needed they get
 * approval_required with the approval page's URL and id (proof), which works on any replica.
 *
 * An accepted form elicitation is an "ask", never proof (an agent with the token can answer it itself);
 * a URL elicitation only opens the approval page, where an approver's code decides (lib/approval/).
 */
export function callerFromContext(ctx: ServerContext, server: McpServer, era: 'legacy' | 'modern' = 'modern'): Caller | undefined {
  // SDK v2 hands the authInfo given to handler.fetch to tool handlers as ctx.http.authInfo.
  const withAuth = ctx as { http?: { authInfo?: { extra?: { caller?: Caller } } }; authInfo?: { extra?: { caller?: Caller } } };
  const caller = (withAuth.http?.authInfo ?? withAuth.authInfo)?.extra?.caller;
  if (!caller) return undefined;
  return { ...caller, canElicit: era === 'modern' && elicitationModes(server).form };
}

/**
 * Which elicitation modes the client advertised on this request (current revision only): `{}` or
 * `{form}` is form (the spec's default), `{url}` is the URL mode that opens a page (Claude Code sends both).
 */
function elicitationModes(server: McpServer): { form: boolean; url: boolean } {
  const elicitation = server.server.getClientCapabilities()?.elicitation as Record<string, unknown> | undefined;
  if (!elicitation || typeof elicitation !== 'object') return { form: false, url: false };
  const keys = Object.keys(elicitation);
  return { form: keys.length === 0 || 'form' in elicitation, url: 'url' in elicitation };
}

/** requestState of a URL elicitation for an approval: the id, marked so it is never read as a confirmation. */
const approvalState = 'approval:';

/** The URL elicitation that sends the client's user to the approval page of this call. */
function approvalElicitation(result: Extract<CallResult, { kind: 'needs_approval' }>): CallToolResult {
  return inputRequired({
    inputRequests: {
      approve: inputRequired.elicitUrl({
        message: `${result.plan.summary}: this needs an approver's proof. Open the approval page, check the plan and approve with your authenticator code; then come back here.`,
        url: result.url,
      }),
    },
    requestState: approvalState + result.approvalId,
  }) as unknown as CallToolResult;
}

export function createMcpServerFactory(runtime: Runtime, options: McpDoorOptions) {
  const catalog: CatalogEntry[] = [...runtime.tools.values()].map((tool) => ({
    tool,
    input: prebuiltSchema(() => trimInputSchema(inputJsonSchema(tool))),
    annotations: annotationsFor(tool),
  }));

  async function handleCall(entry: CatalogEntry, args: unknown, ctx: ServerContext, server: McpServer, era: 'legacy' | 'modern', hostHint?: string): Promise<CallToolResult> {
    const caller = callerFromContext(ctx, server, era);
    if (!caller) return { content: [{ type: 'text', text: 'Not authenticated.' }], isError: true };
    const progressToken = ctx.mcpReq._meta?.progressToken;
    const progress = progressToken === undefined
      ? undefined
      : (update: { progress: number; total?: number; message?: string }) => {
          void ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, ...update } }).catch(() => undefined);
        };

    // A retry after the user answered our elicitation: the answer and the confirmation id we issued.
    const answer = acceptedContent<{ confirm?: boolean }>(ctx.mcpReq.inputResponses, 'confirm');
    const state = ctx.mcpReq.requestState();
    // A retry after a URL elicitation: the approval id rides in requestState (client-controlled, so it
    // is only an id: the approval row decides, and it must be approved and bound to this token and call).
    if (typeof state === 'string' && state.startsWith(approvalState)) {
      const approvalId = state.slice(approvalState.length);
      const view = inputResponse(ctx.mcpReq.inputResponses, 'approve');
      if (view.kind === 'elicit' && view.action !== 'accept') {
        const envelope = await recordDeclined(runtime, entry.tool, args, caller, approvalId);
        return { content: [{ type: 'text', text: `The user did not open the approval page for ${entry.tool.name}. Nothing was changed.` }], structuredContent: envelope as unknown as Record<string, unknown>, isError: true };
      }
      // The user went to the page: give the approver a little time before answering "still pending".
      const retried = await invokeTool(runtime, entry.tool, args, caller, { signal: ctx.mcpReq.signal, progress, approvalId, waitSeconds: approvalTimings.afterUrlElicitationSeconds, hostHint });
      // The target changed after the approval: a new approval, and the human is sent to it again.
      if (retried.kind === 'needs_approval' && retried.approvalId !== approvalId) return approvalElicitation(retried);
      return toCallToolResult(retried);
    }
    const issuedId = typeof state === 'string' ? state : undefined;
    if (issuedId && ctx.mcpReq.inputResponses && answer?.confirm !== true) {
      runtime.log.info('A confirmation was declined', { tool: entry.tool.name, confirmationId: issuedId });
      const envelope = await recordDeclined(runtime, entry.tool, args, caller, issuedId);
      return {
        content: [{ type: 'text', text: `The user declined ${entry.tool.name}. Nothing was changed.\n\n${JSON.stringify(envelope)}` }],
        structuredContent: envelope as unknown as Record<string, unknown>,
        isError: true,
      };
    }
    const result = await invokeTool(runtime, entry.tool, args, caller, {
      signal: ctx.mcpReq.signal,
      progress,
      ...(issuedId && answer?.confirm === true ? { confirmationId: issuedId, confirmedByHuman: true } : {}),
      hostHint,
    });
    if (result.kind === 'needs_approval' && era === 'modern' && elicitationModes(server).url) return approvalElicitation(result);
    if (result.kind === 'needs_confirmation' && caller.canElicit) {
      return inputRequired({
        inputRequests: {
          confirm: inputRequired.elicit({ message: planText(result.plan), requestedSchema: confirmSchema }),
        },
        requestState: result.confirmationId,
      }) as unknown as CallToolResult;
    }
    return toCallToolResult(result);
  }

  const byName = new Map(catalog.map((entry) => [entry.tool.name, entry]));

  /**
   * A current-revision tools/call names its tool in the Mcp-Name header, which the SDK has already
   * checked against the body before it asks for a server. Such a request needs that one tool and
   * nothing else, so registering the other tools, resources and prompts would be wasted work on every
   * call (about a tenth of a call's CPU time with 26 tools; bench/README.md).
   */
  function onlyToolFor(context: { era?: 'legacy' | 'modern'; requestInfo?: unknown }): CatalogEntry | undefined {
    if (context.era !== 'modern') return undefined;
    const headers = (context.requestInfo as { headers?: Headers } | undefined)?.headers;
    if (headers?.get('mcp-method') !== 'tools/call') return undefined;
    return byName.get(headers.get('mcp-name') ?? '');
  }

  return function factory(context: { authInfo?: unknown; era?: 'legacy' | 'modern'; requestInfo?: unknown }): McpServer {
    const era = context.era ?? 'modern';
    // The Host this client reached us at (already checked against the allowed hosts): the approval link uses it.
    const hostHint = (context.requestInfo as { headers?: Headers } | undefined)?.headers?.get('host') ?? undefined;
    const only = onlyToolFor(context);
    const server = new McpServer(
      { name: options.name, version: options.version, title: 'Proxmox VE' },
      {
        // The tool, resource and prompt lists never change while the server runs: say so, rather than
        // promise list_changed notifications that would never come.
        capabilities: { tools: { listChanged: false }, ...(options.extensions?.length ? { resources: { listChanged: false }, prompts: { listChanged: false } } : {}) },
        instructions: options.instructions,
        // 2026-07-28 caching: the lists are fixed for the life of the process; resources set their own.
        cacheHints: {
          // Each role sees the tools it can call: the list is the token's own.
          'tools/list': { ttlMs: 3_600_000, cacheScope: 'private' },
          'prompts/list': { ttlMs: 3_600_000, cacheScope: 'public' },
          'resources/templates/list': { ttlMs: 3_600_000, cacheScope: 'public' },
          'resources/list': { ttlMs: 10_000, cacheScope: 'public' },
        },
      },
    );
    const caller = (context.authInfo as { extra?: { caller?: Caller } } | undefined)?.extra?.caller;
    // A tool of a toolset this token did not enable is not listed; a 2026-07-28 tools/call of it reaches invokeTool,
    // which refuses it as REST does, naming the toolset and the command that enables it (2025 clients: unknown tool).
    for (const entry of only ? [only] : catalog.filter((item) => !caller || visibleTo(item.tool, caller))) {
      server.registerTool(
        entry.tool.name,
        { title: entry.tool.title, description: entry.tool.description, inputSchema: entry.input as never, annotations: entry.annotations },
        ((args: unknown, ctx: ServerContext) => handleCall(entry, args, ctx, server, era, hostHint)) as never,
      );
    }
    if (!only) for (const extend of options.extensions ?? []) extend(server, runtime, caller);
    return server;
  };
}
