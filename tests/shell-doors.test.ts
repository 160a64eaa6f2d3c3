/**
 * execute_command against a real OpenSSH sshd on 127.0.0.1 (tests/helpers/sshd.ts): the lines of issue 12
 * (class 1 "reads" that run or write, class 4 CLI prefixes, class 6 disguised actions, class 7 power and
 * disk wipes) are refused through REST, MCP 2026-07-28 and MCP 2025, and a marker file proves that no
 * part of the line ran. A per-token grant set the way `npm run token -- shell` sets it lets a feature
 * through for that token only; explain_command gives the same verdict.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSshExecutor } from '../lib/exec/ssh.ts';
import { settingsKeyForShellFeatures, updateShellFeatureGrant } from '../lib/exec/shell-features.ts';
import { callRest, connectClient } from './helpers/server.ts';
import { clusterSnapshot, startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { startSshd, type RunningSshd } from './helpers/sshd.ts';
import { cutOffLines, featureLines, notReadLines } from './helpers/shell-corpus.ts';

let sshd: RunningSshd;
let ts: SafetyServer;
let scratch: string;
let viewer: string;
let readOnlyAdmin: string;
let operator: string;
let granted: string;

beforeAll(async () => {
  sshd = await startSshd();
  const exec = createSshExecutor({ user: sshd.user, port: sshd.port, privateKey: sshd.privateKey, knownHosts: sshd.knownHosts, resolveHost: async () => '127.0.0.1', connectTimeoutMs: 5_000 });
  ts = await startSafetyServer({ build: { exec } });
  viewer = await ts.createToken({ name: 'shell-viewer', role: 'viewer', mode: 'normal', ceiling: 'normal' });
  readOnlyAdmin = await ts.createToken({ name: 'shell-ro-admin', role: 'admin', mode: 'read-only', ceiling: 'normal' });
  operator = await ts.createToken({ name: 'shell-operator', role: 'operator', mode: 'normal', ceiling: 'normal' });
  granted = await ts.createToken({ name: 'shell-granted', role: 'operator', mode: 'normal', ceiling: 'normal' });
  // what `npm run token -- shell shell-granted --allow interpreters` stores
  const token = await ts.server.store.tokens.byName('shell-granted');
  await ts.server.store.settings.set(settingsKeyForShellFeatures(token!.id), ['interpreters']);
  scratch = mkdtempSync(join(tmpdir(), 'pmcp-shell-'));
}, 60_000);

afterAll(async () => {
  await ts?.close();
  await sshd?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

let n = 0;
const marker = () => join(scratch, `m${++n}`);
const run = (token: string, command: string) => callRest(ts.url, token, 'execute_command', { node: 'pve1', command });

describe('class 1: "reads" that run or write are not reads for viewers and read-only mode', () => {
  const lines = [
    (m: string) => `sed -n '1e touch ${m}' /etc/hostname`,
    (m: string) => `sed 's/.*/touch ${m.replace(/\//g, '\\/')}/e' /etc/hostname`,
    (m: string) => `sed -n 'w ${m}' /etc/hostname`,
    (m: string) => `awk '{print > "${m}"}' /etc/hostname`,
    (m: string) => `awk 'BEGIN{system("touch ${m}")}'`,
    (m: string) => `awk '{print | "touch ${m}"}' /etc/hostname`,
    (m: string) => `sort --compress-program=true -o ${m} /etc/hostname`,
    (m: string) => `find /etc/hostname -execdir touch ${m} \\;`,
    (m: string) => `find /etc/hostname -fprint ${m}`,
    (m: string) => `LESSOPEN='|touch ${m}' cat /etc/hostname`,
    (m: string) => `cat /etc/hostname > ${m}`,
    (m: string) => `ssh -o ProxyCommand='touch ${m}' -o BatchMode=yes 127.0.0.2 true`,
    (m: string) => `echo dG91Y2g= | base64 -d > ${m}`,
  ];
  it.each(lines.map((f, i) => [i, f] as const))('line %i is refused for a viewer and in read-only mode; nothing ran', async (_i, make) => {
    for (const token of [viewer, readOnlyAdmin]) {
      const m = marker();
      const response = await run(token, make(m));
      expect(response.status, JSON.stringify(response.body)).toBe(403);
      expect(['forbidden', 'mode_denied', 'protected']).toContain(response.body.error.code);
      expect(existsSync(m)).toBe(false);
    }
  });

  it('pvesh get of the agent file-read endpoint is not a read', async () => {
    const response = await run(viewer, 'pvesh get /nodes/pve1/qemu/100/agent/file-read --file /etc/shadow');
    expect(response.status).toBe(403);
    expect(response.body.error.message).toMatch(/file-read|not a plain read|viewer/);
  });

  it('allow-listed reads still run for a viewer and in read-only mode', async () => {
    for (const token of [viewer, readOnlyAdmin]) {
      const response = await run(token, "sed -n '1p' /etc/hostname | head -n 1");
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect(response.body.data.exit_code).toBe(0);
    }
  });
});

