/**
 * The guest tools through the real doors: each one over MCP (official client) and over REST, MCP
 * annotations from the effects, safe mode's confirmation, the runtime's privilege check naming the
 * privilege and path (a server whose Proxmox token is the read-only auditor), and proof that every
 * request the tools sent is in the endpoint contract.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import contract from '../lib/pve/api-contract.json' with { type: 'json' };
import { createSimulator, type Simulator } from '../lib/simulator/index.ts';
import { serveSimulator } from '../lib/simulator/serve.ts';
import { AUDITOR_TOKEN } from '../lib/simulator/state.ts';
import { defineTool, type AnyTool } from '../lib/tool.ts';
import { loadRouteTable } from '../lib/runtime/rest.ts';
import { z } from 'zod';
import { callRest, connectClient, startTestServer, type TestServer } from './helpers/server.ts';
import { approveCli } from './helpers/approval.ts';
import listVms from '../functions/list_vms.ts';
import listContainers from '../functions/list_containers.ts';
import vmStatus from '../functions/vm_status.ts';
import containerStatus from '../functions/container_status.ts';
import vmAction from '../functions/vm_action.ts';
import containerAction from '../functions/container_action.ts';
import guestConfig from '../functions/guest_config.ts';
import guestConfigGet from '../functions/guest_config_get.ts';
import guestCreate from '../functions/guest_create.ts';
import guestExec from '../functions/guest_exec.ts';

const guestTools = [listVms, listContainers, vmStatus, containerStatus, vmAction, containerAction, guestConfig, guestConfigGet, guestCreate, guestExec] as unknown as AnyTool[];

/** Only the guest tools, plus inert stand-ins for functions routes.json names (so the server starts). */
function withRouteStubs(list: AnyTool[]): AnyTool[] {
  const names = new Set(list.map((tool) => tool.name));
  const missing = [...new Set(loadRouteTable().routes.map((route) => route.function))].filter((name) => !names.has(name));
  const stub = (name: string) =>
    defineTool({ name, title: `${name} (stub)`, description: 'Stand-in so routes.json resolves in this test.', input: z.object({}), output: z.unknown(), effect: 'read', run: async () => ({ data: null }) }) as unknown as AnyTool;
  return [...list, ...missing.map(stub)];
}

const tools = withRouteStubs(guestTools);

let sim: Simulator;
let ts: TestServer;
let normal: string;

beforeAll(async () => {
  sim = createSimulator({ taskDurationMs: 5 });
  ts = await startTestServer({ build: { simulator: sim, tools } });
  normal = await ts.createToken({ name: 'guests-normal', role: 'admin', mode: 'normal', ceiling: 'normal' });
});
afterAll(async () => {
  await ts?.close();
});

/** One call per tool, in an order that leaves the cluster consistent. */
const calls: Array<[string, Record<string, unknown>, (data: any) => void]> = [
  ['list_vms', { tag: 'prod' }, (data) => expect(data.guests.map((g: any) => g.vmid)).toEqual(expect.arrayContaining([100, 101]))],
  ['list_containers', {}, (data) => expect(data.guests.map((g: any) => g.vmid)).toEqual(expect.arrayContaining([103, 104]))],
  ['vm_status', { vmid: 100, include: ['ips'] }, (data) => expect(data).toMatchObject({ name: 'web01', status: 'running' })],
  ['container_status', { vmid: 103 }, (data) => expect(data).toMatchObject({ name: 'dns01' })],
  ['guest_config_get', { vmid: 105 }, (data) => expect(data.digest).toMatch(/^[0-9a-f]{40}$/)],
  ['guest_exec', { vmid: 100, command: ['hostname'] }, (data) => expect(data.stdout).toBe('web01\n')],
];

