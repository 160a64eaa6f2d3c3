import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECK_IDS, KnowledgeError, clearKnowledgeCache, loadKnowledge } from '../lib/knowledge.ts';
import { explainCommandLine } from '../lib/exec/explain.ts';

const REQUIRED_PROGRAMS = [
  'qm', 'pct', 'pvesh', 'pvesm', 'pveum', 'pvecm', 'pveceph', 'vzdump', 'qmrestore', 'zfs', 'zpool', 'ceph', 'apt', 'apt-get',
  'systemctl', 'journalctl', 'ip', 'ls', 'cat', 'head', 'tail', 'grep', 'df', 'du', 'free', 'uptime', 'ps', 'top', 'lsblk', 'blkid',
  'find', 'stat', 'wc', 'sort', 'uniq', 'awk', 'sed', 'tee', 'cp', 'mv', 'rm', 'mkdir', 'touch', 'chmod', 'chown', 'ln', 'tar',
  'kill', 'pkill', 'ping', 'ss', 'netstat', 'curl', 'wget', 'echo', 'printf', 'date', 'hostname', 'uname', 'whoami', 'id', 'sudo',
  'dmesg', 'lscpu', 'lspci', 'smartctl', 'nvme', 'mount', 'umount', 'fdisk', 'parted', 'lvs', 'vgs', 'pvs', 'lvcreate', 'lvremove',
  'pveversion', 'pve-firewall', 'ha-manager', 'mkfs.ext4', 'wipefs', 'dd', 'sgdisk', 'blkdiscard', 'shutdown', 'reboot', 'poweroff',
  'halt', 'passwd', 'chpasswd', 'usermod', 'iptables',
];
const REQUIRED_TOPICS = ['backups', 'storage', 'zfs', 'ceph', 'networking', 'security', 'api-tokens', 'ha-quorum', 'updates', 'vm-performance', 'containers-vs-vms', 'templates-cloud-init', 'monitoring'];

describe('loadKnowledge', () => {
  const k = loadKnowledge();

  it('loads and validates every data file, and caches the result', () => {
    expect(k.commands().length).toBeGreaterThan(100);
    expect(loadKnowledge()).toBe(k);
  });

  it.each(REQUIRED_PROGRAMS)('describes %s', (program) => {
    const spec = k.command(program);
    expect(spec, program).toBeDefined();
    expect(spec!.explanation.length).toBeGreaterThan(10);
  });

  it('finds programs by path', () => {
    expect(k.command('/usr/sbin/qm')!.program).toBe('qm');
    expect(k.command('nonexistent-program')).toBeUndefined();
  });

  it('pvesh levels follow the verb', () => {
    const subs = Object.fromEntries(k.command('pvesh')!.subcommands!.map((s) => [s.name, s.level]));
    expect(subs).toMatchObject({ get: 'read', ls: 'read', create: 'write', set: 'write', delete: 'destructive' });
  });

  it.each(REQUIRED_TOPICS)('has the best-practice topic %s with practices, mistakes and valid checks', (id) => {
    const t = k.topic(id)!;
    expect(t).toBeDefined();
    expect(t.practices.length).toBeGreaterThan(2);
    expect(t.mistakes.length).toBeGreaterThan(2);
    for (const p of t.practices) expect(p.how.length).toBeGreaterThan(0);
    for (const c of t.checks) expect(CHECK_IDS).toContain(c.id);
  });

  it('fills in check defaults and finds topics by alias', () => {
    expect(k.topic('backups')!.checks.find((c) => c.id === 'guest_backup_age')!.params).toEqual({ maxDays: 7 });
    expect(k.topic('HA')!.id).toBe('ha-quorum');
    expect(k.topics().map((t) => t.id)).toEqual([...REQUIRED_TOPICS].sort());
    expect(k.checks().find((c) => c.id === 'storage_usage')!.defaults).toEqual({ maxPercent: 85 });
  });
});

