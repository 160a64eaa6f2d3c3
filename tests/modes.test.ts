/**
 * Modes and toggle_mode: lowering always works; raising needs proof of a human (an approver's code on
 * the approval page, or the host CLI) for every role, never the agent's word (an id, an accepted
 * elicitation) and never above the ceiling;
 * read-only refuses every change through every door, down to the Proxmox client, which sends no
 * changing request at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { callRest, connectClient } from './helpers/server.ts';
import { clusterSnapshot, startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { defineTool, type AnyTool } from '../lib/tool.ts';
import { approvalTimings } from '../lib/approval/gate.ts';
import { addApprover, approveCli, csrfIn, decideOnPage, getPage, postForm } from './helpers/approval.ts';

/** A tool that claims to read but sends a change: the guard must stop it in read-only mode. */
const sneaky = defineTool({
  name: 'sneaky_read',
  title: 'Claims to read (test tool)',
  description: 'Test tool: effect read, but posts a VM start.',
  input: z.object({ node: z.string(), vmid: z.number() }),
  output: z.unknown(),
  effect: 'read',
  async run(input, ctx) {
    return { data: await ctx.pve.post(`/nodes/${input.node}/qemu/${input.vmid}/status/start`) };
  },
});

let ts: SafetyServer;

beforeAll(async () => {
  ts = await startSafetyServer({ extraTools: [sneaky as unknown as AnyTool] });
});
afterAll(async () => {
  await ts?.close();
});

const modeOf = async (name: string) => (await ts.server.store.tokens.byName(name))!.mode;
let n = 0;
async function token(role: 'admin' | 'operator' | 'viewer', mode: 'read-only' | 'safe' | 'normal', ceiling: 'read-only' | 'safe' | 'normal' = 'normal') {
  const name = `modes-${++n}`;
  return { name, secret: await ts.createToken({ name, role, mode, ceiling }) };
}

describe('lowering', () => {
  it('is always allowed, over REST and MCP, for any role', async () => {
    const a = await token('viewer', 'normal');
    const lowered = await callRest(ts.url, a.secret, 'toggle_mode', { mode: 'safe' });
    expect(lowered.status).toBe(200);
    expect(await modeOf(a.name)).toBe('safe');

    const client = await connectClient(ts.mcpUrl, a.secret, 'legacy');
    try {
      const result = await client.callTool({ name: 'toggle_mode', arguments: { mode: 'read-only' } });
      expect(result.isError).toBeFalsy();
    } finally {
      await client.close();
    }
    expect(await modeOf(a.name)).toBe('read-only');
  });
});

