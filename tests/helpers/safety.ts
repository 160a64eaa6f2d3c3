/**
 * Shared pieces of the safety tests (policy, bypass, confirmation, modes, history): a test server with
 * the real tools plus a test's own, and a snapshot of the simulated cluster to prove that nothing
 * changed.
 */
import { discoverTools } from '../../lib/runtime/registry.ts';
import { createSimulator, type Simulator } from '../../lib/simulator/index.ts';
import type { AnyTool } from '../../lib/tool.ts';
import type { BuildOptions } from '../../lib/runtime/start.ts';
import { startTestServer, type TestServer } from './server.ts';

/** The real tools from functions/, with a test's extra tools added (or replacing one of the same name). */
export async function safetyTools(extra: AnyTool[] = []): Promise<AnyTool[]> {
  const tools = await discoverTools();
  return [...tools.filter((tool) => !extra.some((e) => e.name === tool.name)), ...extra];
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
