/**
 * Confirmation in safe mode, through a real MCP client in both eras and over REST (issue 13):
 *  - a client that can elicit (current revision, form): the SDK client answers the input_required
 *    result through its elicitation/create handler; yes runs the change (an "ask"), no changes nothing;
 *  - a client that cannot ask (legacy revision, no elicitation, REST) gets approval_required with the
 *    approval page's URL and an id: the id runs nothing until an approver approved it (page or host
 *    CLI); then it runs once; reuse, another token, other arguments, another tool and expiry are refused;
 *  - an id the agent types in (a confirmation id of an elicitation, an approval id still pending) is
 *    never a yes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRest, connectClient, type Era } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import type { SimGuest } from '../lib/simulator/index.ts';
import { z } from 'zod';
import { defineTool, type AnyTool } from '../lib/tool.ts';
import { addApprover, approveCli, decideOnPage, type TestApprover } from './helpers/approval.ts';

let ts: SafetyServer;
let safe: string;
let guest: SimGuest;
let counter = 0;
let approver: TestApprover;
const notes: string[] = [];

/** A second tool that changes something, to show an id is bound to its tool. */
const setNote = defineTool({
  name: 'set_note',
  title: 'Set a note (test tool)',
  description: 'Test tool: stores a note in memory.',
  input: z.object({ text: z.string() }),
  output: z.object({ text: z.string() }),
  effect: 'write',
  async run(input) {
    notes.push(input.text);
    return { data: { text: input.text } };
  },
});

beforeAll(async () => {
  ts = await startSafetyServer({ extraTools: [setNote as unknown as AnyTool] });
  safe = await ts.createToken({ name: 'confirm-safe', role: 'operator', mode: 'safe', ceiling: 'normal' });
  guest = [...ts.sim.state.guests.values()].find((g) => g.type === 'qemu' && !g.config.protection && !g.config.template)!;
  approver = await addApprover(ts.server.store);
  await ts.server.store.settings.set('approval.public_url', ts.url);
});
afterAll(async () => {
  await ts?.close();
});

/** A change whose effect is easy to see: a new description on one VM. */
function describeCall(text = `note ${++counter}`) {
  return { args: { method: 'PUT', path: `/nodes/${guest.node}/qemu/${guest.vmid}/config`, params: { description: text } }, text };
}
const description = () => ts.sim.state.guests.get(guest.vmid)!.config.description;

async function elicitingClient(era: Era, answer: 'accept' | 'decline' | 'cancel', seen: string[]) {
  const client = await connectClient(ts.mcpUrl, safe, era, { elicitation: { form: {} } });
  client.setRequestHandler('elicitation/create', async (request) => {
    seen.push(String((request.params as { message?: string }).message));
    return answer === 'accept' ? { action: 'accept', content: { confirm: true } } : { action: answer };
  });
  return client;
}

describe('MCP, client with elicitation, current revision', () => {
  it('asks the user with the plan and runs the change on yes', async () => {
    const seen: string[] = [];
    const client = await elicitingClient('modern', 'accept', seen);
    try {
      const { args, text } = describeCall();
      const result = await client.callTool({ name: 'proxmox_api', arguments: args });
      expect(result.isError, JSON.stringify(result)).toBeFalsy();
      expect(description()).toBe(text);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toContain(`PUT /api2/json/nodes/${guest.node}/qemu/${guest.vmid}/config with description=${text}`);
      expect(seen[0]).toMatch(/Risk: medium/);
    } finally {
      await client.close();
    }
  });

  it.each(['decline', 'cancel'] as const)('changes nothing on %s, and records the refusal', async (answer) => {
    const seen: string[] = [];
    const client = await elicitingClient('modern', answer, seen);
    try {
      const before = description();
      const { args } = describeCall();
      const result = await client.callTool({ name: 'proxmox_api', arguments: args });
      expect(result.isError).toBe(true);
      expect((result.structuredContent as any).error.code).toBe('declined');
      expect(seen).toHaveLength(1);
      expect(description()).toBe(before);
      const history = await callRest(ts.url, safe, 'get_command_history', { tool: 'proxmox_api', outcome: 'refused' });
      expect(history.body.data.entries.some((row: any) => row.error_code === 'declined')).toBe(true);
    } finally {
      await client.close();
    }
  });
});

