/**
 * guest_create: a VM from a template (clone, config, cloud-init, disk growth, start), a container from an
 * OS template, and the refusals (not a template, two sources, missing node), with secrets never echoed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import guestCreate from '../functions/guest_create.ts';
import { callTool, explainTool, privilegesOf, testContext, type TestContext } from './helpers/ctx.ts';

let t: TestContext | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

const ostemplate = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';

describe('guest_create from a VM template', () => {
  it('clones, applies resources and cloud-init, grows the disk and starts it', async () => {
    t = testContext();
    const out = await callTool(
      guestCreate,
      { template: 102, name: 'app01', cores: 4, memory: '8G', ciuser: 'ops', cipassword: 'pa55-secret-word', sshkeys: ['ssh-ed25519 AAAA ops@x'], ipconfig: [{ index: 0, ip: 'dhcp' }], disk_size: '64G', start: true },
      t.ctx,
    );
    const id = out.data.vmid;
    expect(out.data).toMatchObject({ type: 'qemu', node: 'pve1', name: 'app01', result: 'done', status: 'running' });
    const guest = t.sim.state.guests.get(id)!;
    expect(guest.config).toMatchObject({ name: 'app01', cores: 4, ciuser: 'ops', ipconfig0: 'ip=dhcp' });
    expect(Number(guest.config.memory)).toBe(8192);
    expect(String(guest.config.scsi0)).toMatch(/size=64G/);
    expect(guest.config.template).toBeUndefined();
    expect(out.data.tasks.length).toBe(3); // clone, resize, start
    expect(out.data.tasks.every((task) => task.ok)).toBe(true);
    expect(JSON.stringify(out)).not.toContain('pa55-secret-word');
  });

  it('makes a linked clone on request and returns at once with wait: false when nothing follows', async () => {
    t = testContext({ simOptions: { taskDurationMs: 60_000 } });
    const out = await callTool(guestCreate, { template: 102, newid: 400, full: false, wait: false }, t.ctx);
    expect(out.data).toMatchObject({ vmid: 400, result: 'started' });
    expect(out.data.tasks[0].status).toBe('running');
    await expect(callTool(guestCreate, { template: 102, newid: 401, cores: 2, wait: false }, t.ctx)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/wait: false only works/) });
  });

  it('refuses a guest that is not a template, a missing one, and a taken id', async () => {
    t = testContext();
    await expect(callTool(guestCreate, { template: 100 }, t.ctx)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/not a template.*vm_action action=clone/) });
    await expect(callTool(guestCreate, { template: 999 }, t.ctx)).rejects.toMatchObject({ code: 'not_found' });
    await expect(callTool(guestCreate, { template: 102, newid: 101 }, t.ctx)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/already exists/) });
  });

  it('says the clone exists when a later step fails', async () => {
    t = testContext();
    t.sim.faults.failNext(1, '500', { method: 'PUT', path: /\/config$/ }, { message: 'unable to apply' });
    const error = await callTool(guestCreate, { template: 102, newid: 410, cores: 2 }, t.ctx).catch((e) => e);
    expect(error.message).toMatch(/VM 410 was cloned from template 102, but finishing it failed.*action=delete/);
    expect(error.details).toMatchObject({ vmid: 410, created: true });
    expect(t.sim.state.guests.has(410)).toBe(true);
  });

  it('times out waiting for a slow clone', async () => {
    t = testContext({ simOptions: { taskDurationMs: 10_000 } });
    await expect(callTool(guestCreate, { template: 102, newid: 420, timeout: 1 }, t.ctx)).rejects.toMatchObject({ code: 'timeout' });
  });

  it('explains the clone with qm commands and never shows the password', async () => {
    t = testContext();
    const plan = await explainTool(guestCreate, { template: 102, newid: 430, name: 'x1', cipassword: 'do-not-show', start: true }, t.ctx);
    expect(plan.cliEquivalent).toMatch(/^qm clone 102 430 --name x1 --full 1 && qm set 430 --cipassword \[secret\] && qm start 430$/);
    expect(JSON.stringify(plan)).not.toContain('do-not-show');
    expect(await privilegesOf(guestCreate, { template: 102, newid: 430, cores: 2, start: true }, t.ctx)).toEqual([
      { path: '/vms/102', privileges: ['VM.Clone'] },
      { path: '/vms/430', privileges: ['VM.Allocate'] },
      { path: '/vms/430', privileges: ['VM.Config.CPU'] },
      { path: '/vms/430', privileges: ['VM.PowerMgmt'] },
    ]);
  });
});

describe('guest_create from an OS template', () => {
  it('creates an unprivileged container with hostname, resources, NIC and SSH key, and starts it', async () => {
    t = testContext();
    const out = await callTool(
      guestCreate,
      { ostemplate, node: 'pve2', name: 'web-ct', cores: 2, memory: 1024, swap: 256, disk_size: '16G', nets: [{ index: 0, bridge: 'vmbr1', vlan: 30, ip: '10.3.0.10/24', gw: '10.3.0.1' }], password: 'r00t-secret', ssh_public_keys: ['ssh-ed25519 AAAA me@x'], start: true },
      t.ctx,
    );
    const id = out.data.vmid;
    expect(out.data).toMatchObject({ type: 'lxc', node: 'pve2', result: 'done', status: 'running', source: ostemplate });
    const guest = t.sim.state.guests.get(id)!;
    expect(guest.config).toMatchObject({ hostname: 'web-ct', cores: 2, unprivileged: 1, features: 'nesting=1' });
    expect(String(guest.config.rootfs)).toMatch(/^local-lvm:vm-\d+-disk-0.*size=16G/);
    expect(String(guest.config.net0)).toBe('name=eth0,type=veth,bridge=vmbr1,ip=10.3.0.10/24,gw=10.3.0.1,tag=30');
    expect(JSON.stringify(out)).not.toContain('r00t-secret');
    const post = t.requests.find((r) => r.method === 'POST' && r.path === '/nodes/pve2/lxc')!;
    expect(post.params).toMatchObject({ ostemplate, hostname: 'web-ct', 'ssh-public-keys': 'ssh-ed25519 AAAA me@x', start: true });
  });

  it('needs a node, one source, and refuses VM-only settings', async () => {
    t = testContext();
    expect(() => guestCreate.input.parse({ ostemplate })).toThrow(/node is required/);
    expect(() => guestCreate.input.parse({ ostemplate, node: 'pve1', template: 102 })).toThrow(/exactly one source/);
    expect(() => guestCreate.input.parse({})).toThrow(/exactly one source/);
    await expect(callTool(guestCreate, { ostemplate, node: 'pve1', ciuser: 'x' }, t.ctx)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/only to VMs/) });
  });

  it('names a template volume that does not exist, and an offline node', async () => {
    t = testContext();
    await expect(callTool(guestCreate, { ostemplate: 'local:vztmpl/nope.tar.zst', node: 'pve1' }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/does not exist/) });
    t.sim.faults.setNodeOnline('pve3', false);
    await expect(callTool(guestCreate, { ostemplate, node: 'pve3' }, t.ctx)).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('asks for Sys.Modify for a privileged container and warns about it', async () => {
    t = testContext();
    const needs = await privilegesOf(guestCreate, { ostemplate, node: 'pve1', unprivileged: false }, t.ctx);
    expect(needs).toContainEqual({ path: '/', privileges: ['Sys.Modify'] });
    const plan = await explainTool(guestCreate, { ostemplate, node: 'pve1', newid: 600, unprivileged: false }, t.ctx);
    expect(plan.warnings!.join(' ')).toMatch(/privileged container/);
    expect(plan.cliEquivalent).toMatch(/^pct create 600 local:vztmpl\/debian-12/);
  });

  it('surfaces Proxmox refusing a read-only token', async () => {
    t = testContext({ token: 'auditor' });
    await expect(callTool(guestCreate, { ostemplate, node: 'pve1', newid: 601 }, t.ctx)).rejects.toMatchObject({ code: 'forbidden', message: expect.stringMatching(/VM\.Allocate/) });
  });
});

describe('guest_create checks before anyone is asked', () => {
  it('refuses a missing bridge, storage, pool, node or a taken id in the plan, and warns about a template without cloud-init', async () => {
    t = testContext();
    await expect(explainTool(guestCreate, { template: 102, nets: [{ index: 0, bridge: 'vmbr9' }] }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/Bridge vmbr9 does not exist on pve1\. Bridges there: vmbr0/) });
    await expect(explainTool(guestCreate, { template: 102, storage: 'nosuch' }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/Storage 'nosuch' does not exist/) });
    await expect(explainTool(guestCreate, { template: 102, pool: 'nosuch' }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/Pool 'nosuch' does not exist/) });
    await expect(explainTool(guestCreate, { template: 102, node: 'pve01' }, t.ctx)).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/pve01/) });
    await expect(explainTool(guestCreate, { template: 102, newid: 100 }, t.ctx)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/Id 100 is taken/) });
    const template = t.sim.state.guests.get(102)!;
    for (const key of Object.keys(template.config)) if (String(template.config[key]).includes('cloudinit')) delete template.config[key];
    const plan = await explainTool(guestCreate, { template: 102, ciuser: 'ops' }, t.ctx);
    expect(plan.warnings!.join(' ')).toMatch(/no cloud-init drive/);
    expect(t.requests.filter((request) => request.method !== 'GET')).toEqual([]);
  });
});