describe('class 6: disguised protected actions need an admin grant, in every mode', () => {
  const lines = [
    (m: string) => `python3 -c "open('${m}','w')"`,
    (m: string) => `perl -e 'open(F, ">", "${m}")'`,
    (m: string) => `awk 'BEGIN{system("touch ${m}")}'`,
    (m: string) => `echo ${Buffer.from(`touch ${m}`).toString('base64')} | base64 -d | sh`,
    (m: string) => `sh -c "$(echo touch ${m})"`,
    (m: string) => `eval "touch ${m}"`,
    (m: string) => `echo ${m} | xargs -I{} sh -c 'touch {}'`,
    (m: string) => `echo 'touch ${m}' | xargs -I{} sh -c '{}'`,
    (m: string) => `printf 'touch ${m}\\x0a' | sh`,
    (m: string) => `x='a[$(touch ${m})]'; echo $((x))`,
    (m: string) => `touch ${m}; echo x > /etc/pve/user.cfg`,
    (m: string) => `touch ${m} && curl -sk https://127.0.0.1:8006/api2/json/version`,
    (m: string) => `touch ${m}; exec 3<>/dev/tcp/127.0.0.1/8006`,
  ];
  it.each(lines.map((f, i) => [i, f] as const))('line %i is refused for a normal-mode operator with the class and how to allow it; nothing ran', async (_i, make) => {
    const m = marker();
    const response = await run(operator, make(m));
    expect(response.status, JSON.stringify(response.body)).toBe(403);
    expect(response.body.error.code).toBe('protected');
    expect(response.body.error.message).toMatch(/shell feature|in any mode/);
    expect(existsSync(m)).toBe(false);
  });

  it('safe mode refuses it outright too, before any confirmation is asked', async () => {
    const safe = await ts.createToken({ name: 'shell-safe', role: 'operator', mode: 'safe', ceiling: 'normal' });
    const m = marker();
    const response = await run(safe, `eval "touch ${m}"`);
    expect(response.status, JSON.stringify(response.body)).toBe(403);
    expect(response.body.error.code).toBe('protected');
    expect(existsSync(m)).toBe(false);
  });

  it('the refusal names the feature and the host command that allows it', async () => {
    const response = await run(operator, 'eval true');
    expect(response.body.error.message).toContain('"interpreters"');
    expect(response.body.error.message).toContain('npm run token -- shell shell-operator --allow interpreters');
    expect(response.body.error.details.features).toEqual(['interpreters']);
  });

  it('a granted token may use that feature, and only that one', async () => {
    const m = marker();
    const ok = await run(granted, `eval "touch ${m}"`);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(existsSync(m)).toBe(true);
    const m2 = marker();
    const still = await run(granted, `touch ${m2}; echo x > /etc/pve/user.cfg`);
    expect(still.status).toBe(403);
    expect(still.body.error.message).toContain('pve-config-writes');
    expect(existsSync(m2)).toBe(false);
  });

  it('refuses through MCP 2026-07-28 and MCP 2025 alike', async () => {
    for (const era of ['modern', 'legacy'] as const) {
      const client = await connectClient(ts.mcpUrl, operator, era);
      try {
        const m = marker();
        const result = await client.callTool({ name: 'execute_command', arguments: { node: 'pve1', command: `python3 -c "open('${m}','w')"` } });
        expect(result.isError, era).toBe(true);
        expect(JSON.stringify(result.content)).toMatch(/interpreters/);
        expect(existsSync(m)).toBe(false);
      } finally {
        await client.close();
      }
    }
  });

  it('explain_command gives the same verdict', async () => {
    const response = await callRest(ts.url, operator, 'explain_command', { command: `echo ${Buffer.from('touch /tmp/x').toString('base64')} | base64 -d | sh`, node: 'pve1' });
    expect(response.status).toBe(200);
    expect(response.body.data.verdict.outcome).toBe('refused_protected');
    expect(response.body.data.verdict.why).toMatch(/decode-to-shell/);
    const viewerView = await callRest(ts.url, viewer, 'explain_command', { command: "sed -n '1e id' /etc/hostname", node: 'pve1' });
    expect(viewerView.body.data.verdict.outcome).not.toBe('runs');
  });
});

