/**
 * The door harness of the API policy tests: a case is sent as one tool call through REST, MCP 2026-07-28
 * and MCP 2025 by the token of a role; each door must refuse it with one of the expected codes, no changing
 * request may reach the simulated Proxmox, and the cluster must be exactly as it was.
 */
import { describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { callRest, connectClient } from './server.ts';
import { clusterSnapshot, protectedGuest, startSafetyServer, type SafetyServer } from './safety.ts';
import type { Simulator } from '../../lib/simulator/index.ts';

/** The server's Proxmox user and API token in the simulator. */
export const mcpUser = 'proxmox-mcp@pve';
export const mcpToken = 'proxmox-mcp@pve!mcp';

/** The simulator's protected VM, stopped, with a snapshot `before_protection` taken before its flag was set. */
export function stoppedProtectedGuest(sim: Simulator) {
  const guest = protectedGuest(sim);
  guest.status = 'stopped';
  const { protection: _flag, ...withoutFlag } = guest.config;
  guest.snapshots.set('before_protection', { name: 'before_protection', snaptime: 1_700_000_000, description: '', config: { ...withoutFlag } });
  return guest;
}

/** The first container that is no template, made protected and stopped. */
export function stoppedProtectedContainer(sim: Simulator) {
  const ct = [...sim.state.guests.values()].find((g) => g.type === 'lxc' && !g.config.template)!;
  ct.config.protection = 1;
  ct.status = 'stopped';
  return ct;
}

/** The server's user in a group of its own, `mcpgroup`. */
export function serverUserInOwnGroup(sim: Simulator): void {
  sim.state.groups.set('mcpgroup', { comment: 'proxmox-mcp' });
  sim.state.users.get(mcpUser)!.groups.add('mcpgroup');
}

export const DOORS = ['rest', 'mcp', 'mcp-legacy'] as const;
export type Door = (typeof DOORS)[number];

export interface DoorCase<Who extends string = string> {
  label: string;
  tool: string;
  args: () => Record<string, unknown>;
  /** Accepted refusal codes (default: protected). */
  codes?: string[];
  /** Whose token sends it (default: admin). */
  who?: Who;
}

type Lazy<T> = T | (() => T);
const value = <T,>(v: Lazy<T>): T => (typeof v === 'function' ? (v as () => T)() : v);

/** A proxmox_api call. */
export const api = <Who extends string>(label: string, method: string, path: Lazy<string>, params?: Lazy<Record<string, unknown>>, extra: Partial<DoorCase<Who>> = {}): DoorCase<Who> => ({
  label: `api: ${label}`,
  tool: 'proxmox_api',
  args: () => ({ method, path: value(path), ...(params ? { params: value(params) } : {}) }),
  ...extra,
});

/** An execute_command line on pve1. */
export const sh = <Who extends string>(label: string, command: Lazy<string>, extra: Partial<DoorCase<Who>> = {}): DoorCase<Who> => ({
  label: `sh: ${label}`,
  tool: 'execute_command',
  args: () => ({ node: 'pve1', command: value(command) }),
  ...extra,
});

/** A typed tool's call. */
export const typed = <Who extends string>(label: string, tool: string, args: () => Record<string, unknown>, extra: Partial<DoorCase<Who>> = {}): DoorCase<Who> => ({ label: `typed: ${label}`, tool, args, ...extra });

/** The server and, for each role's token, an MCP client of each era. */
export interface DoorServer {
  ts: SafetyServer;
  tokens: Record<string, string>;
  clients: Record<string, Client>;
}

/**
 * Starts the server on `sim` (main node pve1), creates a token of each named role (mode and ceiling normal)
 * and connects a 2026-07-28 ("modern") and a 2025 ("legacy") MCP client for each.
 */
export async function startDoors(sim: Simulator, names: Partial<Record<'admin' | 'operator' | 'viewer', string>>): Promise<DoorServer> {
  const ts = await startSafetyServer({ simulator: sim, env: { MCP_MAIN_NODE: 'pve1' } });
  const doors: DoorServer = { ts, tokens: {}, clients: {} };
  try {
    for (const [role, name] of Object.entries(names) as ['admin' | 'operator' | 'viewer', string][]) {
      doors.tokens[role] = await ts.createToken({ name, role, mode: 'normal', ceiling: 'normal' });
    }
    for (const [who, token] of Object.entries(doors.tokens)) {
      doors.clients[`${who}-modern`] = await connectClient(ts.mcpUrl, token, 'modern');
      doors.clients[`${who}-legacy`] = await connectClient(ts.mcpUrl, token, 'legacy');
    }
  } catch (error) {
    await closeDoors(doors);
    throw error;
  }
  return doors;
}

/** Closes the clients, then the server. */
export async function closeDoors(doors: DoorServer | undefined): Promise<void> {
  for (const client of Object.values(doors?.clients ?? {})) await client.close().catch(() => undefined);
  await doors?.ts.close();
}

/** Sends one call through a door, asserts it was refused, and returns the error code. */
export async function sendThrough(doors: DoorServer, door: Door, who: string, tool: string, args: Record<string, unknown>): Promise<string | undefined> {
  if (door === 'rest') {
    const response = await callRest(doors.ts.url, doors.tokens[who]!, tool, args);
    expect(response.status, JSON.stringify(response.body)).toBeGreaterThanOrEqual(400);
    return response.body.error?.code;
  }
  const client = doors.clients[`${who}-${door === 'mcp' ? 'modern' : 'legacy'}`]!;
  // A tool the caller's role may not use is not listed to it over MCP: calling it is a protocol error.
  const result = await client.callTool({ name: tool, arguments: args }).catch((error: Error) => {
    if (/not found/i.test(error.message)) return { isError: true, structuredContent: { error: { code: 'tool_hidden' } } };
    throw error;
  });
  expect(result.isError, JSON.stringify(result.structuredContent)).toBe(true);
  return (result.structuredContent as { error?: { code?: string } }).error?.code;
}

/**
 * One test a case a door (`title` names the door with %s): refused with an expected code, no changing
 * request sent to Proxmox, the cluster unchanged. `doors` is read when the test runs (after beforeAll).
 */
export function describeRefusedThroughEveryDoor(title: string, doors: () => DoorServer, cases: DoorCase[]): void {
  describe.each(DOORS)(title, (door) => {
    it.each(cases.map((c) => [c.label, c] as const))('%s', async (_label, c) => {
      const { ts } = doors();
      const before = clusterSnapshot(ts.sim);
      const sentBefore = ts.changesSent.length;
      const args = c.args();
      const code = await sendThrough(doors(), door, c.who ?? 'admin', c.tool, args);
      expect(c.codes ?? ['protected'], `${c.tool} ${JSON.stringify(args)} gave ${code}`).toContain(code);
      expect(ts.changesSent.slice(sentBefore)).toEqual([]);
      expect(clusterSnapshot(ts.sim)).toBe(before);
    });
  });
}
