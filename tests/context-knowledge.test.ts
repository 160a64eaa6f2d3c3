/**
 * Knowledge in the answers at the moment of the call (issue 15): what an admin needs to hear when a
 * command line touches the local-zfs guest disks, destroys a guest that may be running, or when a privsep
 * token's user holds no rights (tests/tools-cluster.test.ts checks the token warnings of user_list and
 * user_change). Here the command-line knowledge, which the classifier reads (knowledge/commands/*.json),
 * through the classifier and through explain_command over REST.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyCommandLine } from '../lib/exec/classify.ts';
import { callRest, startTestServer, type TestServer } from './helpers/server.ts';

const ctx = { mainNode: 'pve1', serviceUser: 'proxmox-mcp@pve', serviceTokenId: 'proxmox-mcp@pve!mcp' };
const reasons = (line: string) => {
  const c = classifyCommandLine(line, ctx);
  return { level: c.level, text: [...c.reasons, ...c.commands.flatMap((command) => command.reasons)].join('\n') };
};

describe('command lines', () => {
  it('zfs destroy of rpool/data says it holds every local-zfs guest disk; a dry run does not', () => {
    for (const line of ['zfs destroy -r rpool/data', 'zfs destroy rpool/data', 'sudo zfs destroy -r rpool/data']) {
      const c = reasons(line);
      expect(c.level, line).toBe('destructive');
      expect(c.text, line).toMatch(/rpool\/data holds the local-zfs storage/);
    }
    // a dry run (-n) destroys nothing: no such warning, and not destructive
    const dry = reasons('zfs destroy -n -r rpool/data');
    expect(dry.text).not.toMatch(/holds the local-zfs/);
    expect(dry.level).not.toBe('destructive');
    // rpool itself and the root filesystem stay forbidden
    expect(reasons('zfs destroy -r rpool').level).toBe('forbidden');
  });

  it('zfs destroy of one guest disk on local-zfs names the safer way', () => {
    for (const line of ['zfs destroy rpool/data/vm-100-disk-0', 'zfs destroy rpool/data/subvol-101-disk-0', 'zfs destroy -r rpool/data/base-102-disk-1']) {
      const c = reasons(line);
      expect(c.level, line).toBe('destructive');
      expect(c.text, line).toMatch(/a guest disk on local-zfs.*storage_change delete_volume/);
    }
    // another dataset does not get the guest-disk words
    expect(reasons('zfs destroy tank/scratch').text).not.toMatch(/guest disk/);
  });

  it('pct destroy --force says it kills a running container; qm destroy says Proxmox refuses a running VM', () => {
    const forced = reasons('pct destroy 101 --force');
    expect(forced.level).toBe('destructive');
    expect(forced.text).toMatch(/even while it runs/);
    // the option spelled as Proxmox's CLI also takes it
    expect(reasons('pct destroy 101 --force 1').text).toMatch(/even while it runs/);
    expect(reasons('pct destroy 101').text).not.toMatch(/even while it runs/);
    expect(reasons('qm destroy 100').text).toMatch(/refuses it while the VM runs/);
  });
});

describe('through explain_command', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer();
  });
  afterAll(async () => {
    await ts?.close();
  });

  it('the warnings reach the answer', async () => {
    const zfs = await callRest(ts.url, ts.adminToken, 'explain_command', { command: 'zfs destroy -r rpool/data', node: 'pve1' });
    expect(zfs.status).toBe(200);
    expect(JSON.stringify(zfs.body)).toMatch(/rpool\/data holds the local-zfs storage/);
    const pct = await callRest(ts.url, ts.adminToken, 'explain_command', { command: 'pct destroy 101 --force', node: 'pve1' });
    expect(JSON.stringify(pct.body)).toMatch(/even while it runs/);
  });
});
