/**
 * Toolsets end to end: `npm run token -- toolsets` as a separate process on the host (bin/token.ts, run by
 * Deno 2 straight from the TypeScript as approval-cli.test.ts does) changes what a running server lists and
 * calls; a tool outside the token's toolsets is refused by REST as MCP refuses it, naming the toolset and
 * the command that enables it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRest, connectClient } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { denoBin, run } from './helpers/processes.ts';

let ts: SafetyServer;

beforeAll(async () => {
  ts = await startSafetyServer();
}, 60_000);
afterAll(async () => {
  await ts?.close();
});

const token = (...args: string[]) => run(denoBin, ['run', '-A', 'bin/token.ts', ...args], { env: { MCP_DATA_DIR: ts.dataDir, PROXMOX_URL: '' }, timeoutMs: 90_000 });

async function listed(secret: string, era: 'legacy' | 'modern'): Promise<string[]> {
  const client = await connectClient(ts.mcpUrl, secret, era);
  try {
    return (await client.listTools()).tools.map((tool) => tool.name);
  } finally {
    await client.close();
  }
}

describe('npm run token -- toolsets (a separate process on the host)', () => {
  it('shows, sets, rejects and clears a token\'s toolsets; the running server follows on every door', async () => {
    const secret = await ts.createToken({ name: 'ts-op', role: 'operator', mode: 'normal', ceiling: 'normal' });

    const shown = await token('toolsets', 'ts-op');
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("'ts-op' sees these toolsets beyond the everyday tools: none");
    for (const era of ['legacy', 'modern'] as const) expect(await listed(secret, era)).not.toContain('ha_status');
    const refused = await callRest(ts.url, secret, 'ha_status', {});
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
    expect(refused.body.error.message).toContain("ha_status is in the 'ha' toolset");
    expect(refused.body.error.message).toContain('npm run token -- toolsets ts-op ha');
    // MCP refuses the same call (the tool is not there for this token), in both eras
    for (const era of ['legacy', 'modern'] as const) {
      const client = await connectClient(ts.mcpUrl, secret, era);
      const answer = await client.callTool({ name: 'ha_status', arguments: {} }).catch((error: Error) => ({ isError: true, content: [{ type: 'text', text: error.message }] }));
      expect(answer.isError, era).toBe(true);
      // the current revision names the toolset and the command, as REST does
      if (era === 'modern') expect(JSON.stringify(answer.content)).toContain('npm run token -- toolsets ts-op ha');
      await client.close();
    }

    // the command the refusal names, run as written (spaces around the commas too)
    const set = await token('toolsets', 'ts-op', 'ha, metrics');
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('sees these toolsets beyond the everyday tools: ha, metrics');
    for (const era of ['legacy', 'modern'] as const) {
      const names = await listed(secret, era);
      expect(names).toEqual(expect.arrayContaining(['ha_status', 'ha_change', 'metrics_history']));
      expect(names).not.toContain('firewall_get');
    }
    const allowed = await callRest(ts.url, secret, 'ha_status', {});
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(200);
    const client = await connectClient(ts.mcpUrl, secret, 'modern');
    expect((await client.callTool({ name: 'ha_status', arguments: {} })).isError).toBeFalsy();
    await client.close();
    expect((await callRest(ts.url, secret, 'firewall_get', {})).body.error.message).toContain('npm run token -- toolsets ts-op firewall');

    // wrong names and other spellings change nothing and exit non-zero
    for (const list of ['ha,nosuch', '__proto__', 'constructor', ',', 'ha;firewall', 'ha firewall', 'HA']) {
      const bad = await token('toolsets', 'ts-op', list);
      expect(bad.code, list).not.toBe(0);
      expect(bad.stderr + bad.stdout, list).toMatch(/unknown toolset/);
    }
    expect((await token('toolsets', 'nobody', 'ha')).stderr).toMatch(/No token named 'nobody'/);
    expect((await token('toolsets', 'ts-op')).stdout).toContain('ha, metrics');

    const all = await token('toolsets', 'ts-op', 'all');
    expect(all.stdout).toContain(': all');
    expect(await listed(secret, 'modern')).toEqual(expect.arrayContaining(['firewall_get', 'infra_status', 'backup_manage']));
    expect((await callRest(ts.url, secret, 'firewall_get', {})).status).toBe(200);

    const none = await token('toolsets', 'ts-op', 'none');
    expect(none.stdout).toContain(': none');
    expect(await listed(secret, 'legacy')).not.toContain('metrics_history');
    expect((await callRest(ts.url, secret, 'metrics_history', {})).status).toBe(403);
    // the everyday tools never depend on a toolset
    expect((await callRest(ts.url, secret, 'list_vms', {})).status).toBe(200);
    // refusals are on the history like any refused call
    await ts.server.store.history.flush();
    const rows = (await ts.server.store.client.execute("SELECT tool, outcome FROM history WHERE client = 'ts-op' AND tool = 'ha_status'")).rows;
    expect(rows.length).toBeGreaterThanOrEqual(2);
  }, 240_000);
});
