/**
 * explain_command: a shell command line part by part (from lib/exec/explain.ts, with the protections
 * execute_command applies), or a tool call through that tool's own explain; and whether this client
 * could run it now. It never runs anything, so it works in read-only mode.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRest, connectClient } from './helpers/server.ts';
import { clusterSnapshot, protectedGuest, startSafetyServer, type SafetyServer } from './helpers/safety.ts';

let ts: SafetyServer;
let safe: string;
let normal: string;
let readOnly: string;

beforeAll(async () => {
  ts = await startSafetyServer({ env: { MCP_MAIN_NODE: 'pve1' } });
  safe = await ts.createToken({ role: 'operator', mode: 'safe', ceiling: 'normal' });
  normal = await ts.createToken({ role: 'admin', mode: 'normal', ceiling: 'normal' });
  readOnly = await ts.createToken({ role: 'viewer', mode: 'read-only', ceiling: 'normal' });
});
afterAll(async () => {
  await ts?.close();
});

const explain = async (token: string, args: Record<string, unknown>) => {
  const response = await callRest(ts.url, token, 'explain_command', args);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.data;
};

describe('a shell command line', () => {
  it('explains every part, the risk, undo and verdict', async () => {
    const data = await explain(normal, { command: 'qm stop 100 && qm destroy 100 --purge' });
    expect(data.kind).toBe('command');
    expect(data.parts).toHaveLength(2);
    expect(data.parts[1].text).toBe('qm destroy 100 --purge');
    expect(data.parts[1].what.length).toBeGreaterThan(10);
    expect(data.level).toBe('destructive');
    expect(data.risk).toBe('high');
    expect(data.reversible).toBe(false);
    expect(data.verdict.outcome).toBe('runs');
    expect((await explain(safe, { command: 'qm destroy 100' })).verdict.outcome).toBe('needs_confirmation');
    expect((await explain(readOnly, { command: 'qm destroy 100' })).verdict.outcome).toBe('refused_by_mode');
  });

  it('says what would never run, and why', async () => {
    const root = await explain(normal, { command: "sh -c 'pveum user delete root@pam'" });
    expect(root.level).toBe('forbidden');
    expect(root.verdict.outcome).toBe('refused_protected');
    const guarded = await explain(normal, { command: `qm destroy ${protectedGuest(ts.sim).vmid}` });
    expect(guarded.verdict.outcome).toBe('refused_protected');
    expect(guarded.verdict.why).toMatch(/protection/);
    const unparseable = await explain(normal, { command: 'echo "open' });
    expect(unparseable.verdict.outcome).toBe('refused_invalid');
  });

  it('names the parts it does not know', async () => {
    const data = await explain(normal, { command: 'frobnicate --hard /srv' });
    expect(data.unknown_parts.join(' ')).toContain('frobnicate');
    expect(data.parts[0].recognised).toBe(false);
  });

  it('explains reads as reads', async () => {
    const data = await explain(readOnly, { command: 'pvesm status' });
    expect(data.level).toBe('read');
    expect(data.verdict.outcome).toBe('runs');
  });
});

describe('a tool call', () => {
  it('uses the tool\'s own explain and effect', async () => {
    const before = clusterSnapshot(ts.sim);
    const data = await explain(safe, { tool: 'proxmox_api', arguments: { method: 'DELETE', path: '/nodes/pve1/qemu/100' } });
    expect(data.kind).toBe('tool_call');
    expect(data.effect).toBe('destructive');
    expect(data.summary).toContain('DELETE /api2/json/nodes/pve1/qemu/100');
    expect(data.api_calls).toEqual(['DELETE /nodes/pve1/qemu/100']);
    expect(data.reversible).toBe(false);
    expect(data.verdict.outcome).toBe('needs_confirmation');
    expect(clusterSnapshot(ts.sim)).toBe(before);
  });

  it('reports a protected call as refused, and bad arguments as invalid', async () => {
    const protectedCall = await explain(normal, { tool: 'execute_command', arguments: { node: 'pve1', command: 'pvecm delnode pve1' } });
    expect(protectedCall.verdict.outcome).toBe('refused_protected');
    const invalid = await explain(normal, { tool: 'proxmox_api', arguments: { method: 'PATCH', path: '/x' } });
    expect(invalid.verdict.outcome).toBe('refused_invalid');
    const raise = await explain(readOnly, { tool: 'toggle_mode', arguments: { mode: 'normal' } });
    expect(raise.verdict.outcome).toBe('needs_confirmation');
    expect(raise.verdict.why).toMatch(/human/);
  });

  it('refuses an unknown tool and a request with neither or both subjects', async () => {
    expect((await callRest(ts.url, normal, 'explain_command', { tool: 'no_such_tool', arguments: {} })).status).toBe(404);
    expect((await callRest(ts.url, normal, 'explain_command', {})).status).toBe(400);
    expect((await callRest(ts.url, normal, 'explain_command', { command: 'ls', tool: 'proxmox_api' })).status).toBe(400);
  });
});

describe('over MCP', () => {
  it('is a read tool and answers in read-only mode', async () => {
    const client = await connectClient(ts.mcpUrl, readOnly, 'legacy');
    try {
      const { tools } = await client.listTools();
      expect(tools.find((tool) => tool.name === 'explain_command')?.annotations?.readOnlyHint).toBe(true);
      const result = await client.callTool({ name: 'explain_command', arguments: { command: 'zfs destroy -r rpool/data' } });
      expect(result.isError, JSON.stringify(result)).toBeFalsy();
      expect((result.structuredContent as any).data.level).not.toBe('read');
    } finally {
      await client.close();
    }
  });
});