describe('over MCP', () => {
  it('lists the guest tools with annotations from their effects and small input schemas', async () => {
    const client = await connectClient(ts.mcpUrl, normal);
    try {
      const { tools: listed } = await client.listTools();
      const byName = new Map(listed.map((tool) => [tool.name, tool]));
      // Output schemas are not advertised (the text block renders the data; issue 15).
      for (const tool of guestTools) expect(byName.get(tool.name)?.inputSchema.type, tool.name).toBe('object');
      expect(byName.get('list_vms')!.annotations).toMatchObject({ readOnlyHint: true });
      expect(byName.get('vm_action')!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
      expect(byName.get('guest_exec')!.annotations).toMatchObject({ readOnlyHint: false });
    } finally {
      await client.close();
    }
  });

  it.each(['modern', 'legacy'] as const)('calls every guest tool (%s era)', async (era) => {
    const client = await connectClient(ts.mcpUrl, normal, era);
    try {
      for (const [name, args, check] of calls) {
        const result = await client.callTool({ name, arguments: args });
        expect(result.isError, `${name}: ${JSON.stringify(result.structuredContent)}`).toBeFalsy();
        const envelope = result.structuredContent as Record<string, any>;
        expect(envelope.success).toBe(true);
        check(envelope.data);
      }
      const started = await client.callTool({ name: 'vm_action', arguments: { vmid: 105, action: 'start' } });
      expect((started.structuredContent as any).data).toMatchObject({ final: { status: 'running' } });
      const stopped = await client.callTool({ name: 'vm_action', arguments: { vmid: 105, action: 'stop' } });
      expect((stopped.structuredContent as any).warnings.join(' ')).toMatch(/hard power-off/);
      const ct = await client.callTool({ name: 'container_action', arguments: { vmid: 104, action: 'start' } });
      expect((ct.structuredContent as any).data.final.status).toBe('running');
      await client.callTool({ name: 'container_action', arguments: { vmid: 104, action: 'stop' } });
      const changed = await client.callTool({ name: 'guest_config', arguments: { vmid: 105, description: `via mcp ${era}` } });
      expect((changed.structuredContent as any).data.mode).toBe('update');
      const created = await client.callTool({ name: 'guest_create', arguments: { template: 102, name: `mcp-${era}` } });
      const newid = (created.structuredContent as any).data.vmid;
      expect(sim.state.guests.get(newid)!.config.name).toBe(`mcp-${era}`);
      const missing = await client.callTool({ name: 'vm_status', arguments: { vmid: 999 } });
      expect(missing.isError).toBe(true);
      expect((missing.structuredContent as any).error.message).toMatch(/VM 999 does not exist on any node/);
    } finally {
      await client.close();
    }
  });
});

describe('over REST', () => {
  it('calls every guest tool', async () => {
    for (const [name, args, check] of calls) {
      const response = await callRest(ts.url, normal, name, args);
      expect(response.status, `${name}: ${JSON.stringify(response.body)}`).toBe(200);
      check(response.body.data);
    }
    const action = await callRest(ts.url, normal, 'vm_action', { vmid: 102, action: 'clone', newid: 700, name: 'rest-clone' });
    expect(action.body.data).toMatchObject({ newid: 700, result: 'done' });
    const ct = await callRest(ts.url, normal, 'container_action', { vmid: 104, action: 'start' });
    expect(ct.body.data.final.status).toBe('running');
    await callRest(ts.url, normal, 'container_action', { vmid: 104, action: 'stop' });
    const config = await callRest(ts.url, normal, 'guest_config', { vmid: 700, cores: 2, tags: ['rest'] });
    expect(config.body.data.changed).toEqual(expect.arrayContaining(['cores', 'tags']));
    const created = await callRest(ts.url, normal, 'guest_create', { ostemplate: 'local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz', node: 'pve1', name: 'rest-ct' });
    expect(created.body.data).toMatchObject({ type: 'lxc', node: 'pve1' });
    const deleted = await callRest(ts.url, normal, 'vm_action', { vmid: 700, action: 'delete' });
    expect(deleted.body.data.deleted).toBe(true);
    expect(deleted.body.warnings.join(' ')).toMatch(/VM 700 has no backup in the last 7 days/);
  });

  it('maps errors to HTTP statuses: 404 missing, 409 wrong state, 400 bad input', async () => {
    expect((await callRest(ts.url, normal, 'vm_action', { vmid: 999, action: 'start' })).status).toBe(404);
    const conflict = await callRest(ts.url, normal, 'vm_action', { vmid: 105, action: 'reboot' });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.message).toMatch(/not running/);
    const bad = await callRest(ts.url, normal, 'guest_exec', { vmid: 100, command: 'rm -rf /' });
    expect(bad.status).toBe(400);
    expect((await callRest(ts.url, normal, 'list_vms', { node: 'not a node' })).status).toBe(400);
  });

  it('keeps the cipassword out of history', async () => {
    await callRest(ts.url, normal, 'guest_config', { vmid: 105, cipassword: 'history-must-not-see-this' });
    await ts.server.store.history.flush();
    const { rows } = await ts.server.store.history.query({ tool: 'guest_config' });
    expect(rows.some((row) => row.args.includes('cipassword'))).toBe(true);
    expect(JSON.stringify(rows)).not.toContain('history-must-not-see-this');
  });

  it('refuses changes in read-only mode, and confirms them in safe mode', async () => {
    const readOnly = await ts.createToken({ name: 'guests-ro', role: 'admin', mode: 'read-only', ceiling: 'normal' });
    expect((await callRest(ts.url, readOnly, 'vm_action', { vmid: 105, action: 'start' })).status).toBe(403);
    expect((await callRest(ts.url, readOnly, 'list_vms', {})).status).toBe(200);

    const safe = await ts.createToken({ name: 'guests-safe', role: 'admin', mode: 'safe', ceiling: 'normal' });
    const args = { vmid: 105, action: 'start' };
    const first = await callRest(ts.url, safe, 'vm_action', args);
    expect(first.status).toBe(428);
    expect(first.body.error.details.plan).toMatchObject({ summary: expect.stringMatching(/Start VM 105/), cliEquivalent: 'qm start 105' });
    expect(sim.state.guests.get(105)!.status).toBe('stopped');
    // REST cannot ask its user: proof (here the host CLI's yes), then the approval id runs it (issue 13).
    expect((await approveCli(ts.server.store, 'yes', first.body.error.details.approval_id)).code).toBe(0);
    const second = await callRest(ts.url, safe, 'vm_action', { ...args, confirmation_id: first.body.error.details.approval_id });
    expect(second.status).toBe(200);
    expect(sim.state.guests.get(105)!.status).toBe('running');
    await callRest(ts.url, normal, 'vm_action', { vmid: 105, action: 'stop' });
  });

  it('refuses roles that may not change guests', async () => {
    const viewer = await ts.createToken({ name: 'guests-viewer', role: 'viewer', mode: 'normal', ceiling: 'normal' });
    expect((await callRest(ts.url, viewer, 'guest_exec', { vmid: 100, command: ['true'] })).status).toBe(403);
    expect((await callRest(ts.url, viewer, 'vm_status', { vmid: 100 })).status).toBe(200);
  });

  it('sent only requests that are in the endpoint contract', () => {
    const endpoints = (contract as { endpoints: Record<string, unknown> }).endpoints;
    const sent = [...sim.stats.byEndpoint.keys()];
    expect(sent.length).toBeGreaterThan(10);
    for (const key of sent) expect(endpoints[key], key).toBeDefined();
  });
});