describe('MCP, legacy revision (stateless): proof, even when the client can elicit', () => {
  it('answers approval_required with the page URL instead of an elicitation; the id runs only after an approver said yes', async () => {
    const seen: string[] = [];
    const client = await elicitingClient('legacy', 'accept', seen);
    try {
      const { args, text } = describeCall();
      const first = await client.callTool({ name: 'proxmox_api', arguments: args });
      expect(first.isError).toBe(true);
      const envelope = first.structuredContent as any;
      expect(envelope.error.code).toBe('approval_required');
      const id = envelope.error.details.approval_id as string;
      expect(id).toMatch(/^approval_/);
      expect(envelope.error.details.approval_url).toBe(`${ts.url}/approve/${id}`);
      expect((first.content as any)[0].text).toContain(`/approve/${id}`);
      expect(seen).toHaveLength(0);
      // The agent replays the id at once: nothing runs, it is still waiting for a human.
      const replay = await client.callTool({ name: 'proxmox_api', arguments: { ...args, confirmation_id: id } });
      expect((replay.structuredContent as any).error.code).toBe('approval_required');
      expect(description()).not.toBe(text);
      expect((await approveCli(ts.server.store, 'yes', id)).code).toBe(0);
      const second = await client.callTool({ name: 'proxmox_api', arguments: { ...args, confirmation_id: id } });
      expect(second.isError, JSON.stringify(second)).toBeFalsy();
      expect(description()).toBe(text);
    } finally {
      await client.close();
    }
  });
});

describe.each(['modern', 'legacy'] as const)('MCP, client without elicitation (%s)', (era) => {
  it('refuses with the plan and an approval id; after the page approves, the id runs once; reuse and other arguments are refused', async () => {
    const client = await connectClient(ts.mcpUrl, safe, era);
    try {
      const { args, text } = describeCall();
      const first = await client.callTool({ name: 'proxmox_api', arguments: args });
      expect(first.isError).toBe(true);
      const envelope = first.structuredContent as any;
      expect(envelope.error.code).toBe('approval_required');
      expect(envelope.explanation).toMatch(/Risk: medium/);
      expect(envelope.error.details.plan.apiCalls).toEqual([`PUT /nodes/${guest.node}/qemu/${guest.vmid}/config`]);
      const id = envelope.error.details.approval_id as string;
      expect(description()).not.toBe(text);

      const decided = await decideOnPage(ts.url, id, approver);
      expect(decided.status, decided.html).toBe(200);
      expect(decided.html).toContain('Approved.');

      const other = describeCall();
      const wrongArgs = await client.callTool({ name: 'proxmox_api', arguments: { ...other.args, confirmation_id: id } });
      expect(wrongArgs.isError).toBe(true);
      expect((wrongArgs.structuredContent as any).error.code).toBe('invalid_input');
      expect(description()).not.toBe(other.text);

      const ok = await client.callTool({ name: 'proxmox_api', arguments: { ...args, confirmation_id: id } });
      expect(ok.isError, JSON.stringify(ok)).toBeFalsy();
      expect(description()).toBe(text);

      ts.sim.state.guests.get(guest.vmid)!.config.description = 'reset';
      const reused = await client.callTool({ name: 'proxmox_api', arguments: { ...args, confirmation_id: id } });
      expect(reused.isError).toBe(true);
      expect((reused.structuredContent as any).error.message).toMatch(/already used/);
      expect(description()).toBe('reset');
    } finally {
      await client.close();
    }
  });
});