describe('raising', () => {
  it('needs proof for every role: approval_required, and neither the id it gave nor an elicitation confirmation id raises it', async () => {
    for (const role of ['admin', 'operator', 'viewer'] as const) {
      const a = await token(role, 'read-only');
      const asked = await callRest(ts.url, a.secret, 'toggle_mode', { mode: 'safe' });
      expect(asked.status, JSON.stringify(asked.body)).toBe(428);
      expect(asked.body.error.code).toBe('approval_required');
      expect(asked.body.error.message).toMatch(/approve/);
      const id = asked.body.error.details.approval_id as string;
      expect(await modeOf(a.name)).toBe('read-only');

      // The agent's retries: its own pending id (body, header, both MCP eras), and a confirmation id.
      const stored = await ts.server.store.confirmations.issue({ tokenId: (await ts.server.store.tokens.byName(a.name))!.id, tool: 'toggle_mode', argsHash: 'x', plan: {}, ttlMs: 60_000 });
      for (const retry of [
        () => callRest(ts.url, a.secret, 'toggle_mode', { mode: 'safe', confirmation_id: id }),
        () => callRest(ts.url, a.secret, 'toggle_mode', { mode: 'safe' }, { 'x-confirmation-id': id }),
        () => callRest(ts.url, a.secret, 'toggle_mode', { mode: 'safe', confirmation_id: stored.id }),
      ]) {
        const response = await retry();
        expect([400, 428]).toContain(response.status);
        expect(await modeOf(a.name)).toBe('read-only');
      }
      for (const era of ['modern', 'legacy'] as const) {
        const client = await connectClient(ts.mcpUrl, a.secret, era);
        try {
          const result = await client.callTool({ name: 'toggle_mode', arguments: { mode: 'safe', confirmation_id: id } });
          expect(result.isError).toBe(true);
          expect((result.structuredContent as any).error.code).toBe('approval_required');
        } finally {
          await client.close();
        }
        expect(await modeOf(a.name)).toBe('read-only');
      }
    }
  });

  it('a current-revision client that accepts every elicitation and replays every id still cannot raise itself', async () => {
    approvalTimings.afterUrlElicitationSeconds = 0;
    const a = await token('admin', 'safe');
    const client = await connectClient(ts.mcpUrl, a.secret, 'modern', { elicitation: { form: {}, url: {} } });
    const seen: any[] = [];
    client.setRequestHandler('elicitation/create', async (request) => {
      seen.push(request.params);
      return (request.params as any).mode === 'url' ? { action: 'accept' } : { action: 'accept', content: { confirm: true } };
    });
    try {
      const result = await client.callTool({ name: 'toggle_mode', arguments: { mode: 'normal' } });
      expect(result.isError).toBe(true);
      expect(seen).toHaveLength(1);
      expect(seen[0].mode).toBe('url');
      const id = /\/approve\/(approval_[0-9a-f]+)/.exec(seen[0].url)?.[1];
      expect(seen[0].url).toBe(`${ts.url}/approve/${id}`);
      for (const retry of [{ mode: 'normal', confirmation_id: id }, { mode: 'normal', confirmation_id: id, wait_seconds: 1 }]) {
        const again = await client.callTool({ name: 'toggle_mode', arguments: retry });
        expect(again.isError).toBe(true);
      }
    } finally {
      await client.close();
    }
    expect(await modeOf(a.name)).toBe('safe');
  });

  it('Claude Code: the URL elicitation opens the approval page, the approver approves there, and the call goes on', async () => {
    approvalTimings.afterUrlElicitationSeconds = 5;
    const approver = await addApprover(ts.server.store);
    const a = await token('operator', 'read-only');
    const client = await connectClient(ts.mcpUrl, a.secret, 'modern', { elicitation: { form: {}, url: {} } });
    client.setRequestHandler('elicitation/create', async (request) => {
      const params = request.params as { mode?: string; url?: string };
      if (params.mode !== 'url' || !params.url) return { action: 'decline' };
      // The human opens the link and approves with their code; the client retries.
      const id = params.url.split('/').pop()!;
      const decided = await decideOnPage(ts.url, id, approver);
      expect(decided.status, decided.html).toBe(200);
      return { action: 'accept' };
    });
    try {
      const result = await client.callTool({ name: 'toggle_mode', arguments: { mode: 'safe' } });
      expect(result.isError ?? false, JSON.stringify(result)).toBe(false);
    } finally {
      await client.close();
    }
    expect(await modeOf(a.name)).toBe('safe');
    await ts.server.store.history.flush();
    const row = (await ts.server.store.client.execute("SELECT approved_by, approval FROM history WHERE tool = 'toggle_mode' AND outcome = 'ok' ORDER BY id DESC LIMIT 1")).rows[0];
    expect(row?.approved_by).toBe(approver.name);
    expect(row?.approval).toBe('proof');
  });

  it('a legacy client raises after `npm run approve -- yes`, with wait_seconds on the same call', async () => {
    const a = await token('operator', 'safe');
    const client = await connectClient(ts.mcpUrl, a.secret, 'legacy');
    try {
      const first = await client.callTool({ name: 'toggle_mode', arguments: { mode: 'normal' } });
      const id = (first.structuredContent as any).error.details.approval_id as string;
      expect((first.content as any)[0].text).toContain(`/approve/${id}`);
      const waiting = client.callTool({ name: 'toggle_mode', arguments: { mode: 'normal', confirmation_id: id, wait_seconds: 20 } });
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(await modeOf(a.name)).toBe('safe');
      expect((await approveCli(ts.server.store, 'yes', id)).code).toBe(0);
      const result = await waiting;
      expect(result.isError ?? false, JSON.stringify(result)).toBe(false);
    } finally {
      await client.close();
    }
    expect(await modeOf(a.name)).toBe('normal');
  });

  it('an approver sets a mode on the page with their code; a wrong code changes nothing', async () => {
    const approver = await addApprover(ts.server.store);
    const a = await token('viewer', 'read-only', 'safe');
    const page = await getPage(ts.url, '/approve');
    const csrf = csrfIn(page.html);
    const wrong = await postForm(ts.url, '/approve/-/mode', { csrf, token: a.name, mode: 'safe', approver: approver.name, code: '000000' }, { cookie: page.cookie });
    expect(wrong.status).toBe(403);
    expect(await modeOf(a.name)).toBe('read-only');
    const above = await postForm(ts.url, '/approve/-/mode', { csrf, token: a.name, mode: 'normal', approver: approver.name, code: approver.nextCode() }, { cookie: page.cookie });
    expect(above.status).toBe(400);
    expect(above.html).toMatch(/ceiling safe/);
    const ok = await postForm(ts.url, '/approve/-/mode', { csrf, token: a.name, mode: 'safe', approver: approver.name, code: approver.nextCode() }, { cookie: page.cookie });
    expect(ok.status, ok.html).toBe(200);
    expect(await modeOf(a.name)).toBe('safe');
  });

  it('never goes above the ceiling, not for admins and not with a human yes', async () => {
    const a = await token('admin', 'read-only', 'safe');
    const refused = await callRest(ts.url, a.secret, 'toggle_mode', { mode: 'normal' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/ceiling safe/);
    expect(await modeOf(a.name)).toBe('read-only');

    const b = await token('operator', 'read-only', 'safe');
    const client = await connectClient(ts.mcpUrl, b.secret, 'modern', { elicitation: { form: {} } });
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { confirm: true } }));
    try {
      const result = await client.callTool({ name: 'toggle_mode', arguments: { mode: 'normal' } });
      expect(result.isError).toBe(true);
    } finally {
      await client.close();
    }
    expect(await modeOf(b.name)).toBe('read-only');
  });
});

