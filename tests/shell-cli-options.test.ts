/**
 * The Proxmox CLI translation (lib/policy/command-guard.ts + lib/exec/pve-options.ts): options are read
 * as PVE::JSONSchema get_options reads them (Getopt::Long: unique prefixes, case-insensitive, -opt and
 * --opt, =value, repeats, booleans with an optional value), an ambiguous prefix is refused, list values
 * reach the API policy unchanged (NUL, `;`, spaces), and every translated request is judged by the one
 * API policy (checkProtections).
 */
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../lib/exec/shell-parse.ts';
import { optionNames, parseCliOptions, resolveOptionName, endpointParams, findEndpoint } from '../lib/exec/pve-options.ts';
import { commandProtectionFindings, translateCommand } from '../lib/policy/command-guard.ts';
import type { ProtectionContext } from '../lib/policy/protections.ts';
import type { ClusterResource, PveClient } from '../lib/pve/types.ts';
import { prng } from '../lib/random.ts';

function translate(line: string) {
  const parsed = parseCommandLine(line);
  return parsed.commands.flatMap((c) => translateCommand(c, 'pve1')).map(({ method, path, params }) => ({ method, path, params }));
}

/** A cluster where guest 101 (pve2) is protected and 102 (pve1) is not; this server is proxmox-mcp@pve!mcp. */
function stubContext(): ProtectionContext & { node: string } {
  const guests = [
    { vmid: 101, node: 'pve2', type: 'qemu', protection: 1 },
    { vmid: 102, node: 'pve1', type: 'qemu' },
    { vmid: 110, node: 'pve1', type: 'lxc', protection: 1 },
  ];
  const pve = {
    tokenId: 'proxmox-mcp@pve!mcp',
    async clusterResources(): Promise<ClusterResource[]> {
      return guests.map((g) => ({ id: `${g.type}/${g.vmid}`, type: g.type, vmid: g.vmid, node: g.node }) as ClusterResource);
    },
    async get(path: string) {
      const vmid = Number(/\/(\d+)\/config$/.exec(path)?.[1]);
      const guest = guests.find((g) => g.vmid === vmid);
      if (/\/snapshot\//.test(path)) return {};
      return guest?.protection ? { protection: guest.protection } : {};
    },
  } as unknown as PveClient;
  const identity = async () => ({ user: 'proxmox-mcp@pve', tokenId: 'proxmox-mcp@pve!mcp', roles: new Set(['proxmoxmcp']), groups: new Set<string>(), grantPaths: new Set(['/']), complete: true, gaps: [] });
  return { node: 'pve1', mainNode: async () => 'pve1', serviceTokenId: 'proxmox-mcp@pve!mcp', pve, caller: { role: 'admin', name: 'test-admin' }, identity };
}

const findings = (line: string) => commandProtectionFindings(line, stubContext());

describe('Getopt::Long as the Proxmox CLIs use it', () => {
  const names = optionNames('/nodes/{node}/qemu/{vmid}/config', endpointParams('PUT', '/nodes/{node}/qemu/{vmid}/config')!, ['node']);

  it.each([
    ['prot', 'protection'],
    ['PROT', 'protection'],
    ['Protection', 'protection'],
    ['del', 'delete'],
    ['rev', 'revert'],
    ['net1', 'net1'],
    ['unused1', 'unused1'],
  ])('--%s is --%s', (written, full) => {
    expect(resolveOptionName(written, names)).toEqual({ name: full });
  });

  it.each(['net', 'unused', 'sc', 's', 'ci'])('--%s is ambiguous', (written) => {
    expect(resolveOptionName(written, names)).toHaveProperty('error', expect.stringMatching(/ambiguous/));
  });

  it('reads -opt, --opt=value, repeats and boolean values as Getopt does', () => {
    const words = ['-prot', '0', '--delete=description', '--del', 'protection', '--onboot', '--name', '-x'].map((text) => ({ text, dynamic: false }));
    const parsed = parseCliOptions(words, names);
    expect(parsed.errors).toEqual([]);
    expect(parsed.options).toEqual({ protection: ['0'], delete: ['description', 'protection'], onboot: ['1'], name: ['-x'] });
  });

  it('a boolean takes the next word unless it looks like an option', () => {
    const parsed = parseCliOptions(['--protection', '--onboot', 'no'].map((text) => ({ text, dynamic: false })), names);
    expect(parsed.options).toEqual({ protection: ['1'], onboot: ['no'] });
  });

  it('finds the endpoint of a concrete path, literal segments first', () => {
    expect(findEndpoint('PUT', '/nodes/pve1/qemu/101/config')?.template).toBe('/nodes/{node}/qemu/{vmid}/config');
    expect(findEndpoint('POST', '/nodes/pve1/qemu/101/snapshot/s1/rollback')?.template).toBe('/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback');
    expect(findEndpoint('GET', '/nodes/pve1/qemu/101/agent/file-read')?.params).toHaveProperty('file');
  });
});

describe('CLI lines become the API requests Proxmox would get', () => {
  it.each([
    ['qm set 101 --prot 0', { method: 'PUT', path: '/nodes/pve1/qemu/101/config', params: { protection: '0' } }],
    ['qm set 101 -PROT=0', { method: 'PUT', path: '/nodes/pve1/qemu/101/config', params: { protection: '0' } }],
    ['qm set --prot 0 101', { method: 'PUT', path: '/nodes/pve1/qemu/101/config', params: { protection: '0' } }],
    ['qm set 101 --del protection', { method: 'PUT', path: '/nodes/pve1/qemu/101/config', params: { delete: 'protection' } }],
    ['qm set 101 --del description --del protection', { method: 'PUT', path: '/nodes/pve1/qemu/101/config', params: { delete: ['description', 'protection'] } }],
    ["qm set 101 --delete 'description;protection'", { method: 'PUT', path: '/nodes/pve1/qemu/101/config', params: { delete: 'description;protection' } }],
    ["qm set 101 --delete 'description protection'", { method: 'PUT', path: '/nodes/pve1/qemu/101/config', params: { delete: 'description protection' } }],
    ["qm set 101 --delete $'description\\x00protection'", { method: 'PUT', path: '/nodes/pve1/qemu/101/config', params: { delete: 'description\0protection' } }],
    ['qm destroy 101 --pur 1', { method: 'DELETE', path: '/nodes/pve1/qemu/101', params: { purge: '1' } }],
    ['qm rollback 101 before', { method: 'POST', path: '/nodes/pve1/qemu/101/snapshot/before/rollback', params: {} }],
    ['qm migrate 101 pve3 --with-local-disks', { method: 'POST', path: '/nodes/pve1/qemu/101/migrate', params: { target: 'pve3', 'with-local-disks': '1' } }],
    ['qm move-disk 101 scsi0 local-lvm --del 1', { method: 'POST', path: '/nodes/pve1/qemu/101/move_disk', params: { disk: 'scsi0', storage: 'local-lvm', delete: '1' } }],
    ['qm disk unlink 101 --idlist scsi1 --force', { method: 'PUT', path: '/nodes/pve1/qemu/101/unlink', params: { idlist: 'scsi1', force: '1' } }],
    ['qm template 101', { method: 'POST', path: '/nodes/pve1/qemu/101/template', params: {} }],
    ['qmrestore local:backup/vzdump-qemu-101.vma.zst 101 --force', { method: 'POST', path: '/nodes/pve1/qemu', params: { archive: 'local:backup/vzdump-qemu-101.vma.zst', vmid: '101', force: '1' } }],
    ['pct restore 110 local:backup/ct.tar.zst --force', { method: 'POST', path: '/nodes/pve1/lxc', params: { vmid: '110', ostemplate: 'local:backup/ct.tar.zst', force: '1', restore: '1' } }],
    ['pct move-volume 110 mp0 local --delete', { method: 'POST', path: '/nodes/pve1/lxc/110/move_volume', params: { volume: 'mp0', storage: 'local', delete: '1' } }],
    ['pvesm free local-lvm:vm-101-disk-0', { method: 'DELETE', path: '/nodes/pve1/storage/local-lvm/content/local-lvm:vm-101-disk-0', params: {} }],
    ['pvesm free vm-101-disk-0 --stor local-lvm', { method: 'DELETE', path: '/nodes/pve1/storage/local-lvm/content/vm-101-disk-0', params: {} }],
    ['pvesm remove local-lvm', { method: 'DELETE', path: '/storage/local-lvm', params: {} }],
    ['pveum acl delete / --tok root@pam!x --roles Administrator', { method: 'PUT', path: '/access/acl', params: { path: '/', tokens: 'root@pam!x', roles: 'Administrator', delete: '1' } }],
    ['pveum acl modify / --us bob@pve --ro PVEAdmin --prop 0', { method: 'PUT', path: '/access/acl', params: { path: '/', users: 'bob@pve', roles: 'PVEAdmin', propagate: '0' } }],
    ['pveum user token add bob@pve t1 --priv 0', { method: 'POST', path: '/access/users/bob@pve/token/t1', params: { privsep: '0' } }],
    ['pveum role modify ProxmoxMCP --priv VM.Audit', { method: 'PUT', path: '/access/roles/ProxmoxMCP', params: { privs: 'VM.Audit' } }],
    ['pveum role delete ProxmoxMCP', { method: 'DELETE', path: '/access/roles/ProxmoxMCP', params: {} }],
    ['pveum group modify admins --users root@pam', { method: 'PUT', path: '/access/groups/admins', params: { users: 'root@pam' } }],
    ['pvesh set /nodes/pve1/qemu/101/config --prot 0', { method: 'PUT', path: '/nodes/pve1/qemu/101/config', params: { protection: '0' } }],
    ['pvesh create /nodes/pve1/status --command reboot', { method: 'POST', path: '/nodes/pve1/status', params: { command: 'reboot' } }],
    ['vzdump 101 102 --rem 1', { method: 'POST', path: '/nodes/pve1/vzdump', params: { vmid: '101,102', remove: '1' } }],
    ['ha-manager remove vm:101', { method: 'DELETE', path: '/cluster/ha/resources/vm:101', params: {} }],
    ['pvecm delnode pve3', { method: 'DELETE', path: '/cluster/config/nodes/pve3', params: {} }],
    ['reboot', { method: 'POST', path: '/nodes/pve1/status', params: { command: 'reboot' } }],
    ['pveceph osd create /dev/sdb', { method: 'POST', path: '/nodes/pve1/ceph/osd', params: { dev: '/dev/sdb' } }],
    ['pveceph osd destroy 3 --clean', { method: 'DELETE', path: '/nodes/pve1/ceph/osd/3', params: { cleanup: '1' } }],
    ['pvenode stopall --vms 101', { method: 'POST', path: '/nodes/pve1/stopall', params: { vms: '101' } }],
    ['pvenode migrateall pve2 --with-local', { method: 'POST', path: '/nodes/pve1/migrateall', params: { target: 'pve2', 'with-local-disks': '1' } }],
    ['shutdown -h now', { method: 'POST', path: '/nodes/pve1/status', params: { command: 'shutdown' } }],
    ['systemctl poweroff', { method: 'POST', path: '/nodes/pve1/status', params: { command: 'shutdown' } }],
    ['wipefs -a /dev/sdb', { method: 'PUT', path: '/nodes/pve1/disks/wipedisk', params: { disk: '/dev/sdb' } }],
    ['dd if=/dev/zero of=/dev/sdb bs=1M', { method: 'PUT', path: '/nodes/pve1/disks/wipedisk', params: { disk: '/dev/sdb' } }],
    ['cat /tmp/zero > /dev/nvme0n1', { method: 'PUT', path: '/nodes/pve1/disks/wipedisk', params: { disk: '/dev/nvme0n1' } }],
    ['mkfs.ext4 /dev/sdc1', { method: 'PUT', path: '/nodes/pve1/disks/wipedisk', params: { disk: '/dev/sdc1' } }],
    ['zpool labelclear -f /dev/sdd', { method: 'PUT', path: '/nodes/pve1/disks/wipedisk', params: { disk: '/dev/sdd' } }],
    ['echo b > /proc/sysrq-trigger', { method: 'POST', path: '/nodes/pve1/status', params: { command: 'reboot' } }],
    ['systemctl --force reboot', { method: 'POST', path: '/nodes/pve1/status', params: { command: 'reboot' } }],
    ['telinit 0', { method: 'POST', path: '/nodes/pve1/status', params: { command: 'shutdown' } }],
  ])('%s', (line, request) => {
    expect(translate(line)).toEqual([request]);
  });

  it('reads nothing into lines that only read', () => {
    expect(translate('qm list')).toEqual([]);
    expect(translate('pveum user list')).toEqual([]);
    expect(translate('pvesh get /nodes')).toEqual([]);
  });
});

describe('the API policy judges every translated request', () => {
  it.each([
    'qm set 101 --prot 0',
    'qm set 101 -prot=0',
    'qm set 101 --PROTECTION=no',
    'qm set 101 --del protection',
    'qm set 101 --delete description --delete protection',
    "qm set 101 --delete 'description;protection'",
    "qm set 101 --delete $'description\\x00protection'",
    'qm set 101 --rev protection',
    'qm destroy 101',
    'qm destroy 101 --pur',
    'pct destroy 110',
    'pct set 110 --prot 0',
    'pvesh set /nodes/pve2/qemu/101/config --prot 0',
    'pvesh delete /nodes/pve2/qemu/101',
    'pveum acl delete / --tok root@pam!x --roles Administrator',
    'pveum acl modify / --us root@pam --ro NoAccess',
    'pveum user mod root@pam --en 0',
    'pveum user modify root@pam --en 0',
    'pveum user token add proxmox-mcp@pve t2 --priv 0',
    'pveum passwd root@pam',
    'pvecm delnode pve1',
    'pveum acl modify / --p 1 --users bob@pve --roles PVEAdmin',
    'qm set 101 --s 1',
    'pvesh create /nodes/pve1/status --command reboot',
    'reboot',
    'ssh pve1 reboot',
    'echo b > /proc/sysrq-trigger',
    'systemctl --force reboot',
    'mkfs.ext4 /dev/sdc1',
    'cat /tmp/zero > /dev/sda',
    'wipefs -a /dev/sdb',
    'pvesm free local-lvm:vm-101-disk-0',
    'pvesm fr vm-101-disk-0 --stor local-lvm',
    'pvesm free local:110/vm-110-disk-0.raw',
    'qmrestore local:backup/vzdump-qemu-101.vma.zst 101 --force',
    'pct restore 110 local:backup/ct.tar.zst --force',
    "pvesh create /nodes/pve1/execute --commands '[{\"method\":\"DELETE\",\"path\":\"/access/users/root@pam\"}]'",
    'echo root@pam | xargs -I{} pveum user delete {}',
    'echo 101 | xargs -I % qm destroy %',
    'echo 101 | xargs -i qm set {} --prot 0',
    'echo 101 | xargs --replace=@ qm set @ --prot 0',
  ])('%s is refused', async (line) => {
    const list = await findings(line);
    expect(list.length, line).toBeGreaterThan(0);
  });

  it('names the ambiguity when a prefix fits two options', async () => {
    const list = await findings('pveum acl modify / --p 1 --users bob@pve --roles PVEAdmin');
    expect(list.join(' ')).toMatch(/ambiguous \(.*path.*propagate|ambiguous \(.*propagate.*path/);
  });

  it.each(['qm set 102 --memory 4096', 'qm set 102 --prot 0', 'qm destroy 102', 'pveum user delete bob@pve', 'pvecm delnode pve3', 'qm list'])('%s passes', async (line) => {
    expect(await findings(line)).toEqual([]);
  });
});

describe('subcommands are expanded by unique prefix too (PVE CLIHandler)', () => {
  it.each([
    ['qm des 101', 'DELETE', '/nodes/pve1/qemu/101'],
    ['qm destr 101 --pur', 'DELETE', '/nodes/pve1/qemu/101'],
    ['pveum u d root@pam', 'DELETE', '/access/users/root@pam'],
    ['pveum ro mod ProxmoxMCP --priv VM.Audit', 'PUT', '/access/roles/ProxmoxMCP'],
    ['pveum ac del / --tok root@pam!x --roles Administrator', 'PUT', '/access/acl'],
    ['pvesm fr local-lvm:vm-101-disk-0', 'DELETE', '/nodes/pve1/storage/local-lvm/content/local-lvm:vm-101-disk-0'],
  ])('%s', (line, method, path) => {
    expect(translate(line)).toContainEqual(expect.objectContaining({ method, path }));
  });

  it.each(['qm des 101', 'pveum u d root@pam', 'pveum ac del / --tok root@pam!x --roles Administrator', 'pct dest 110', 'qm roll 101 before'])('%s is judged and refused', async (line) => {
    expect((await findings(line)).length, line).toBeGreaterThan(0);
  });
});

describe('the CLI table matches the official API schema', () => {
  it('every subcommand maps to a real endpoint, and its arguments are that endpoint\'s parameters', async () => {
    const { cliTable } = await import('../lib/policy/command-guard.ts');
    const problems: string[] = [];
    for (const [program, table] of Object.entries(cliTable)) {
      for (const [sub, spec] of Object.entries(table)) {
        const params = endpointParams(spec.method, spec.path);
        if (!params) {
          problems.push(`${program} ${sub}: ${spec.method} ${spec.path} is not in the schema`);
          continue;
        }
        for (const arg of [...(spec.args ?? []), ...(spec.listParam ? [spec.listParam] : []), ...Object.keys(spec.fixed ?? {})]) {
          if (!(arg in params) && !spec.path.includes(`{${arg}}`)) problems.push(`${program} ${sub}: ${arg} is not a parameter of ${spec.method} ${spec.path}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('the translation never throws on odd lines', () => {
  it('takes 1500 seeded random Proxmox CLI lines', async () => {
    const random = prng(99);
    const words = ['qm', 'pct', 'pveum', 'pvesh', 'pvesm', 'vzdump', 'ha-manager', 'pvecm', 'qmrestore', 'set', 'destroy', 'create', 'delete', 'user', 'acl', 'token', 'tfa', 'role', 'free', 'rollback', '101', '/', '/access/acl', '/nodes/pve1/qemu/101/config', '--prot', '-del', '--', '-', '--=', '=x', 'protection', 'root@pam', '$X', '"$(id)"', "$'a\\x00b'", '--users=root@pam', '-tok', 'x,y;z', '{a,b}', '*', '|', ';', '&&', 'reboot', '> /dev/sda', 'wipefs', '-a', '/dev/sdb'];
    for (let i = 0; i < 1500; i++) {
      const n = 1 + Math.floor(random() * 7);
      const line = Array.from({ length: n }, () => words[Math.floor(random() * words.length)]).join(' ');
      await expect(findings(line).then(() => 'ok', (e: unknown) => `threw ${(e as Error).message}: ${line}`)).resolves.toBe('ok');
    }
  }, 60_000);
});

describe('realm sync and the node certificate become their API requests (issue 12 follow-up)', () => {
  it.each([
    ['pveum realm sync ldap1 --remove-vanished acl --dry-run', { method: 'POST', path: '/access/domains/ldap1/sync', params: { 'remove-vanished': 'acl', 'dry-run': '1' } }],
    ['pveum re sy ldap1 --remove-v entry --sc both', { method: 'POST', path: '/access/domains/ldap1/sync', params: { 'remove-vanished': 'entry', scope: 'both' } }],
    ['pveum sync pve', { method: 'POST', path: '/access/domains/pve/sync', params: {} }],
    ['pvenode cert set /tmp/cert.pem /tmp/key.pem --force --rest 1', { method: 'POST', path: '/nodes/pve1/certificates/custom', params: { certificates: '/tmp/cert.pem', key: '/tmp/key.pem', force: '1', restart: '1' } }],
    ['pvenode cert delete', { method: 'DELETE', path: '/nodes/pve1/certificates/custom', params: {} }],
    ['pvenode ce del 1', { method: 'DELETE', path: '/nodes/pve1/certificates/custom', params: { restart: '1' } }],
    ['pvenode acme cert order --force', { method: 'POST', path: '/nodes/pve1/certificates/acme/certificate', params: { force: '1' } }],
    ['pvenode acme cert renew', { method: 'PUT', path: '/nodes/pve1/certificates/acme/certificate', params: {} }],
    ['pvenode ac ce rev', { method: 'DELETE', path: '/nodes/pve1/certificates/acme/certificate', params: {} }],
  ])('%s', (line, request) => {
    expect(translate(line)).toEqual([request]);
  });

  it.each(['pvenode cert set /tmp/c.pem', 'pvenode cert delete', 'pvenode acme cert order', 'pvenode acme cert renew --force', 'pvenode acme cert revoke', 'pvesh delete /nodes/pve1/certificates/custom'])('%s on the main node is refused by the API policy', async (line) => {
    expect((await findings(line)).join(' ')).toMatch(/certificate/i);
  });
});

describe('host commands that cut the main node off become API requests or host findings', () => {
  it.each([
    ['systemctl stop pveproxy', 'POST', '/nodes/pve1/services/pveproxy/stop'],
    ['systemctl --no-block stop pveproxy.service', 'POST', '/nodes/pve1/services/pveproxy/stop'],
    ['systemctl -s KILL kill pvedaemon', 'POST', '/nodes/pve1/services/pvedaemon/stop'],
    ['systemctl disable --now ssh', 'POST', '/nodes/pve1/services/sshd/stop'],
    ['systemctl mask corosync.service', 'POST', '/nodes/pve1/services/corosync/stop'],
    ["systemctl stop 'pve-c*'", 'POST', '/nodes/pve1/services/pve-cluster/stop'],
    ['systemctl stop ssh.socket', 'POST', '/nodes/pve1/services/sshd/stop'],
    ['sudo systemctl stop PVEPROXY', 'POST', '/nodes/pve1/services/pveproxy/stop'],
    ['service sshd stop', 'POST', '/nodes/pve1/services/sshd/stop'],
    ['invoke-rc.d pve-cluster stop', 'POST', '/nodes/pve1/services/pve-cluster/stop'],
    ['/etc/init.d/corosync stop', 'POST', '/nodes/pve1/services/corosync/stop'],
    ['killall pveproxy', 'POST', '/nodes/pve1/services/pveproxy/stop'],
    ['killall -9 pmxcfs', 'POST', '/nodes/pve1/services/pve-cluster/stop'],
    ['pkill -f pvedae', 'POST', '/nodes/pve1/services/pvedaemon/stop'],
    ['pkill -9 ^sshd', 'POST', '/nodes/pve1/services/sshd/stop'],
    ['zpool destroy -f rpool', 'DELETE', '/nodes/pve1/disks/zfs/rpool'],
    ['zfs destroy rpool/data/vm-101-disk-0', 'DELETE', '/nodes/pve1/storage/zfs/content/rpool/data/vm-101-disk-0'],
    ['ifdown vmbr0', 'DELETE', '/nodes/pve1/network/vmbr0'],
    ['ip link set vmbr0 down', 'DELETE', '/nodes/pve1/network/vmbr0'],
    ['ip l s dev eno1 down', 'DELETE', '/nodes/pve1/network/eno1'],
    ['ip -4 link set eno1 nomaster', 'DELETE', '/nodes/pve1/network/eno1'],
    ['ip link delete vmbr0', 'DELETE', '/nodes/pve1/network/vmbr0'],
    ['ip addr flush dev vmbr0', 'DELETE', '/nodes/pve1/network/vmbr0'],
    ['ip a f vmbr0', 'DELETE', '/nodes/pve1/network/vmbr0'],
    ['ip address del 192.168.100.10/24 dev vmbr0', 'DELETE', '/nodes/pve1/network/vmbr0'],
    ['ifconfig vmbr0 down', 'DELETE', '/nodes/pve1/network/vmbr0'],
    ['brctl delbr vmbr0', 'DELETE', '/nodes/pve1/network/vmbr0'],
    ['brctl delif vmbr0 eno1', 'DELETE', '/nodes/pve1/network/eno1'],
  ])('%s', (line, method, path) => {
    expect(translate(line)).toContainEqual(expect.objectContaining({ method, path }));
  });

  it.each(['systemctl restart pveproxy', 'systemctl status pveproxy', 'systemctl stop nginx', 'systemctl reload sshd', 'service pveproxy restart', 'killall nginx', 'zfs destroy -n -r rpool/data', 'zfs destroy rpool/data/vm-101-disk-0@snap1', 'ip link set vmbr0 up', 'ip -n ns1 link set eth0 down', 'ip route show', 'zpool status rpool'])('%s makes no request', (line) => {
    expect(translate(line)).toEqual([]);
  });

  it.each([
    'zfs destroy -r rpool/data',
    'zfs destroy -R rpool/ROOT',
    'zfs destroy rpool/ROOT/pve-1',
    'zfs destroy -f tank',
    'zfs destroy -rf rpool/data/subdir',
    'systemctl stop networking',
    'systemctl isolate rescue.target',
    'systemctl rescue',
    'ifdown -a',
    'ifdown --all',
    'ip addr flush scope global',
    'ip route flush table main',
    'ip route del default',
    'iptables -P INPUT DROP',
    'iptables --policy OUTPUT DROP',
    'ip6tables -P INPUT DROP',
    'iptables -F',
    'iptables -t filter --flush INPUT',
    'iptables -I INPUT -p tcp --dport 22 -j DROP',
    'iptables -A INPUT -j REJECT',
    'iptables-restore < /tmp/rules',
    'nft flush ruleset',
    "nft 'add chain inet f input { type filter hook input priority 0; policy drop; }'",
    'nft add rule inet f input tcp dport 8006 drop',
    'nft -f /tmp/rules.nft',
    'systemctl stop $UNIT',
    'pkill "$NAME"',
    'systemctl stop pveproxy',
    'killall -9 corosync',
    'zpool destroy rpool',
    'zfs destroy rpool/data/vm-101-disk-0',
    'ip link set vmbr0 down',
    'ifdown vmbr0',
  ])('%s is refused on the main node', async (line) => {
    expect((await findings(line)).length, line).toBeGreaterThan(0);
  });

  it('a cut-off that only matters on the main node passes on another node; data loss does not', async () => {
    const ctx = { ...stubContext(), node: 'pve2' };
    expect(await commandProtectionFindings('iptables -P INPUT DROP', ctx)).toEqual([]);
    expect(await commandProtectionFindings('ip route flush table main', ctx)).toEqual([]);
    expect(await commandProtectionFindings('systemctl stop pveproxy', ctx)).toEqual([]);
    expect((await commandProtectionFindings('zfs destroy -r rpool/data', ctx)).length).toBeGreaterThan(0);
    expect((await commandProtectionFindings('ssh pve1 iptables -P INPUT DROP', ctx)).length).toBeGreaterThan(0);
  });

  it.each(['zfs destroy rpool/data/vm-102-disk-0', 'systemctl restart pveproxy', 'iptables -L -n', 'nft list ruleset', 'pve-firewall stop', 'iptables -A INPUT -p tcp --dport 3128 -j ACCEPT'])('%s passes the protections', async (line) => {
    expect(await findings(line)).toEqual([]);
  });
});

describe('host cut-off variants found attacking the rules', () => {
  it.each([
    ['ip link set down vmbr0', '/nodes/pve1/network/vmbr0'],
    ['ip link set mtu 1400 down dev vmbr0', '/nodes/pve1/network/vmbr0'],
    ['ip link set arp off down vmbr0', '/nodes/pve1/network/vmbr0'],
    ['networkctl down vmbr0', '/nodes/pve1/network/vmbr0'],
    ['lvremove -y pve/vm-101-disk-0', '/nodes/pve1/storage/lvm/content/pve/vm-101-disk-0'],
    ['pkill -SIGKILL -x pveproxy', '/nodes/pve1/services/pveproxy/stop'],
    ['timeout 5 systemctl stop pveproxy', '/nodes/pve1/services/pveproxy/stop'],
    ['ssh pve1 systemctl stop pveproxy', '/nodes/pve1/services/pveproxy/stop'],
  ])('%s', (line, path) => {
    expect(translate(line)).toContainEqual(expect.objectContaining({ path }));
  });

  it.each([
    'lvremove -f pve/data',
    'lvremove pve',
    'vgremove -f pve',
    'lvremove /dev/pve/root',
    'lvremove -y pve/vm-101-disk-0',
    'kill -9 -1',
    'kill -s KILL 1',
    'killall5 -9',
    'kill $(pidof pveproxy)',
    'kill -9 "$(cat /run/pveproxy/pveproxy.pid)"',
    'ip -batch /tmp/cmds',
    "iptables -t raw -A PREROUTING -j DROP",
    'iptables -A INPUT -j MYCHAIN',
    'iptables -PINPUT DROP',
    'echo flush ruleset | nft -f -',
    'systemctl stop -- pveproxy',
    'systemctl --now disable sshd',
    'systemctl stop pveproxy.service pvedaemon',
    'systemctl stop pve-cluster.SERVICE',
    'ssh pve1 systemctl stop pveproxy',
  ])('%s is refused', async (line) => {
    expect((await findings(line)).length, line).toBeGreaterThan(0);
  });

  it.each(['kill 12345', 'kill -9 12345', 'kill -l', 'lvremove -t pve/data', 'lvs', 'ip link set tap100i0 mtu 1400', 'iptables -A INPUT -p tcp --dport 3128 -j ACCEPT', 'lvremove -y pve/vm-102-disk-0'])('%s passes the protections', async (line) => {
    expect(await findings(line)).toEqual([]);
  });
});

describe('host cut-offs through wrappers, encodings and spellings', () => {
  it.each([
    "systemctl stop $'pve\\x70roxy'",
    'systemctl stop pvepr[o]xy',
    "systemctl stop '*'",
    'env systemctl stop pveproxy',
    'nohup systemctl stop pveproxy',
    'nice -n 5 systemctl stop pveproxy',
    'setsid pkill pveproxy',
    'sudo -u root killall corosync',
    'busybox killall pveproxy',
    'systemctl stop "pve-cluster.service"',
    'ip -family inet link set vmbr0 down',
    'ip -d -4 l s vmbr0 down',
    'ip -6 addr flush dev vmbr0',
    'ip route replace default via 192.168.100.254',
    'ip r change default via 192.168.100.254 dev vmbr0',
    'nft -f-',
    'nft --file=/tmp/x',
    'ifdown --all --exclude=eno2',
    "bash -c 'systemctl stop pveproxy'",
    'sh -c "ip link set vmbr0 down"',
    'watch -n1 systemctl stop pveproxy',
  ])('%s is refused', async (line) => {
    expect((await findings(line)).length, line).toBeGreaterThan(0);
  });
});

describe('a run-time word cannot hide a cut-off', () => {
  it.each(['systemctl $VERB pveproxy', 'ip link set vmbr0 $STATE', 'iptables -P INPUT $P', 'zfs $CMD -r rpool/data', '$X stop pveproxy', 'X=systemctl; $X stop pveproxy', '"$(echo systemctl)" stop sshd', 'kill $PID'])('%s is refused', async (line) => {
    expect((await findings(line)).length, line).toBeGreaterThan(0);
  });

  it.each(['systemctl status $UNIT', 'ip link show $IF', 'zfs list $DS', 'echo $X pveproxy'])('%s is not', async (line) => {
    expect(await findings(line)).toEqual([]);
  });
});

describe('the host cut-off rules never throw on odd lines', () => {
  it('takes 1500 seeded random host lines', async () => {
    const random = prng(7);
    const words = ['systemctl', 'service', 'killall', 'pkill', 'kill', 'zfs', 'zpool', 'lvremove', 'vgremove', 'ip', 'ifdown', 'ifconfig', 'brctl', 'networkctl', 'iptables', 'nft', 'stop', 'kill', 'mask', 'destroy', 'link', 'addr', 'route', 'set', 'del', 'flush', 'dev', 'down', 'vmbr0', 'eno1', 'pveproxy', 'sshd.service', 'pve*', '[', 'rpool', 'rpool/data', 'rpool/ROOT', 'pve/data', '-r', '-P', 'INPUT', 'DROP', '-j', '-F', '-f', '-1', '1', '--', '-', '$X', '"$(id)"', 'default', 'ruleset', '|', ';', '&&', '{', '}'];
    for (let i = 0; i < 1500; i++) {
      const n = 1 + Math.floor(random() * 7);
      const line = Array.from({ length: n }, () => words[Math.floor(random() * words.length)]).join(' ');
      await expect(findings(line).then(() => 'ok', (e: unknown) => `threw ${(e as Error).message}: ${line}`)).resolves.toBe('ok');
    }
  }, 60_000);
});

it.each(["systemctl stop 'pve[z-a]'", "pkill '(('", "systemctl stop 'pvepr[!a]xy'"])('an odd pattern (%s) is refused, not thrown', async (line) => {
  expect((await findings(line)).length, line).toBeGreaterThan(0);
});

describe('ssh to the main node by address or loopback is the main node', () => {
  /** The stub cluster with /cluster/status: pve1 at 192.168.100.10 (main), pve2 at 192.168.100.11. */
  function withStatus(node: string) {
    const ctx = { ...stubContext(), node };
    const inner = ctx.pve.get.bind(ctx.pve);
    ctx.pve = Object.assign(Object.create(ctx.pve), {
      async get(path: string) {
        if (path === '/cluster/status') return [{ type: 'node', name: 'pve1', ip: '192.168.100.10' }, { type: 'node', name: 'pve2', ip: '192.168.100.11' }];
        return inner(path);
      },
    });
    return ctx;
  }

  it.each(['ssh 127.0.0.1 systemctl stop pveproxy', 'ssh localhost iptables -F', 'ssh root@192.168.100.10 iptables -P INPUT DROP', 'ssh -p 22 PVE1.example.com reboot', 'ssh [::1] systemctl stop sshd', 'ssh unknown-host reboot'])('%s from pve1 is refused', async (line) => {
    expect((await commandProtectionFindings(line, withStatus('pve1'))).length, line).toBeGreaterThan(0);
  });

  it.each(['ssh 192.168.100.11 iptables -P INPUT DROP', 'ssh pve2 systemctl stop pveproxy', 'ssh root@pve2 reboot'])('%s (another node) passes the protections', async (line) => {
    expect(await commandProtectionFindings(line, withStatus('pve1'))).toEqual([]);
  });

  it('ssh 127.0.0.1 from pve2 is pve2, not the main node', async () => {
    expect(await commandProtectionFindings('ssh 127.0.0.1 iptables -P INPUT DROP', withStatus('pve2'))).toEqual([]);
  });
});