describe('REST confirmation', () => {
  it('answers 428 approval_required; after `npm run approve -- yes` the id in the body or the X-Confirmation-Id header runs it', async () => {
    for (const how of ['body', 'header'] as const) {
      const { args, text } = describeCall();
      const first = await callRest(ts.url, safe, 'proxmox_api', args);
      expect(first.status).toBe(428);
      expect(first.body.error.code).toBe('approval_required');
      expect(first.body.explanation).toMatch(/Can be undone|Cannot be undone/);
      const id = first.body.error.details.approval_id as string;
      expect(description()).not.toBe(text);
      const early = await callRest(ts.url, safe, 'proxmox_api', { ...args, confirmation_id: id });
      expect(early.status).toBe(428);
      expect(description()).not.toBe(text);
      expect((await approveCli(ts.server.store, 'yes', id)).out).toMatch(/Approved/);
      const second = how === 'body' ? await callRest(ts.url, safe, 'proxmox_api', { ...args, confirmation_id: id }) : await callRest(ts.url, safe, 'proxmox_api', args, { 'x-confirmation-id': id });
      expect(second.status, JSON.stringify(second.body)).toBe(200);
      expect(description()).toBe(text);
      await ts.server.store.history.flush();
      const row = (await ts.server.store.client.execute("SELECT approved_by, approval FROM history WHERE tool = 'proxmox_api' AND outcome = 'ok' ORDER BY id DESC LIMIT 1")).rows[0];
      expect(row?.approved_by).toBe('host:test-admin');
      expect(row?.approval).toBe('proof');
    }
  });

  it('refuses an approved id from another token, for another tool, after it expired, and a denied one', async () => {
    const { args, text } = describeCall();
    const first = await callRest(ts.url, safe, 'proxmox_api', args);
    const id = first.body.error.details.approval_id as string;
    await approveCli(ts.server.store, 'yes', id);

    const otherToken = await ts.createToken({ role: 'operator', mode: 'safe', ceiling: 'normal' });
    const stolen = await callRest(ts.url, otherToken, 'proxmox_api', { ...args, confirmation_id: id });
    expect(stolen.status).toBe(400);
    expect(stolen.body.error.message).toMatch(/another client, tool or other arguments/);

    const otherTool = await callRest(ts.url, safe, 'set_note', { text, confirmation_id: id });
    expect(otherTool.status).toBe(400);
    expect(otherTool.body.error.message).toMatch(/another client, tool or other arguments/);
    expect(notes).toHaveLength(0);
    expect(description()).not.toBe(text);

    const denied = describeCall();
    const asked = await callRest(ts.url, safe, 'proxmox_api', denied.args);
    const deniedId = asked.body.error.details.approval_id as string;
    await approveCli(ts.server.store, 'no', deniedId);
    const afterNo = await callRest(ts.url, safe, 'proxmox_api', { ...denied.args, confirmation_id: deniedId });
    expect(afterNo.status).toBe(403);
    expect(afterNo.body.error.message).toMatch(/denied/);
    expect(description()).not.toBe(denied.text);

    const short = describeCall();
    const shortAsk = await callRest(ts.url, safe, 'proxmox_api', short.args);
    const shortId = shortAsk.body.error.details.approval_id as string;
    await approveCli(ts.server.store, 'yes', shortId);
    await ts.server.store.client.execute({ sql: 'UPDATE approvals SET expires_at = ? WHERE id = ?', args: [Date.now() - 1, shortId] });
    const expired = await callRest(ts.url, safe, 'proxmox_api', { ...short.args, confirmation_id: shortId });
    expect(expired.status).toBe(400);
    expect(expired.body.error.message).toMatch(/expired/);
    expect(description()).not.toBe(short.text);

    const still = await callRest(ts.url, safe, 'proxmox_api', { ...args, confirmation_id: id });
    expect(still.status).toBe(200);
    expect(description()).toBe(text);
  });
});

describe('what each mode attaches', () => {
  it('normal mode runs a destructive call with its warnings', async () => {
    const normal = await ts.createToken({ role: 'admin', mode: 'normal', ceiling: 'normal' });
    const snapshot = Object.keys(Object.fromEntries(ts.sim.state.guests.get(guest.vmid)!.snapshots));
    const name = snapshot[0];
    if (!name) {
      const created = await callRest(ts.url, normal, 'proxmox_api', { method: 'POST', path: `/nodes/${guest.node}/qemu/${guest.vmid}/snapshot`, params: { snapname: 'warnme' } });
      expect(created.status).toBe(200);
    }
    const target = name ?? 'warnme';
    const response = await callRest(ts.url, normal, 'proxmox_api', { method: 'DELETE', path: `/nodes/${guest.node}/qemu/${guest.vmid}/snapshot/${target}` });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body.warnings.join(' ')).toMatch(/cannot be undone/);
  });
});
