/**
 * The handler contract. A tool is a plain object; functions/<name>.ts default-exports one made with
 * defineTool(). Everything stateful reaches it through ctx, so any replica can run any call and a test
 * can call run() with a ctx of its choosing. The runtime (lib/runtime/invoke.ts) wraps every run the same
 * way for every door: authenticate -> mode -> protections -> confirmation -> run -> history -> envelope.
 */
import type { z } from 'zod';
import type { PveClient } from './pve/types.ts';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';

/** What a call can do to the cluster. Drives MCP annotations, the mode rules and confirmation. */
export type Effect = 'read' | 'write' | 'destructive';

export type Mode = 'read-only' | 'safe' | 'normal';
export type Role = 'admin' | 'operator' | 'viewer';
export type Door = 'mcp' | 'rest' | 'internal';
export type ConfirmationPolicy = 'mode' | 'always' | 'human' | 'none';

/** The client token behind a call, as the runtime resolved it. */
export interface Caller {
  tokenId: string;
  name: string;
  role: Role;
  mode: Mode;
  ceiling: Mode;
  learning: boolean;
  door: Door;
  requestId: string;
  /** True when the client can answer an elicitation (a human can be asked directly). */
  canElicit: boolean;
  /** Toolsets beyond 'core' this token enabled (`npm run token -- toolsets NAME ha,metrics`); tools/list shows their tools. */
  toolsets?: string[];
}

/** A Proxmox privilege a call needs, e.g. { path: '/vms/101', privileges: ['VM.PowerMgmt'] }. */
export interface PrivilegeNeed {
  path: string;
  privileges: string[];
  /** true: any one of the privileges is enough (Proxmox's `any` checks). */
  any?: boolean;
}

/** One Proxmox request a plan says it will send (path below /api2/json). */
export interface PlannedRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  params?: Record<string, unknown>;
}

/** What a call would do, without doing it: used by explain, confirmations and learning mode. */
export interface Plan {
  summary: string;
  /** The Proxmox API calls it makes, in order, e.g. `POST /nodes/pve1/qemu/101/status/start`. */
  apiCalls?: string[];
  /**
   * The changing Proxmox requests the call will send, as data, when they are clear before it runs. The
   * runtime judges them with the API policy (the same guard as when they are sent) before anyone is asked
   * to confirm, so a human is never asked to approve what would then be refused.
   */
  requests?: PlannedRequest[];
  /** The equivalent command on a Proxmox host, e.g. `qm start 101`. */
  cliEquivalent?: string;
  privileges?: PrivilegeNeed[];
  risk: 'none' | 'low' | 'medium' | 'high';
  reversible: boolean;
  /** How to undo it, when it can be undone. */
  undo?: string;
  warnings?: string[];
}

export interface Progress {
  progress: number;
  total?: number;
  message?: string;
}

/** Services a handler may use. Test code builds one with tests/helpers; the runtime builds the real one. */
export interface ToolContext {
  pve: PveClient;
  config: Config;
  log: Logger;
  signal: AbortSignal;
  caller: Caller;
  progress: (update: Progress) => void;
  /** The rest of the server, for the tools that report on or manage it. Typed where it is defined. */
  services: Services;
}

/**
 * Shared services beyond Proxmox. Each is defined by the module that owns it; handlers reach them only
 * here. Optional members are absent in a bare test ctx.
 */
export interface Services {
  store: import('./store/store.ts').Store;
  exec?: import('./exec/executor.ts').CommandExecutor;
  knowledge?: import('./knowledge.ts').Knowledge;
  runtime?: RuntimeInfo;
  /** Every tool of the running server, for tools that reason about other tools' calls (explain_command). */
  tools?: ReadonlyMap<string, AnyTool>;
}

export interface ToolSummary {
  name: string;
  title: string;
  effect: Effect;
  description: string;
}

/** What the running server knows of itself (filled in by the runtime at start-up). */
export interface RuntimeInfo {
  name: string;
  version: string;
  startedAt: Date;
  runtime: string;
  simulated: boolean;
  tools: ToolSummary[];
  projectRoot: string;
  /** Full health report, as /health gives it with a token. */
  health: () => Promise<unknown>;
}