describe('with a Proxmox token that lacks privileges', () => {
  let auditorSim: Simulator;
  let served: Awaited<ReturnType<typeof serveSimulator>>;
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    auditorSim = createSimulator({ taskDurationMs: 5 });
    served = await serveSimulator(auditorSim, { port: 0, host: '127.0.0.1' });
    server = await startTestServer({
      env: { PROXMOX_URL: served.url, PROXMOX_TOKEN_ID: AUDITOR_TOKEN.tokenId, PROXMOX_TOKEN_SECRET: AUDITOR_TOKEN.secret },
      build: { tools },
    });
    token = await server.createToken({ name: 'auditor-backed', role: 'admin', mode: 'normal', ceiling: 'normal' });
  });
  afterAll(async () => {
    await server?.close();
    await served?.close();
    auditorSim?.close();
  });

  it('reads, and refuses changes before sending them, naming privilege and path', async () => {
    expect((await callRest(server.url, token, 'list_vms', {})).status).toBe(200);
    auditorSim.stats.reset();
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['vm_action', { vmid: 105, action: 'start' }, /this token lacks VM\.PowerMgmt on \/vms\/105/],
      ['container_action', { vmid: 104, action: 'delete' }, /this token lacks VM\.Allocate on \/vms\/104/],
      ['guest_config', { vmid: 105, type: 'qemu', memory: 4096 }, /this token lacks VM\.Config\.Memory on \/vms\/105/],
      ['guest_exec', { vmid: 100, command: ['true'] }, /this token lacks VM\.GuestAgent\.Unrestricted or VM\.Monitor on \/vms\/100/],
      ['guest_create', { template: 102, newid: 800 }, /this token lacks VM\.Clone on \/vms\/102/],
    ];
    for (const [name, args, message] of cases) {
      const response = await callRest(server.url, token, name, args);
      expect(response.status, name).toBe(403);
      expect(response.body.error.message, name).toMatch(message);
    }
    // nothing but the permission lookup reached Proxmox
    expect([...auditorSim.stats.byEndpoint.keys()].filter((key) => key !== 'GET /access/permissions')).toEqual([]);
  });
});
