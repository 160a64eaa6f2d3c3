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
  /** Every request other than GET that reached the simulated Proxmox (`METHOD /path`), oldest first. */
  changesSent: string[];
}

/** Records the non-GET requests that reach the simulator: proof that a refusal happened before Proxmox. */
function recordChanges(sim: Simulator): string[] {
  const sent: string[] = [];
  const inner = sim.fetch.bind(sim);
  sim.fetch = async (request: Request) => {
    if (request.method !== 'GET') sent.push(`${request.method} ${decodeURIComponent(new URL(request.url).pathname).replace(/^\/api2\/json/, '')}`);
    return inner(request);
  };
  return sent;
}

export async function startSafetyServer(options: { extraTools?: AnyTool[]; env?: Record<string, string>; build?: BuildOptions; simulator?: Simulator } = {}): Promise<SafetyServer> {
  const sim = options.simulator ?? createSimulator({ taskDurationMs: 5 });
  const changesSent = recordChanges(sim);
  const ts = await startTestServer({ env: options.env, build: { simulator: sim, tools: await safetyTools(options.extraTools), ...options.build } });
  return Object.assign(ts, { sim, changesSent });
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
    roles: [...state.roles.entries()].map(([id, role]) => `${id}: ${[...role.privs].sort().join(',')}`).sort(),
    groups: [...state.groups.keys()].sort(),
    volumes: [...state.volumes.entries()].filter(([, volumes]) => volumes.size > 0).map(([key, volumes]) => `${key}: ${[...volumes.keys()].sort().join(',')}`).sort(),
    disks: [...state.guests.values()].map((guest) => `${guest.vmid}: ${Object.entries(guest.config).filter(([key]) => /^(scsi|virtio|sata|ide|efidisk|tpmstate|rootfs|mp|unused)\d*$/.test(key)).map(([key, value]) => `${key}=${String(value)}`).join(' ')}`),
    freed: [...((state as { freedVolumes?: Set<string> }).freedVolumes ?? [])].sort(),
  });
}

export function protectedGuest(sim: Simulator) {
  const guest = [...sim.state.guests.values()].find((g) => g.config.protection === 1 || g.config.protection === '1');
  if (!guest) throw new Error('the simulator has no protected guest');
  return guest;
}