/** What run() returns; the runtime wraps it into the response envelope. */
export interface ToolOutcome<Data> {
  data: Data;
  /** A short line for the MCP text content; a default is made from the tool name when absent. */
  summary?: string;
  warnings?: string[];
  suggestions?: string[];
  explanation?: string;
  stdout?: string;
  stderr?: string;
  /** Proxmox tasks this call started, for history. */
  upids?: string[];
  /** The node and guest this call was about, for history filters. */
  node?: string;
  vmid?: number;
  /** Learning mode: the equivalent qm/pct/pvesh command, when the handler knows it better than its plan. */
  cliEquivalent?: string;
  /** Pictures for the MCP door (image content blocks beside the text), e.g. a metrics chart as PNG. */
  images?: { mimeType: 'image/png'; data: string }[];
}

export interface ToolDefinition<In extends z.ZodObject = z.ZodObject, Out extends z.ZodType = z.ZodType> {
  /** ^[a-z][a-z0-9_]{0,63}$ */
  name: string;
  title: string;
  /** What it does and when to use it, for an agent choosing between tools. */
  description: string;
  input: In;
  /** Schema of `data` in the envelope. */
  output: Out;
  /** The worst this tool can do; drives the MCP annotations. */
  effect: Effect;
  /** The effect of one particular call (e.g. storage_operations list = read, delete = destructive). */
  effectOf?: (input: z.output<In>) => Effect;
  /** Same call, same result, no further change (e.g. start a running VM). Defaults to effect === 'read'. */
  idempotent?: boolean;
  /** Talks to systems beyond Proxmox and this server (e.g. downloads by URL). Defaults to false. */
  openWorld?: boolean;
  /** Roles that may call it. Default: every role (the mode still applies). */
  roles?: Role[];
  /**
   * The toolset it belongs to (default 'core'). tools/list shows a non-core toolset's tools only to tokens
   * that enabled it, so the everyday list stays within the agent's context budget (lib/toolsets.ts).
   */
  toolset?: string;
  /**
   * Roles that may make the calls of this tool that change something (effectOf is not 'read'), for
   * tools that mix reads and changes: everyone in `roles` may still list and look.
   */
  changeRoles?: Role[];
  /** Proxmox privileges this call needs, checked against the token's permissions before running. */
  privileges?: (input: z.output<In>, ctx: ToolContext) => PrivilegeNeed[] | Promise<PrivilegeNeed[]>;
  /**
   * Who must say yes before this call runs (lib/approval/policy.ts decides the strength). 'mode'
   * (default): by the client's mode and the token's proof setting (safe: a change is asked, a destructive
   * call needs proof). 'always' and 'human': proof in every mode (self_update, restore_config, raising
   * the mode): an approver's code on the approval page or the host CLI, never anything the client sends.
   * 'none': never (the tool checks what it needs itself).
   */
  confirmation?: (input: z.output<In>, ctx: ToolContext) => ConfirmationPolicy;
  /** What it would do, without doing it. */
  explain?: (input: z.output<In>, ctx: ToolContext) => Plan | Promise<Plan>;
  run: (input: z.output<In>, ctx: ToolContext) => Promise<ToolOutcome<z.output<Out>>>;
}

export type AnyTool = ToolDefinition<z.ZodObject, z.ZodType>;

/** Identity function that gives a tool definition its types. */
export function defineTool<In extends z.ZodObject, Out extends z.ZodType>(tool: ToolDefinition<In, Out>): ToolDefinition<In, Out> {
  return tool;
}

/** The effect of one call: effectOf when the tool has it, otherwise its static effect. */
export function effectOfCall(tool: AnyTool, input: unknown): Effect {
  return tool.effectOf ? tool.effectOf(input as never) : tool.effect;
}

/**
 * Whether tools/list shows this tool to this caller: its role may call it, and a caller whose mode can
 * never leave read-only (a viewer's ceiling) sees only tools that have reads.
 */
export function visibleTo(tool: AnyTool, caller: Pick<Caller, 'role' | 'ceiling'> & { toolsets?: string[] }): boolean {
  if (tool.roles && !tool.roles.includes(caller.role)) return false;
  if (!inToolsets(tool, caller)) return false;
  if (caller.ceiling === 'read-only' && tool.effect !== 'read' && !tool.effectOf) return false;
  return true;
}

/** Whether a tool's toolset is one the caller enabled ('core' always is). */
export function inToolsets(tool: AnyTool, caller: { toolsets?: string[] }): boolean {
  return !tool.toolset || tool.toolset === 'core' || Boolean(caller.toolsets?.includes(tool.toolset) || caller.toolsets?.includes('all'));
}
