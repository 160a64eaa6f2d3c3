/**
 * Shared pieces of the safety tests (policy, bypass, confirmation, modes, history): a test server whose
 * tool set always satisfies routes.json (tools named there that have not landed yet get an inert stub,
 * so these tests do not depend on other tools' progress), extra tools for a test, and a snapshot of
 * the simulated cluster to prove that nothing changed.
 */
import { z } from 'zod';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkTools, defaultFunctionsDir } from '../../lib/runtime/registry.ts';
import { loadRouteTable } from '../../lib/runtime/rest.ts';
import { createSimulator, type Simulator } from '../../lib/simulator/index.ts';
import { defineTool, type AnyTool } from '../../lib/tool.ts';
import type { BuildOptions } from '../../lib/runtime/start.ts';
import { startTestServer, type TestServer } from './server.ts';

function stub(name: string): AnyTool {
  return defineTool({
    name,
    title: `${name} (not landed yet)`,
    description: 'Placeholder so routes.json resolves in safety tests.',
    input: z.object({}),
    output: z.unknown(),
    effect: 'read',
    async run() {
      return { data: null };
    },
  }) as unknown as AnyTool;
}

/**
 * The tools in functions/, loaded one by one: a tool another engineer is still landing (importing a file
 * that is not there yet) is skipped with a note instead of failing every safety test.
 */
async function loadTools(): Promise<AnyTool[]> {
  const dir = defaultFunctionsDir();
  const entries: { tool: unknown; source: string }[] = [];
  for (const file of readdirSync(dir).filter((name) => /\.(ts|js|mjs)$/.test(name) && !name.endsWith('.d.ts') && !name.startsWith('_') && !/\.test\./.test(name)).sort()) {
    try {
      const module = (await import(pathToFileURL(join(dir, file)).href)) as { default?: unknown };
      entries.push({ tool: module.default, source: `functions/${file}` });
    } catch (error) {
      console.warn(`safety tests: skipping functions/${file}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  return checkTools(entries);
}

export async function safetyTools(extra: AnyTool[] = []): Promise<AnyTool[]> {
  const tools = await loadTools();
  const names = new Set([...tools, ...extra].map((tool) => tool.name));
  const missing = [...new Set(loadRouteTable().routes.map((route) => route.function))].filter((name) => !names.has(name));
  return [...tools.filter((tool) => !extra.some((e) => e.name === tool.name)), ...extra, ...missing.map(stub)];
}

export interface SafetyServer extends TestServer {
  sim: Simulator;
}

export async function startSafetyServer(options: { extraTools?: AnyTool[]; env?: Record<string, string>; build?: BuildOptions; simulator?: Simulator } = {}): Promise<SafetyServer> {
  const sim = options.simulator ?? createSimulator({ taskDurationMs: 5 });
  const ts = await startTestServer({ env: options.env, build: { simulator: sim, tools: await safetyTools(options.extraTools), ...options.build } });
  return Object.assign(ts, { sim });
}

/** What the protections guard, as plain data: users, tokens, ACLs, nodes, guests and their flags. */
export function clusterSnapshot(sim: Simulator): string {
  const state = sim.state;
  return JSON.stringify({
    users: [...state.users.values()].map((user) => ({
      userid: user.userid,
      enable: user.enable,
      expire: user.expire,
      email: user.email ?? null,
      comment: user.comment ?? null,
      groups: [...user.groups].sort(),
      tokens: [...user.tokens.values()].map((token) => ({ id: token.tokenid, privsep: token.privsep, expire: token.expire, comment: token.comment ?? null })),
    })),
    acl: state.acl.map((entry) => `${entry.path} ${entry.type} ${entry.ugid} ${entry.roleid} ${entry.propagate}`).sort(),
    nodes: [...state.nodes.keys()].sort(),
    guests: [...state.guests.values()].map((guest) => ({ vmid: guest.vmid, node: guest.node, status: guest.status, protection: guest.config.protection ?? null })),
    roles: [...state.roles.keys()].sort(),
    groups: [...state.groups.keys()].sort(),
  });
}

export function protectedGuest(sim: Simulator) {
  const guest = [...sim.state.guests.values()].find((g) => g.config.protection === 1 || g.config.protection === '1');
  if (!guest) throw new Error('the simulator has no protected guest');
  return guest;
}
