/**
 * `npm run approve -- yes` as a separate process on the host: the command's own entry point (bin/approve.ts,
 * run by Deno 2 straight from the TypeScript, as `npm run approve` runs its compiled copy) decides an
 * approval in the server's database while the server runs, and the waiting client goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRest } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { denoBin, run } from './helpers/processes.ts';

let ts: SafetyServer;

beforeAll(async () => {
  ts = await startSafetyServer();
});
afterAll(async () => {
  await ts?.close();
});

const approve = (...args: string[]) => run(denoBin, ['run', '-A', 'bin/approve.ts', ...args], { env: { MCP_DATA_DIR: ts.dataDir, PROXMOX_URL: '', USER: 'host-admin' }, timeoutMs: 90_000 });

describe('npm run approve (a separate process on the host)', () => {
  it('lists the pending call, shows its plan, approves it, and the client run goes through once', async () => {
    const safe = await ts.createToken({ name: 'cli-safe', role: 'operator', mode: 'safe' });
    const guest = [...ts.sim.state.guests.values()].find((g) => g.type === 'qemu' && !g.config.protection && !g.config.template)!;
    const args = { method: 'PUT', path: `/nodes/${guest.node}/qemu/${guest.vmid}/config`, params: { description: 'approved on the host' } };
    const asked = await callRest(ts.url, safe, 'proxmox_api', args);
    expect(asked.status).toBe(428);
    const id = asked.body.error.details.approval_id as string;

    const listed = await approve('list');
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('cli-safe');
    const shown = await approve('show', id);
    expect(shown.stdout).toContain(`PUT /nodes/${guest.node}/qemu/${guest.vmid}/config`);
    const yes = await approve('yes', id);
    expect(yes.code, yes.stderr).toBe(0);
    expect(yes.stdout).toMatch(/Approved/);
    const twice = await approve('no', id);
    expect(twice.code).toBe(1);
    expect(twice.stdout).toMatch(/already approved/);
    const wrong = await approve('maybe');
    expect(wrong.code).toBe(2);

    const ran = await callRest(ts.url, safe, 'proxmox_api', { ...args, confirmation_id: id });
    expect(ran.status, JSON.stringify(ran.body)).toBe(200);
    expect(ts.sim.state.guests.get(guest.vmid)!.config.description).toBe('approved on the host');
    const again = await callRest(ts.url, safe, 'proxmox_api', { ...args, confirmation_id: id });
    expect(again.status).toBe(400);
    await ts.server.store.history.flush();
    const row = (await ts.server.store.client.execute("SELECT approved_by FROM history WHERE client = 'cli-safe' AND outcome = 'ok'")).rows[0];
    expect(row?.approved_by).toBe('host:host-admin');
  }, 180_000);
});