describe('loadKnowledge with broken data', () => {
  function folder(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'knowledge-'));
    mkdirSync(join(dir, 'commands'));
    mkdirSync(join(dir, 'best-practices'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }

  it('names the file and the problem', () => {
    clearKnowledgeCache();
    const dir = folder({ 'commands/qm.json': JSON.stringify({ program: 'qm', summary: 's', explanation: 'e', level: 'maybe' }) });
    expect(() => loadKnowledge(dir)).toThrow(KnowledgeError);
    expect(() => loadKnowledge(dir)).toThrow(/qm\.json: level/);
  });

  it('rejects invalid JSON, misnamed files, unknown check ids and bad check parameters', () => {
    expect(() => loadKnowledge(folder({ 'commands/x.json': '{' }))).toThrow(/x\.json: not valid JSON/);
    expect(() => loadKnowledge(folder({ 'commands/y.json': JSON.stringify({ program: 'x', summary: 's', explanation: 'e', level: 'read' }) }))).toThrow(/must be named x\.json/);
    const topic = (checks: unknown[]) => JSON.stringify({ id: 't', title: 'T', appliesTo: 'PVE 8', summary: 's', practices: [{ title: 'p', why: 'w', how: ['h'] }], mistakes: ['m'], checks });
    expect(() => loadKnowledge(folder({ 'best-practices/t.json': topic([{ id: 'nope' }]) }))).toThrow(/unknown check id "nope"/);
    expect(() => loadKnowledge(folder({ 'best-practices/t.json': topic([{ id: 'storage_usage', params: { maxPercent: 'x' } }]) }))).toThrow(/storage_usage/);
    expect(() => loadKnowledge(folder({ 'commands/z.json': JSON.stringify({ program: 'z', summary: 's', explanation: 'e', level: 'read', rules: [{ when: { arg: '(' }, level: 'write', reason: 'r' }] }) }))).toThrow(/regular expression/);
  });
});

describe('explainCommandLine', () => {
  const k = loadKnowledge();

  it('explains options, arguments, risk, undo, safer alternative and the API call', () => {
    const e = explainCommandLine('qm destroy 100 --purge', k);
    expect(e.level).toBe('destructive');
    expect(e.risk).toBe('high');
    expect(e.reversible).toBe(false);
    const [part] = e.parts;
    expect(part!.options).toEqual([{ option: '--purge', meaning: expect.stringMatching(/backup jobs/) }]);
    expect(part!.arguments[0]).toMatchObject({ value: '100', name: 'vmid' });
    expect(part!.api).toBe('DELETE /nodes/{node}/qemu/{vmid}');
    expect(e.saferAlternatives[0]).toMatch(/vzdump/);
  });

  it('suggests reviewing upgrades first', () => {
    expect(explainCommandLine('apt dist-upgrade', k).saferAlternatives[0]).toMatch(/apt list --upgradable/);
  });

  it('explains connectors and redirections and lists what it did not recognise', () => {
    const e = explainCommandLine('qm list > /tmp/vms 2>&1 && frob --x', k);
    expect(e.parts[0]!.redirections).toEqual([expect.stringMatching(/^> \/tmp\/vms: writes the output/), expect.stringMatching(/^2>&1: sends errors/)]);
    expect(e.parts[0]!.notes.join(' ')).toMatch(/only if this one succeeds/);
    expect(e.unrecognised).toEqual(['frob']);
    expect(e.level).toBe('write');
  });

  it('explains nested and wrapped commands and keeps the forbidden verdict', () => {
    const e = explainCommandLine('sudo bash -c "pveum user delete root@pam"', k);
    expect(e.level).toBe('forbidden');
    expect(e.summary).toMatch(/forbidden/);
    expect(e.parts.find((p) => p.program === 'pveum')!.wrappers).toEqual(['sudo', 'bash']);
  });

  it('reports a parse error instead of guessing', () => {
    const e = explainCommandLine('echo "x', k);
    expect(e.parseError).toMatch(/double quote/);
    expect(e.level).toBe('forbidden');
  });
});
