/**
 * guest_exec: argv through the QEMU guest agent, exit codes, stdin, and every way the agent can be
 * missing (not configured, VM stopped, agent not answering), a container id, timeouts, privileges.
 */
import { afterEach, describe, expect, it } from 'vitest';
import guestExec from '../functions/guest_exec.ts';
import { callTool, explainTool, privilegesOf, testContext, type TestContext } from './helpers/ctx.ts';

let t: TestContext | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

describe('guest_exec', () => {
  it('runs an argv and returns exit code and output', async () => {
    t = testContext();
    const out = await callTool(guestExec, { vmid: 100, command: ['uname', '-a'] }, t.ctx);
    expect(out.data).toMatchObject({ vmid: 100, node: 'pve1', exitcode: 0, stdout_truncated: false });
    expect(out.data.stdout).toMatch(/^Linux web01/);
    expect(out.stdout).toBe(out.data.stdout);
    const post = t.requests.find((r) => r.method === 'POST')!;
    expect(post.path).toBe('/nodes/pve1/qemu/100/agent/exec');
    expect(post.params!.command).toEqual(['uname', '-a']);
  });

  it('passes stdin, runs sh -c, and warns on a non-zero exit', async () => {
    t = testContext();
    expect((await callTool(guestExec, { vmid: 100, command: ['cat'], input: 'hello\n' }, t.ctx)).data.stdout).toBe('hello\n');
    expect((await callTool(guestExec, { vmid: 100, command: ['sh', '-c', 'echo from shell'] }, t.ctx)).data.stdout).toBe('from shell\n');
    const failed = await callTool(guestExec, { vmid: 100, command: ['cat', '/nope'] }, t.ctx);
    expect(failed.data.exitcode).toBe(1);
    expect(failed.data.stderr).toMatch(/No such file/);
    expect(failed.warnings!.join(' ')).toMatch(/exited with code 1/);
  });

  it('says how to fix a missing, stopped or silent agent', async () => {
    t = testContext();
    const run = (vmid: number) => callTool(guestExec, { vmid, command: ['true'] }, t!.ctx);
    await expect(run(105)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/not enabled.*agent=true.*qemu-guest-agent/) });
    t.sim.state.guests.get(105)!.config.agent = '1';
    await expect(run(105)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/not running.*start it first/) });
    t.sim.state.guests.get(100)!.qmpstatus = 'paused';
    await expect(run(100)).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/apt install qemu-guest-agent/) });
  });

  it('names a program the guest does not have', async () => {
    t = testContext();
    await expect(callTool(guestExec, { vmid: 100, command: ['nosuchprogram'] }, t.ctx)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/could not run the command.*full path/) });
  });

  it('points containers to pct exec and names a missing VM', async () => {
    t = testContext();
    await expect(callTool(guestExec, { vmid: 103, command: ['hostname'] }, t.ctx)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/pct exec 103 -- hostname/) });
    await expect(callTool(guestExec, { vmid: 999, command: ['hostname'] }, t.ctx)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses a shell string smuggled in as an empty argv and oversize input', () => {
    expect(() => guestExec.input.parse({ vmid: 100, command: [] })).toThrow(/at least the program/);
    expect(() => guestExec.input.parse({ vmid: 100, command: 'ls -l' })).toThrow();
    expect(() => guestExec.input.parse({ vmid: 100, command: ['cat'], input: 'x'.repeat(70000) })).toThrow(/64 KiB/);
  });

  it('times out while the command still runs, saying it was not stopped', async () => {
    t = testContext({ simOptions: { taskDurationMs: 10_000 } });
    await expect(callTool(guestExec, { vmid: 100, command: ['uptime'], timeout: 1 }, t.ctx)).rejects.toMatchObject({ code: 'timeout', message: expect.stringMatching(/still running inside VM 100 after 1 s.*not stopped/) });
  });

  it('reports an offline node', async () => {
    t = testContext();
    t.sim.faults.setNodeOnline('pve2', false);
    await expect(callTool(guestExec, { vmid: 101, command: ['hostname'] }, t.ctx)).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/pve2/) });
  });

  it('needs the guest-agent privilege, and explains the risk', async () => {
    t = testContext({ token: 'auditor' });
    await expect(callTool(guestExec, { vmid: 100, command: ['hostname'] }, t.ctx)).rejects.toMatchObject({ code: 'forbidden', message: expect.stringMatching(/VM\.(GuestAgent\.Unrestricted|Monitor) on \/vms\/100/) }); // PVE 9 | PVE 8 (SIM_PVE_VERSION=8.4)
    expect(await privilegesOf(guestExec, { vmid: 100, command: ['x'] }, t.ctx)).toEqual([{ path: '/vms/100', privileges: ['VM.GuestAgent.Unrestricted', 'VM.Monitor'], any: true }]);
    const plan = await explainTool(guestExec, { vmid: 100, command: ['sh', '-c', 'rm -rf /tmp/x'] }, t.ctx);
    expect(plan.cliEquivalent).toBe("qm guest exec 100 --timeout 60 -- sh -c 'rm -rf /tmp/x'");
    expect(plan.warnings!.join(' ')).toMatch(/can change or delete anything/);
  });
});