describe('classes 4 and 7: Proxmox CLI prefixes, power and disk wipes go through the API policy', () => {
  it.each([
    'qm set 101 --prot 0',
    'qm set 101 -prot=0',
    'qm set 101 --del protection',
    "qm set 101 --delete 'description;protection'",
    'qm destroy 101 --pur',
    'pveum acl delete / --tok root@pam!x --roles Administrator',
    'pveum acl modify / --p 1 --users bob@pve --roles PVEAdmin',
    'pvesh set /nodes/pve2/qemu/101/config --prot 0',
    'reboot',
    'shutdown -h now',
    'wipefs -a /dev/sda',
    'pvesh create /nodes/pve1/status --command reboot',
  ])('%s is refused and nothing ran; the cluster is unchanged', async (line) => {
    const admin = ts.adminToken;
    const before = clusterSnapshot(ts.sim);
    const m = marker();
    const response = await run(admin, `touch ${m}; ${line}`);
    expect(response.status, JSON.stringify(response.body)).toBe(403);
    expect(response.body.error.code).toBe('protected');
    expect(existsSync(m)).toBe(false);
    expect(clusterSnapshot(ts.sim)).toBe(before);
  });
});

describe('the whole corpus through the REST door against the real sshd', () => {
  const aimed = (line: string, m: string) => line.split('\\/tmp\\/x').join(m.replace(/\//g, '\\/')).split('/tmp/x').join(m);

  it('no class-1 line runs for a viewer or in read-only mode', async () => {
    const ran: string[] = [];
    for (const line of notReadLines) {
      for (const token of [viewer, readOnlyAdmin]) {
        const m = marker();
        const response = await run(token, aimed(line, m));
        if (response.status !== 403 || existsSync(m)) ran.push(`${line} -> ${response.status}`);
      }
    }
    expect(ran).toEqual([]);
  }, 120_000);

  it('no class-6 line runs for a normal-mode operator without the grant', async () => {
    const ran: string[] = [];
    for (const [line, feature] of featureLines) {
      const m = marker();
      const response = await run(operator, aimed(line, m));
      if (response.status !== 403 || response.body.error?.code !== 'protected' || existsSync(m)) ran.push(`${line} (${feature}) -> ${response.status} ${response.body.error?.code}`);
    }
    expect(ran).toEqual([]);
  }, 120_000);
});

describe('MCP 2026-07-28 and MCP 2025 refuse the other classes too', () => {
  it.each(['modern', 'legacy'] as const)('%s: a viewer\'s sed e, an admin\'s qm set --prot 0 and reboot', async (era) => {
    for (const [token, make] of [
      [viewer, (m: string) => `sed -n '1e touch ${m}' /etc/hostname`],
      [ts.adminToken, (m: string) => `touch ${m}; qm set 101 --prot 0`],
      [ts.adminToken, (m: string) => `touch ${m}; reboot`],
    ] as const) {
      const client = await connectClient(ts.mcpUrl, token, era);
      try {
        const m = marker();
        const before = clusterSnapshot(ts.sim);
        const result = await client.callTool({ name: 'execute_command', arguments: { node: 'pve1', command: make(m) } });
        expect(result.isError, `${era}: ${make(m)}`).toBe(true);
        expect(existsSync(m)).toBe(false);
        expect(clusterSnapshot(ts.sim)).toBe(before);
      } finally {
        await client.close();
      }
    }
  });
});

describe('explain_command shows the API requests a CLI line makes', () => {
  it('with parameter names only (values can be secrets)', async () => {
    const response = await callRest(ts.url, ts.adminToken, 'explain_command', { command: 'qm set 102 --mem 2048 && pveum passwd bob@pve --password hunter2secret', node: 'pve1' });
    expect(response.status).toBe(200);
    expect(response.body.data.api_calls).toContain('PUT /nodes/pve1/qemu/102/config (memory)');
    expect(response.body.data.api_calls.join(' ')).toContain('PUT /access/password (');
    expect(JSON.stringify(response.body.data.api_calls)).not.toContain('hunter2secret');
  });
});

describe('the host CLI grant (npm run token -- shell NAME --allow/--deny)', () => {
  it('allows, reports, takes back, and rejects unknown features', async () => {
    const secret = await ts.createToken({ name: 'shell-cli-grant', role: 'operator', mode: 'normal', ceiling: 'normal' });
    const token = (await ts.server.store.tokens.byName('shell-cli-grant'))!;
    const settings = ts.server.store.settings;
    expect(await updateShellFeatureGrant(settings, token.id, undefined, undefined)).toEqual({ granted: [] });
    expect(await updateShellFeatureGrant(settings, token.id, 'interpreters, decode-to-shell', undefined)).toEqual({ granted: ['interpreters', 'decode-to-shell'] });
    const m = marker();
    expect((await run(secret, `echo ${Buffer.from(`touch ${m}`).toString('base64')} | base64 -d | sh`)).status).toBe(200);
    expect(existsSync(m)).toBe(true);
    expect(await updateShellFeatureGrant(settings, token.id, undefined, 'decode-to-shell')).toEqual({ granted: ['interpreters'] });
    const m2 = marker();
    expect((await run(secret, `echo ${Buffer.from(`touch ${m2}`).toString('base64')} | base64 -d | sh`)).status).toBe(403);
    expect(existsSync(m2)).toBe(false);
    expect(await updateShellFeatureGrant(settings, token.id, 'everything', undefined)).toHaveProperty('error', expect.stringMatching(/unknown shell feature everything/));
    // a grant belongs to one token: another operator is still refused
    expect((await run(operator, 'eval true')).status).toBe(403);
  });
});

describe('issue 12 follow-up: realm sync, the node certificate and host cut-offs, through every door', () => {

  it('each is refused for a safe-mode admin and a normal-mode operator, nothing ran, nothing reached Proxmox, the cluster is unchanged', async () => {
    const ran: string[] = [];
    for (const line of cutOffLines) for (const token of [ts.adminToken, operator]) {
      const before = clusterSnapshot(ts.sim);
      const sent = ts.changesSent.length;
      const m = marker();
      const response = await run(token, `touch ${m}; ${line}`);
      if (response.status !== 403 || response.body.error?.code !== 'protected' || existsSync(m) || clusterSnapshot(ts.sim) !== before || ts.changesSent.length !== sent) ran.push(`${token === operator ? 'operator' : 'admin'}: ${line} -> ${response.status} ${JSON.stringify(response.body.error ?? response.body).slice(0, 200)}`);
    }
    expect(ran).toEqual([]);
  }, 120_000);

  it('a token granted interpreters still cannot stop the API through a program named at run time', async () => {
    for (const line of ['X=systemctl; $X stop pveproxy', 'eval "systemctl stop pveproxy"']) {
      const m = marker();
      const response = await run(granted, `touch ${m}; ${line}`);
      expect(response.status, `${line}: ${JSON.stringify(response.body)}`).toBe(403);
      expect(response.body.error.code).toBe('protected');
      expect(existsSync(m)).toBe(false);
    }
  });

  it('the refusal says why in words an admin understands', async () => {
    const vmbr = await run(ts.adminToken, 'ip link set vmbr0 down');
    expect(vmbr.body.error.message).toMatch(/in any mode.*vmbr0 carries the address of node pve1/);
    const fw = await run(ts.adminToken, 'iptables -P INPUT DROP');
    expect(fw.body.error.message).toMatch(/drop its traffic.*firewall_change/);
    const zfs = await run(ts.adminToken, 'zfs destroy -r rpool/data');
    expect(zfs.body.error.message).toMatch(/local-zfs storage, every guest disk/);
    const sync = await run(ts.adminToken, 'pveum realm sync pve');
    expect(sync.body.error.message).toMatch(/realm/);
  });

  it('the same requests through proxmox_api get the same answer', async () => {
    for (const [method, path] of [['POST', '/access/domains/pve/sync'], ['POST', '/nodes/pve1/services/pveproxy/stop'], ['DELETE', '/nodes/pve1/network/vmbr0'], ['DELETE', '/nodes/pve1/certificates/custom'], ['POST', '/nodes/pve1/certificates/acme/certificate']] as const) {
      const response = await callRest(ts.url, ts.adminToken, 'proxmox_api', { method, path, params: {} });
      expect(response.status, `${method} ${path}`).toBe(403);
      expect(response.body.error.code).toBe('protected');
    }
  });

  it.each(['modern', 'legacy'] as const)('%s MCP refuses them too', async (era) => {
    const client = await connectClient(ts.mcpUrl, ts.adminToken, era);
    try {
      for (const line of ['systemctl stop pveproxy', 'ip link set vmbr0 down', 'pveum realm sync pve', 'pvenode acme cert renew', 'nft flush ruleset']) {
        const m = marker();
        const before = clusterSnapshot(ts.sim);
        const result = await client.callTool({ name: 'execute_command', arguments: { node: 'pve1', command: `touch ${m}; ${line}` } });
        expect(result.isError, `${era}: ${line}`).toBe(true);
        expect(existsSync(m), line).toBe(false);
        expect(clusterSnapshot(ts.sim)).toBe(before);
      }
    } finally {
      await client.close();
    }
  });

  it('explain_command shows the request a host command amounts to', async () => {
    const response = await callRest(ts.url, ts.adminToken, 'explain_command', { command: 'systemctl stop pveproxy', node: 'pve1' });
    expect(response.body.data.api_calls).toContain('POST /nodes/pve1/services/pveproxy/stop');
    expect(response.body.data.verdict.outcome).toBe('refused_protected');
  });

  it('the management interface is looked up as the API policy does: its bridge port too, not the VM bridge; not inside a guest', async () => {
    const verdict = async (command: string, node = 'pve1') => (await callRest(ts.url, ts.adminToken, 'explain_command', { command, node })).body.data.verdict;
    expect((await verdict('ip link set eno1 down')).outcome).toBe('refused_protected');
    expect((await verdict('brctl delif vmbr0 eno1')).outcome).toBe('refused_protected');
    expect((await verdict('ip link set vmbr1 down')).outcome).not.toBe('refused_protected');
    expect((await verdict('ifdown vmbr1.50')).outcome).not.toBe('refused_protected');
    expect((await verdict('pct exec 103 -- systemctl stop sshd')).outcome).not.toBe('refused_protected');
    expect((await verdict('pct exec 103 -- iptables -P INPUT DROP')).outcome).not.toBe('refused_protected');
  });

  it('harmless neighbours still run (normal-mode operator)', async () => {
    for (const line of ['zfs destroy -n -r rpool/data || true', 'systemctl restart h13-no-such-unit 2>/dev/null || true', 'iptables -L -n 2>/dev/null || true', 'zfs destroy rpool/data/vm-102-disk-0 2>/dev/null || true']) {
      const response = await run(operator, line);
      expect(response.status, `${line}: ${JSON.stringify(response.body)}`).toBe(200);
    }
  });
});