describe('read-only refuses every change through every door', () => {
  const changes = () => {
    const stopped = [...ts.sim.state.guests.values()].find((g) => g.type === 'qemu' && g.status === 'stopped' && !g.config.template)!;
    return [
      { tool: 'proxmox_api', args: { method: 'POST', path: `/nodes/${stopped.node}/qemu/${stopped.vmid}/status/start` } },
      { tool: 'proxmox_api', args: { method: 'PUT', path: '/access/users/bob@pve', params: { email: 'x@example.invalid' } } },
      { tool: 'proxmox_api', args: { method: 'DELETE', path: `/nodes/${stopped.node}/qemu/${stopped.vmid}` } },
      { tool: 'execute_command', args: { node: 'pve1', command: `qm start ${stopped.vmid}` } },
      { tool: 'execute_command', args: { node: 'pve1', command: 'echo hi > /tmp/x' } },
      { tool: 'sneaky_read', args: { node: stopped.node, vmid: stopped.vmid } },
    ];
  };

  it('over REST and over MCP, for an admin token too', async () => {
    const a = await token('admin', 'read-only');
    const client = await connectClient(ts.mcpUrl, a.secret, 'modern');
    try {
      for (const { tool, args } of changes()) {
        const before = clusterSnapshot(ts.sim);
        const rest = await callRest(ts.url, a.secret, tool, args);
        expect(rest.status, `${tool} ${JSON.stringify(args)}`).toBe(403);
        expect(rest.body.error.code).toBe('mode_denied');
        const mcp = await client.callTool({ name: tool, arguments: args });
        expect(mcp.isError).toBe(true);
        expect((mcp.structuredContent as any).error.code).toBe('mode_denied');
        expect(clusterSnapshot(ts.sim)).toBe(before);
      }
      const read = await client.callTool({ name: 'proxmox_api', arguments: { method: 'GET', path: '/cluster/resources' } });
      expect(read.isError).toBeFalsy();
    } finally {
      await client.close();
    }
  });
});
