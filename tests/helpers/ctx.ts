/**
 * A ToolContext for calling a handler directly (no server, no doors): the in-process simulator behind a
 * real PveClient, a caller, a progress log and a record of every Proxmox request the handler sent.
 * Generic on purpose; any tool's tests can use it.
 *
 *   const t = testContext();                       // default simulator and token
 *   const out = await callTool(listVms, { status: 'running' }, t.ctx);
 *   t.requests                                      // [{ method: 'GET', path: '/cluster/resources', ... }]
 *   t.close();
 */
import { loadConfig, type Config } from '../../lib/config.ts';
import { silentLogger } from '../../lib/log.ts';
import { createPveClient, type OwnedPveClient } from '../../lib/pve/client.ts';
import type { PveClient, PveRequest } from '../../lib/pve/types.ts';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../lib/simulator/index.ts';
import { AUDITOR_TOKEN } from '../../lib/simulator/state.ts';
import type { Store } from '../../lib/store/store.ts';
import type { AnyTool, Caller, Progress, Services, ToolContext, ToolDefinition, ToolOutcome } from '../../lib/tool.ts';
import type { z } from 'zod';

export interface TestContextOptions {
  /** Use this simulator (tests drive its faults and state); default: a new one with short tasks. */
  sim?: Simulator;
  simOptions?: SimulatorOptions;
  /** Which Proxmox token the client uses: the simulator's default, its read-only auditor, or any. */
  token?: 'default' | 'auditor' | { tokenId: string; secret: string };
  /** Use this client instead of building one (the simulator is then only what you pass as sim). */
  pve?: PveClient;
  caller?: Partial<Caller>;
  config?: Config;
  /** Only tools that use the store need one. */
  store?: Store;
  services?: Partial<Services>;
  signal?: AbortSignal;
}

export interface TestContext {
  ctx: ToolContext;
  sim: Simulator;
  pve: PveClient;
  /** Every request the handler sent through ctx.pve (cached /cluster/resources reads are not requests). */
  requests: PveRequest[];
  progress: Progress[];
  close(): void;
}

export const testCaller: Caller = {
  tokenId: 'test-token',
  name: 'test',
  role: 'admin',
  mode: 'normal',
  ceiling: 'normal',
  learning: false,
  door: 'internal',
  requestId: 'test-request',
  canElicit: false,
};

export function testContext(options: TestContextOptions = {}): TestContext {
  const ownsSim = !options.sim;
  const sim = options.sim ?? createSimulator({ taskDurationMs: 5, ...options.simOptions });
  const token =
    options.token === 'auditor'
      ? { tokenId: AUDITOR_TOKEN.tokenId, secret: AUDITOR_TOKEN.secret }
      : options.token && options.token !== 'default'
        ? options.token
        : sim.defaultToken;
  let owned: OwnedPveClient | undefined;
  const base =
    options.pve ??
    (owned = createPveClient({ baseUrl: 'https://simulated-cluster:8006', tokenId: token.tokenId, tokenSecret: token.secret, fetch: sim.fetch, retries: 0, log: silentLogger }));
  const requests: PveRequest[] = [];
  const pve = base.withGuard((request) => {
    requests.push(request);
  });
  const progress: Progress[] = [];
  const ctx: ToolContext = {
    pve,
    config: options.config ?? loadConfig({ MCP_DATA_DIR: '/tmp/pmcp-test-ctx' }, { envFile: null }),
    log: silentLogger,
    signal: options.signal ?? new AbortController().signal,
    caller: { ...testCaller, ...options.caller },
    progress: (update) => progress.push(update),
    // A bare ctx has no store; tools that need it get one through options.store.
    services: { store: options.store ?? (undefined as unknown as Store), ...options.services },
  };
  return {
    ctx,
    sim,
    pve,
    requests,
    progress,
    close() {
      owned?.close();
      if (ownsSim) sim.close();
    },
  };
}

/** Parse raw arguments with the tool's own schema (as the doors do) and run it. */
export async function callTool<In extends z.ZodObject, Out extends z.ZodType>(
  tool: ToolDefinition<In, Out>,
  args: unknown,
  ctx: ToolContext,
): Promise<ToolOutcome<z.output<Out>>> {
  const input = tool.input.parse(args);
  return tool.run(input, ctx);
}

/** The same for explain. */
export async function explainTool(tool: AnyTool, args: unknown, ctx: ToolContext) {
  const input = tool.input.parse(args);
  if (!tool.explain) throw new Error(`${tool.name} has no explain`);
  return tool.explain(input as never, ctx);
}

/** The same for privileges. */
export async function privilegesOf(tool: AnyTool, args: unknown, ctx: ToolContext) {
  const input = tool.input.parse(args);
  return tool.privileges ? tool.privileges(input as never, ctx) : [];
}
