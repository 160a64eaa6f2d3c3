/**
 * Learning mode: off by default, toggled per client with toggle_mode {"learning": true}; when on, every
 * answer carries what was done in plain words, the equivalent host command and what to look at next;
 * through MCP in both eras and through REST. And lib/learning.ts, which fills the gaps a tool leaves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRest, connectClient, startTestServer, type TestServer } from './helpers/server.ts';
import { commandForApiCall, cliEquivalentFor, learningFor, learningForError } from '../lib/learning.ts';
import type { AnyTool, Plan } from '../lib/tool.ts';

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
});
afterAll(async () => {
  await ts?.close();
});

describe.each(['legacy', 'modern'] as const)('learning mode over MCP (%s era)', (era) => {
  it('is off by default, on after toggle_mode {learning: true}, off again after {learning: false}', async () => {
    const token = await ts.createToken({ name: `learner-${era}`, role: 'operator', mode: 'safe', ceiling: 'normal' });
    const client = await connectClient(ts.mcpUrl, token, era);
    const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })).structuredContent as Record<string, any>;
    try {
      const before = await call('vm_status', { vmid: 100 });
      expect(before.success).toBe(true);
      expect(before.learning).toBeUndefined();

      const on = await call('toggle_mode', { learning: true });
      expect(on.data).toMatchObject({ learning: true, changed: true });

      const during = await call('vm_status', { vmid: 100 });
      expect(during.success).toBe(true);
      expect(typeof during.learning.explanation).toBe('string');
      expect(during.learning.explanation.length).toBeGreaterThan(10);
      expect(during.learning.cli_equivalent).toMatch(/^qm (status|config) 100/);
      expect(Array.isArray(during.learning.next)).toBe(true);
      expect(during.learning.next.length).toBeGreaterThan(0);

      const overview = await call('get_system_info', {});
      expect(overview.learning.cli_equivalent).toMatch(/pvesh|pvecm/);
      expect(overview.learning.next.length).toBeGreaterThan(0);

      const off = await call('toggle_mode', { learning: false });
      expect(off.data).toMatchObject({ learning: false, changed: true });
      const after = await call('vm_status', { vmid: 100 });
      expect(after.success).toBe(true);
      expect(after.learning).toBeUndefined();
    } finally {
      await client.close();
    }
  });
});

describe('learning mode over REST', () => {
  it('follows the same per-client setting, and does not leak to other clients', async () => {
    const learner = await ts.createToken({ name: 'learner-rest', role: 'operator' });
    const other = await ts.createToken({ name: 'other-rest', role: 'operator' });
    expect((await callRest(ts.url, learner, 'toggle_mode', { learning: true })).body.data.learning).toBe(true);
    const mine = await callRest(ts.url, learner, 'proxmox_api', { method: 'GET', path: '/nodes/pve1/qemu/100/config' });
    expect(mine.status).toBe(200);
    expect(mine.body.learning.explanation).toContain('/nodes/pve1/qemu/100/config');
    expect(mine.body.learning.cli_equivalent).toBe('pvesh get /nodes/pve1/qemu/100/config');
    const theirs = await callRest(ts.url, other, 'proxmox_api', { method: 'GET', path: '/nodes/pve1/qemu/100/config' });
    expect(theirs.status).toBe(200);
    expect(theirs.body.learning).toBeUndefined();
    await callRest(ts.url, learner, 'toggle_mode', { learning: false });
  });
});

describe('commandForApiCall: API calls as host commands', () => {
  it.each([
    ['POST /nodes/pve1/qemu/101/status/start', 'qm start 101'],
    ['POST /nodes/pve2/lxc/103/status/shutdown', 'pct shutdown 103'],
    ['GET /nodes/pve1/qemu/100/config', 'qm config 100'],
    ['GET /api2/json/nodes/pve1/lxc/103/status/current', 'pct status 103 --verbose'],
    ['GET /nodes/pve1/qemu/100/snapshot', 'qm listsnapshot 100'],
    ['DELETE /nodes/pve1/qemu/105', 'qm destroy 105'],
    ['POST /nodes/pve1/qemu/100/migrate with target=pve2 online=1', 'qm migrate 100 pve2 --online 1'],
    ['POST /nodes/pve1/qemu/100/snapshot with snapname=before_upgrade', 'qm snapshot 100 before_upgrade'],
    ['POST /nodes/pve1/qemu/100/snapshot/pre/rollback', 'qm rollback 100 pre'],
    ['DELETE /nodes/pve1/lxc/103/snapshot/clean', 'pct delsnapshot 103 clean'],
    ['POST /nodes/pve1/vzdump with vmid=100 storage=nfs-backup mode=snapshot', 'vzdump 100 --storage nfs-backup --mode snapshot'],
    ['GET /cluster/resources?type=vm', 'pvesh get /cluster/resources --type vm'],
    ['GET /storage', 'pvesm status'],
    ['PUT /nodes/pve1/qemu/100/config with cores=4 cipassword=hunter2', 'pvesh set /nodes/pve1/qemu/100/config --cores 4 --cipassword <cipassword>'],
  ])('%s -> %s', (call, command) => {
    expect(commandForApiCall(call)).toBe(command);
  });

  it('answers nothing for what is not an API call', () => {
    expect(commandForApiCall('start the VM')).toBeUndefined();
  });
});

const tool = (name: string, title = name): Pick<AnyTool, 'name' | 'title' | 'description'> => ({ name, title, description: `${name} description` });

describe('learningFor: always an explanation, a command where Proxmox has one, and a next step', () => {
  it('prefers the handler\'s own command, then the plan\'s, then the tool\'s arguments, then the API calls', () => {
    const plan: Plan = { summary: 'Start VM 101 on pve1', apiCalls: ['POST /nodes/pve1/qemu/101/status/start'], risk: 'low', reversible: true };
    expect(cliEquivalentFor({ tool: tool('vm_action'), input: {}, plan, outcome: { cliEquivalent: 'qm start 101 --timeout 30' } })).toBe('qm start 101 --timeout 30');
    expect(cliEquivalentFor({ tool: tool('vm_action'), input: {}, plan: { ...plan, cliEquivalent: 'qm start 101' } })).toBe('qm start 101');
    expect(cliEquivalentFor({ tool: tool('vm_action'), input: {}, plan })).toBe('qm start 101');
    expect(cliEquivalentFor({ tool: tool('node_status'), input: { node: 'pve2' } })).toBe('pvesh get /nodes/pve2/status');
    expect(cliEquivalentFor({ tool: tool('proxmox_api'), input: { method: 'POST', path: '/nodes/pve1/qemu/100/status/stop' } })).toBe('qm stop 100');
    expect(cliEquivalentFor({ tool: tool('proxmox_api'), input: { method: 'POST', path: '/access/users', params: { userid: 'x@pve', comment: "Ann's laptop", password: 'pw' } } })).toBe(
      "pvesh create /access/users --userid x@pve --comment 'Ann'\\''s laptop' --password <password>",
    );
    expect(cliEquivalentFor({ tool: tool('proxmox_api'), input: { method: 'GET', path: '/cluster/resources?type=vm' } })).toBe('pvesh get /cluster/resources --type vm');
    expect(cliEquivalentFor({ tool: tool('some_new_tool'), input: {}, plan: { ...plan, apiCalls: ['GET /cluster/status', 'GET /nodes'] } })).toBe('pvesh get /cluster/status && pvesh get /nodes');
  });

  it('explains a change in plain words: what, the result, the task, how to undo, where to run the command', () => {
    const learning = learningFor({
      tool: tool('vm_action', 'Start, stop or migrate a VM'),
      input: { vmid: 101, action: 'start' },
      effect: 'write',
      plan: { summary: 'Start VM 101 (db01) on pve2', apiCalls: ['POST /nodes/pve2/qemu/101/status/start'], risk: 'low', reversible: true, undo: 'vm_action stop' },
      outcome: { summary: 'VM 101 is running', upids: ['UPID:pve2:0001:qmstart:101:root@pam:'], node: 'pve2' },
    });
    expect(learning.explanation).toContain('Start VM 101 (db01) on pve2.');
    expect(learning.explanation).toContain('Result: VM 101 is running.');
    expect(learning.explanation).toContain('task UPID:pve2:0001');
    expect(learning.explanation).toContain('To undo it: vm_action stop.');
    expect(learning.explanation).toContain('qm acts on the guests of the node it runs on (here pve2)');
    expect(learning.cli_equivalent).toBe('qm start 101');
    expect(learning.next).toEqual(expect.arrayContaining([expect.stringContaining('vm_status')]));
  });

  it('a read says nothing changed, and uses the outcome\'s suggestions as next steps', () => {
    const learning = learningFor({
      tool: tool('list_vms'),
      input: {},
      effect: 'read',
      plan: { summary: 'List QEMU VMs cluster-wide', risk: 'none', reversible: true, cliEquivalent: 'pvesh get /cluster/resources --type vm' },
      outcome: { summary: '6 VMs', suggestions: ['vm_status 100'] },
    });
    expect(learning.explanation).toContain('nothing in the cluster was changed');
    expect(learning.next).toEqual(['vm_status 100']);
  });

  it('proxmox-mcp\'s own tools say there is no Proxmox command instead of inventing one', () => {
    for (const name of ['toggle_mode', 'get_command_history', 'health_check', 'help_llm', 'check_updates']) {
      const learning = learningFor({ tool: tool(name, `Title of ${name}`), input: {}, effect: 'read', plan: { summary: `Title of ${name}: {}`, risk: 'none', reversible: true }, outcome: { summary: 'done' } });
      expect(learning.cli_equivalent, name).toBeUndefined();
      expect(learning.explanation, name).toContain('There is no Proxmox command for it');
      expect(learning.explanation, name).not.toContain(': {}');
      expect(learning.next.length, name).toBeGreaterThan(0);
    }
  });

  it('every tool this server serves gets an explanation and a next step, whatever it returns', () => {
    for (const served of ts.server.runtime.tools.values()) {
      const learning = learningFor({ tool: served, input: {}, effect: served.effect, outcome: {} });
      expect(learning.explanation.length, served.name).toBeGreaterThan(10);
      expect(learning.next.length, served.name).toBeGreaterThan(0);
    }
  });

  it('explains a refusal: why, what it would have done, the command, and what to do', () => {
    const learning = learningForError({
      tool: tool('vm_action'),
      input: { vmid: 101, action: 'stop' },
      effect: 'write',
      plan: { summary: 'Stop VM 101 on pve2', apiCalls: ['POST /nodes/pve2/qemu/101/status/stop'], risk: 'medium', reversible: true },
      error: { code: 'confirmation_required', message: 'Confirmation needed (safe mode)', suggestions: [] },
    });
    expect(learning.explanation).toContain('vm_action was stopped before it ran: Confirmation needed (safe mode).');
    expect(learning.explanation).toContain('It would have done: Stop VM 101 on pve2.');
    expect(learning.explanation).toContain('Safe mode asks a human');
    expect(learning.cli_equivalent).toBe('qm stop 101');
    expect(learning.next).toEqual(['Show the plan to the user; repeat the same call with the confirmation_id only if they say yes.']);
  });

  it('names the command even when the call was refused before a plan was made', () => {
    const learning = learningForError({
      tool: tool('container_action'),
      input: { vmid: 103, action: 'reboot' },
      effect: 'write',
      error: { code: 'mode_denied', message: 'This client is in read-only mode, so container_action (write) cannot run. Nothing was changed.' },
    });
    expect(learning.cli_equivalent).toBe('pct reboot 103');
    expect(learning.explanation).toContain('read-only mode, which lets only reads through');
    expect(learning.next[0]).toContain('toggle_mode');
  });
});
