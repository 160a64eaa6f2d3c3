/**
 * Proof through every door: a script holding only a client token, answering every elicitation with
 * accept and replaying every id, cannot get a destructive call run in safe mode (MCP 2026-07-28, MCP
 * 2025, REST); an approval voids when its target changed before the run and the human is asked again;
 * the per-token proof setting (host CLI) reaches normal mode; wait_seconds continues on the same call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRest, connectClient } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { addApprover, approveCli, connectAcceptingClient, decideOnPage } from './helpers/approval.ts';
import { approvalTimings } from '../lib/approval/gate.ts';
import { approvalsOf } from '../lib/approval/store.ts';
import { guestTargets, objectTargets } from '../lib/approval/digest.ts';
import type { SimGuest } from '../lib/simulator/index.ts';

let ts: SafetyServer;
let guest: SimGuest;
let admin: string;
let counter = 0;

beforeAll(async () => {
  ts = await startSafetyServer();
  guest = [...ts.sim.state.guests.values()].find((g) => g.type === 'qemu' && !g.config.protection && !g.config.template)!;
  admin = await ts.createToken({ role: 'admin', mode: 'normal' });
  approvalTimings.afterUrlElicitationSeconds = 0;
});
afterAll(async () => {
  await ts?.close();
});

const snapshots = () => ts.sim.state.guests.get(guest.vmid)!.snapshots;

async function makeSnapshot(): Promise<{ name: string; args: Record<string, unknown> }> {
  const name = `flow${++counter}`;
  const made = await callRest(ts.url, admin, 'proxmox_api', { method: 'POST', path: `/nodes/${guest.node}/qemu/${guest.vmid}/snapshot`, params: { snapname: name } });
  expect(made.status, JSON.stringify(made.body)).toBe(200);
  return { name, args: { method: 'DELETE', path: `/nodes/${guest.node}/qemu/${guest.vmid}/snapshot/${name}` } };
}

describe('a client token and a shell are not proof', () => {
  it.each(['operator', 'admin'] as const)('an %s script that accepts every elicitation and replays every id gets no destructive call run, in either MCP era or over REST', async (role) => {
    const secret = await ts.createToken({ role, mode: 'safe', ceiling: 'normal' });
    const { name, args } = await makeSnapshot();
    const ids = new Set<string>();
    for (const era of ['modern', 'legacy'] as const) {
      const client = await connectAcceptingClient(ts.mcpUrl, secret, era, ids);
      try {
        const first = await client.callTool({ name: 'proxmox_api', arguments: args });
        expect(first.isError).toBe(true);
        const details = (first.structuredContent as any)?.error?.details;
        if (details?.approval_id) ids.add(details.approval_id);
        for (const id of [...ids]) {
          const replay = await client.callTool({ name: 'proxmox_api', arguments: { ...args, confirmation_id: id, wait_seconds: 0 } });
          expect(replay.isError).toBe(true);
        }
      } finally {
        await client.close();
      }
    }
    // Every id the server ever stored for this token, and every confirmation id, replayed over REST.
    const stored = await ts.server.store.client.execute('SELECT id FROM approvals UNION SELECT id FROM confirmations');
    for (const row of stored.rows) {
      const id = String(row.id ?? row[0]);
      const rest = await callRest(ts.url, secret, 'proxmox_api', { ...args, confirmation_id: id });
      expect([400, 403, 428]).toContain(rest.status);
      const header = await callRest(ts.url, secret, 'proxmox_api', args, { 'x-confirmation-id': id });
      expect([400, 403, 428]).toContain(header.status);
    }
    expect(ids.size).toBeGreaterThan(0);
    expect(snapshots().has(name)).toBe(true);
  });
});

describe('the target changed between approval and run', () => {
  it('voids the approval and asks again; the new approval runs', async () => {
    const approver = await addApprover(ts.server.store);
    const safe = await ts.createToken({ role: 'operator', mode: 'safe' });
    const { name, args } = await makeSnapshot();
    const first = await callRest(ts.url, safe, 'proxmox_api', args);
    const id = first.body.error.details.approval_id as string;
    expect((await decideOnPage(ts.url, id, approver)).status).toBe(200);
    // Someone changes the guest's config after the approver looked at the plan.
    expect((await callRest(ts.url, admin, 'proxmox_api', { method: 'PUT', path: `/nodes/${guest.node}/qemu/${guest.vmid}/config`, params: { description: `changed ${Date.now()}` } })).status).toBe(200);
    const run = await callRest(ts.url, safe, 'proxmox_api', { ...args, confirmation_id: id });
    expect(run.status).toBe(428);
    expect(run.body.error.message).toMatch(/target changed/);
    const again = run.body.error.details.approval_id as string;
    expect(again).not.toBe(id);
    expect((await approvalsOf(ts.server.store).get(id))!.status).toBe('void');
    expect(snapshots().has(name)).toBe(true);
    const stale = await callRest(ts.url, safe, 'proxmox_api', { ...args, confirmation_id: id });
    expect(stale.status).toBe(400);
    expect(stale.body.error.message).toMatch(/no longer counts/);

    expect((await approveCli(ts.server.store, 'yes', again)).code).toBe(0);
    const ok = await callRest(ts.url, safe, 'proxmox_api', { ...args, confirmation_id: again });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(snapshots().has(name)).toBe(false);
    // History says who approved it and how strong the yes was.
    await ts.server.store.history.flush();
    const history = await callRest(ts.url, admin, 'get_command_history', { tool: 'proxmox_api', outcome: 'ok', limit: 5 });
    const entry = history.body.data.entries.find((row: any) => row.arguments?.path === args.path && row.arguments?.method === 'DELETE');
    expect(entry).toMatchObject({ approved_by: 'host:test-admin', approval: 'proof' });
  });
});

describe('other targets: the object a PUT or DELETE changes', () => {
  it('a user changed after the approval voids it; unchanged, the approval runs', async () => {
    const safe = await ts.createToken({ role: 'admin', mode: 'safe' });
    const args = { method: 'PUT', path: '/access/users/bob@pve', params: { email: 'bob@example.invalid' } };
    const asked = await callRest(ts.url, safe, 'proxmox_api', args);
    expect(asked.status, JSON.stringify(asked.body)).toBe(428);
    const id = asked.body.error.details.approval_id as string;
    await approveCli(ts.server.store, 'yes', id);
    expect((await callRest(ts.url, admin, 'proxmox_api', { method: 'PUT', path: '/access/users/bob@pve', params: { comment: `changed ${Date.now()}` } })).status).toBe(200);
    const run = await callRest(ts.url, safe, 'proxmox_api', { ...args, confirmation_id: id });
    expect(run.status).toBe(428);
    expect(run.body.error.message).toMatch(/target changed/);
    const again = run.body.error.details.approval_id as string;
    await approveCli(ts.server.store, 'yes', again);
    const ok = await callRest(ts.url, safe, 'proxmox_api', { ...args, confirmation_id: again });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ts.sim.state.users.get('bob@pve')!.email).toBe('bob@example.invalid');
  });

  it('finds those objects in the plan', () => {
    expect(objectTargets({ summary: 'x', risk: 'high', reversible: false, apiCalls: ['PUT /access/users/bob@pve', 'DELETE /api2/json/nodes/pve1/storage/local/content/local:iso/x.iso', 'POST /nodes/pve1/qemu', 'PUT /nodes/pve1/qemu/100/config'] })).toEqual([
      '/access/users/bob@pve',
      '/nodes/pve1/storage/local/content/local:iso/x.iso',
    ]);
  });
});

describe('explain_command says which strength a call needs', () => {
  it('proof for a destructive call in safe mode, nothing for the same call in normal mode', async () => {
    const safe = await ts.createToken({ role: 'operator', mode: 'safe' });
    const normal = await ts.createToken({ role: 'operator', mode: 'normal' });
    const call = { tool: 'proxmox_api', arguments: { method: 'DELETE', path: `/nodes/${guest.node}/qemu/${guest.vmid}/snapshot/nope` } };
    const asked = await callRest(ts.url, safe, 'explain_command', call);
    expect(asked.body.data.verdict).toMatchObject({ outcome: 'needs_confirmation', why: expect.stringMatching(/proof/) });
    const runs = await callRest(ts.url, normal, 'explain_command', call);
    expect(runs.body.data.verdict.outcome).toBe('runs');
  });
});

describe('targets found in the plan', () => {
  it('a typed tool (vm_action) binds to its guest: a config change after the approval voids an approved stop', async () => {
    const safe = await ts.createToken({ role: 'operator', mode: 'safe' });
    const before = ts.sim.state.guests.get(guest.vmid)!.status;
    const args = { vmid: guest.vmid, action: 'stop' };
    const asked = await callRest(ts.url, safe, 'vm_action', args);
    expect(asked.status, JSON.stringify(asked.body)).toBe(428);
    const id = asked.body.error.details.approval_id as string;
    await approveCli(ts.server.store, 'yes', id);
    expect((await callRest(ts.url, admin, 'proxmox_api', { method: 'PUT', path: `/nodes/${guest.node}/qemu/${guest.vmid}/config`, params: { description: `moved on ${Date.now()}` } })).status).toBe(200);
    const run = await callRest(ts.url, safe, 'vm_action', { ...args, confirmation_id: id });
    expect(run.status).toBe(428);
    expect(run.body.error.message).toMatch(/target changed/);
    expect(ts.sim.state.guests.get(guest.vmid)!.status).toBe(before);
  });

  it('reads guests from the plan\'s Proxmox requests (a qm line in execute_command is planned as its API request)', () => {
    expect(guestTargets({ node: 'pve1', command: 'qm set 101 --memory 4096' }, { summary: 'x', risk: 'medium', reversible: true, apiCalls: ['PUT /nodes/pve1/qemu/101/config', 'POST /api2/json/nodes/pve2/lxc/200/status/start'] })).toEqual([
      { node: 'pve1', type: 'qemu', vmid: 101 },
      { node: 'pve2', type: 'lxc', vmid: 200 },
    ]);
    expect(guestTargets({ vmids: [3, 1, 2, 4, 5, 6, 7] }).map((t) => t.vmid)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('Claude Code (URL elicitation) when the target changes after the approval', () => {
  it('is sent to a new approval page; once that is approved the call runs', async () => {
    approvalTimings.afterUrlElicitationSeconds = 2;
    const approver = await addApprover(ts.server.store);
    const safe = await ts.createToken({ role: 'operator', mode: 'safe' });
    const { name, args } = await makeSnapshot();
    const urls: string[] = [];
    const client = await connectClient(ts.mcpUrl, safe, 'modern', { elicitation: { form: {}, url: {} } });
    client.setRequestHandler('elicitation/create', async (request) => {
      const params = request.params as { mode?: string; url?: string };
      if (params.mode !== 'url' || !params.url) return { action: 'decline' };
      urls.push(params.url);
      const decided = await decideOnPage(ts.url, params.url.split('/').pop()!, approver);
      expect(decided.status, decided.html).toBe(200);
      if (urls.length === 1) {
        // Someone changes the guest between the approval and the client's retry.
        await callRest(ts.url, admin, 'proxmox_api', { method: 'PUT', path: `/nodes/${guest.node}/qemu/${guest.vmid}/config`, params: { description: `raced ${Date.now()}` } });
      }
      return { action: 'accept' };
    });
    try {
      const result = await client.callTool({ name: 'proxmox_api', arguments: args });
      expect(result.isError ?? false, JSON.stringify(result)).toBe(false);
    } finally {
      await client.close();
      approvalTimings.afterUrlElicitationSeconds = 0;
    }
    expect(urls).toHaveLength(2);
    expect(urls[0]).not.toBe(urls[1]);
    expect((await approvalsOf(ts.server.store).get(urls[0]!.split('/').pop()!))!.status).toBe('void');
    expect(snapshots().has(name)).toBe(false);
  });
});

describe('per-token proof settings (host CLI only) and normal mode', () => {
  it('normal mode runs a destructive call with warnings by default; with proof=destructive it needs proof; writes still run', async () => {
    const name = `normal-${++counter}`;
    const secret = await ts.createToken({ name, role: 'operator', mode: 'normal' });
    const a = await makeSnapshot();
    const ran = await callRest(ts.url, secret, 'proxmox_api', a.args);
    expect(ran.status).toBe(200);
    expect(ran.body.warnings.join(' ')).toMatch(/cannot be undone/);

    const token = (await ts.server.store.tokens.byName(name))!;
    await ts.server.store.tokens.setProof(token.id, 'destructive');
    const b = await makeSnapshot();
    const asked = await callRest(ts.url, secret, 'proxmox_api', b.args);
    expect(asked.status).toBe(428);
    expect(asked.body.error.details.reason).toMatch(/admin chose proof for destructive/);
    expect(snapshots().has(b.name)).toBe(true);
    const write = await callRest(ts.url, secret, 'proxmox_api', { method: 'PUT', path: `/nodes/${guest.node}/qemu/${guest.vmid}/config`, params: { description: 'normal write' } });
    expect(write.status).toBe(200);

    await ts.server.store.tokens.setProof(token.id, 'changes');
    const write2 = await callRest(ts.url, secret, 'proxmox_api', { method: 'PUT', path: `/nodes/${guest.node}/qemu/${guest.vmid}/config`, params: { description: 'needs proof now' } });
    expect(write2.status).toBe(428);
  });

  it('with proof=changes, a client that can ask is not asked: it gets approval_required', async () => {
    const name = `changes-${++counter}`;
    const secret = await ts.createToken({ name, role: 'operator', mode: 'safe' });
    await ts.server.store.tokens.setProof((await ts.server.store.tokens.byName(name))!.id, 'changes');
    const client = await connectClient(ts.mcpUrl, secret, 'modern', { elicitation: { form: {} } });
    const prompts: unknown[] = [];
    client.setRequestHandler('elicitation/create', async (request) => {
      prompts.push(request.params);
      return { action: 'accept', content: { confirm: true } };
    });
    try {
      const result = await client.callTool({ name: 'proxmox_api', arguments: { method: 'PUT', path: `/nodes/${guest.node}/qemu/${guest.vmid}/config`, params: { description: 'asked?' } } });
      expect(result.isError).toBe(true);
      expect((result.structuredContent as any).error.code).toBe('approval_required');
      expect(prompts).toHaveLength(0);
    } finally {
      await client.close();
    }
  });
});

describe('asking again', () => {
  it('the same call for the same target gets the same pending approval, not a pile of them', async () => {
    const safe = await ts.createToken({ role: 'operator', mode: 'safe' });
    const { args } = await makeSnapshot();
    const first = await callRest(ts.url, safe, 'proxmox_api', args);
    const second = await callRest(ts.url, safe, 'proxmox_api', args);
    expect(second.body.error.details.approval_id).toBe(first.body.error.details.approval_id);
    const other = await ts.createToken({ role: 'operator', mode: 'safe' });
    const third = await callRest(ts.url, other, 'proxmox_api', args);
    expect(third.body.error.details.approval_id).not.toBe(first.body.error.details.approval_id);
  });
});

describe('waiting on the same call', () => {
  it.each(['modern', 'legacy'] as const)('MCP (%s) with wait_seconds sends progress while it waits, then runs when approved', async (era) => {
    const safe = await ts.createToken({ role: 'operator', mode: 'safe' });
    const { name, args } = await makeSnapshot();
    const client = await connectClient(ts.mcpUrl, safe, era);
    try {
      const first = await client.callTool({ name: 'proxmox_api', arguments: args });
      const id = (first.structuredContent as any).error.details.approval_id as string;
      const progress: string[] = [];
      const waiting = client.callTool({ name: 'proxmox_api', arguments: { ...args, confirmation_id: id, wait_seconds: 30 } }, {
        onprogress: (update: { message?: string }) => progress.push(String(update.message)),
        resetTimeoutOnProgress: true,
      } as never);
      await new Promise((resolve) => setTimeout(resolve, 5_800));
      expect(snapshots().has(name)).toBe(true);
      await approveCli(ts.server.store, 'yes', id);
      const result = await waiting;
      expect(result.isError ?? false, JSON.stringify(result)).toBe(false);
      expect(progress.some((message) => message.includes(id))).toBe(true);
    } finally {
      await client.close();
    }
    expect(snapshots().has(name)).toBe(false);
  }, 30_000);

  it('REST with wait_seconds returns 200 once an approver says yes meanwhile; refuses a nonsense wait', async () => {
    const safe = await ts.createToken({ role: 'operator', mode: 'safe' });
    const { name, args } = await makeSnapshot();
    const bad = await callRest(ts.url, safe, 'proxmox_api', { ...args, wait_seconds: 'soon' });
    expect(bad.status).toBe(400);
    const pending = callRest(ts.url, safe, 'proxmox_api', { ...args, wait_seconds: 20 });
    let id: string | undefined;
    for (let i = 0; i < 40 && !id; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      id = (await approvalsOf(ts.server.store).pending()).find((row) => row.args.includes(name))?.id;
    }
    expect(id).toBeDefined();
    expect(snapshots().has(name)).toBe(true);
    await approveCli(ts.server.store, 'yes', id!);
    const done = await pending;
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(snapshots().has(name)).toBe(false);
  });
});
