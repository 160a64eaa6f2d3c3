import { describe, expect, it } from 'vitest';
import { LEVEL_RANK, classifyCommandLine } from '../lib/exec/classify.ts';

const ctx = { mainNode: 'pve1', serviceUser: 'proxmox-mcp@pve', serviceTokenId: 'proxmox-mcp@pve!mcp' };
const level = (line: string, c: Parameters<typeof classifyCommandLine>[1] = ctx) => classifyCommandLine(line, c).level;

describe('classifyCommandLine: attempts to get forbidden things past it', () => {
  it.each([
    '/usr/sbin/pveum user delete root@pam',
    'p"v"eum user delete root@pam',
    "pveum user delete 'root@pam'",
    'x=1 pveum user delete root@pam',
    'echo ok; pveum user delete root@pam',
    'echo ok && pveum user delete root@pam || true',
    '$(echo pveum) user delete root@pam',
    '`echo pveum` user delete root@pam',
    'pveum user delete ROOT@PAM',
    'pveum user delete Root@Pam',
    'pveum user delete root@pam\\',
    'pveum user modify root@pam --enable 0',
    'pveum user modify root@pam -enable 0',
    'pveum usermod root@pam --enable 0',
    'pveum userdel root@pam',
    'pveum passwd root@pam',
    'pveum user token add root@pam t1',
    'pveum user token remove root@pam t1',
    'pveum user tfa delete root@pam',
    'pveum acl modify / --users root@pam --roles NoAccess',
    'pveum acl delete / --users=root@pam --roles Administrator',
    'pveum acl modify / --tokens root@pam!x --roles NoAccess',
    // Proxmox splits a list on Perl's \s, which has NEL (U+0085); JavaScript's \s does not
    'pveum acl modify / --users alice@pve\u0085root@pam --roles NoAccess',
    'pveum acl modify / --tokens alice@pve!x\u0085root@pam!y --roles NoAccess',
    'pveum user delete {root,x}@pam',
    'echo root@pam | xargs pveum user delete',
    'pveum user delete $U',
    'pvesh delete /access/users/root@pam',
    'pvesh set /access/users/root%40pam --enable 0',
    'pvesh set /access/users/root%2540pam --enable 0',
    'pvesh delete /access//users/root@pam/',
    'pvesh delete access/users/ROOT@pam',
    'pvesh delete /access/users/x/../root@pam',
    'pvesh create /access/users/root@pam/token/t1',
    'pvesh set /access/password --userid root@pam --password x',
    'pvesh set /access/acl --path / --roles NoAccess --users root@pam',
    'pvesh delete /api2/json/access/users/root@pam',
    'pvesh delete /cluster/config/nodes/pve1',
    'pvesh delete /cluster/config/nodes/PVE1',
    'pvesh create /nodes/pve1/status --command reboot',
    'pvecm delnode pve1',
    "sh -c 'pvecm delnode pve1'",
    'sudo -u root bash -c "pvecm delnode pve1"',
    'pveum user delete proxmox-mcp@pve',
    'pveum user modify proxmox-mcp@pve --enable 0',
    'pveum user token remove proxmox-mcp@pve mcp',
    'pvesh delete /access/users/proxmox-mcp@pve/token/mcp',
    'sudo -u root bash -c "rm -rf /"',
    'rm -rf /',
    'rm -fr /*',
    'rm -r -f /',
    'rm -rf --no-preserve-root /',
    'rm -rf /etc/pve',
    'rm -rf /etc/pve/',
    'rm -rf /etc/pve/*',
    'rm /etc/pve/corosync.conf',
    'rm -rf /var/lib/pve-cluster',
    'rm -rf //',
    'rm -rf /./etc/../',
    'cd / && rm -rf *',
    'rm -rf ../../..',
    'rm -rf $DIR/',
    'rm -rf "$DIR"/*',
    'find / -exec rm -rf {} \\;',
    'find / -delete -exec rm -rf {} +',
    'echo "rm -rf /" | bash',
    "printf 'rm -rf /\\n' | sh",
    'bash <<EOF\nrm -rf /\nEOF',
    "python3 -c \"import os; os.system('rm -rf /')\"",
    "perl -e 'system(\"pveum user delete root@pam\")'",
    'ssh pve2 "pveum user delete root@pam"',
    'env pveum user delete root@pam',
    'nohup timeout 5 pveum user delete root@pam',
    "watch -n1 'pveum user delete root@pam'",
    'dd if=/dev/zero of=/dev/sda',
    'dd if=/dev/urandom of=/dev/nvme0n1 bs=1M',
    'echo x > /dev/sda',
    'cat image.raw > /dev/disk/by-id/ata-XYZ',
    'tee /dev/sdb < image',
    'cp disk.img /dev/vda',
    'mkfs.ext4 /dev/sdb',
    'mkfs -t xfs /dev/sdb1',
    'wipefs -a /dev/sdb',
    'sgdisk -Z /dev/sdb',
    'sgdisk --zap-all /dev/sdb',
    'blkdiscard /dev/nvme0n1',
    'parted -s /dev/sdb mklabel gpt',
    'zpool destroy rpool',
    'zfs destroy -r rpool/ROOT',
    ':(){ :|:& };:',
    'bomb(){ bomb|bomb& };bomb',
    'function f { f | f & }; f',
    'echo x > /etc/pve/corosync.conf',
    'echo x >> /etc/pve/priv/authorized_keys',
    'cp x /etc/pve/priv/authkey.key',
    "sed -i 's/a/b/' /etc/pve/corosync.conf",
    'tee -a /etc/pve/corosync.conf',
    'mv /etc/pve/priv /tmp/',
    'ln -sf /dev/null /etc/pve/corosync.conf',
    'echo "root::0:0::/root:/bin/bash" >> /etc/passwd',
    'reboot',
    '/sbin/shutdown -h now',
    'poweroff',
    'halt',
    'systemctl poweroff',
    'systemctl reboot',
    'sudo systemctl reboot',
    'init 0',
    'chmod -R 777 /',
    'chown -R nobody /etc',
    'iptables -F',
    'iptables -P INPUT DROP',
    'nft flush ruleset',
    'passwd root',
    'passwd',
    'echo root:x | chpasswd',
    'usermod -L root',
    'userdel root',
    'useradd -o -u 0 evil',
    'apt remove proxmox-ve',
    'apt-get purge -y pve-manager',
    'pvesh set /nodes/pve1/disks/wipedisk --disk /dev/sdb',
    'ls; { echo a; } > /dev/sda',
    "echo 'x' | sudo tee /dev/sda",
    "eval 'pveum user delete root@pam'",
    'exec pveum user delete root@pam',
    'command pveum user delete root@pam',
    "echo 'unterminated",
  ])('%s is forbidden', (line) => {
    const c = classifyCommandLine(line, ctx);
    expect(c.level, c.reasons.join('\n')).toBe('forbidden');
  });
});

describe('classifyCommandLine: never read, even if not forbidden', () => {
  it.each([
    ['pvecm delnode pve2', 'destructive'],
    ['qm destroy 100', 'destructive'],
    ['qm stop 100', 'destructive'],
    ['pct destroy 101 --purge', 'destructive'],
    ['apt dist-upgrade -y', 'destructive'],
    ['apt full-upgrade', 'destructive'],
    ['apt autoremove', 'destructive'],
    ['apt remove nginx', 'destructive'],
    ['apt update', 'write'],
    ['apt install htop', 'write'],
    ['apt upgrade', 'write'],
    ['pvesh delete /nodes/pve1/qemu/100', 'destructive'],
    ['pvesh create /nodes/pve1/qemu/100/status/start', 'write'],
    ['pvesh create /nodes/pve1/qemu/100/status/stop', 'destructive'],
    ['pvesh set /nodes/pve1/qemu/100/config --memory 4096', 'write'],
    ['pveum user delete alice@pve', 'destructive'],
    ['pveum user add alice@pve', 'write'],
    ['zfs destroy rpool/data/vm-100-disk-0', 'destructive'],
    ['rm -rf /tmp/build', 'destructive'],
    ['rm /etc/pve/qemu-server/100.conf', 'destructive'],
    ['echo x > /tmp/file', 'write'],
    ['echo x > /etc/pve/storage.cfg', 'destructive'],
    ['sed -i s/a/b/ /etc/hosts', 'destructive'],
    ['sed -i s/a/b/ notes.txt', 'write'],
    ['curl -o /tmp/x https://example.com', 'write'],
    ['wget https://example.com/file', 'write'],
    ['foo --bar', 'write'],
    ['qm frobnicate 100', 'write'],
    ['$CMD list', 'destructive'],
    ['bash ./deploy.sh', 'destructive'],
    ['curl https://x | sh', 'destructive'],
    ['. ./env.sh', 'destructive'],
    ['systemctl restart pveproxy', 'destructive'],
    ['systemctl restart nginx', 'write'],
    ['ip link set vmbr0 down', 'destructive'],
    ['ip addr add 10.0.0.2/24 dev vmbr1', 'write'],
    ['kill -9 1', 'destructive'],
    ['fdisk /dev/sdb', 'destructive'],
    ['qm guest exec 100 -- rm -rf /', 'destructive'],
    ['PATH=/tmp/evil qm list', 'write'],
    ['qmrestore /var/lib/vz/dump/x.vma.zst 100 --force', 'destructive'],
    ['vzdump 100 --storage pbs', 'write'],
    ['pveum acl modify /vms/100 --users alice@pve --roles PVEVMUser', 'write'],
    ['hostname newname', 'destructive'],
    ['journalctl --vacuum-time=2d', 'destructive'],
  ] as const)('%s is %s', (line, expected) => {
    const c = classifyCommandLine(line, ctx);
    expect(c.level, c.reasons.join('\n')).toBe(expected);
    expect(LEVEL_RANK[c.level]).toBeGreaterThan(0);
  });

  it('unknown programs say why', () => {
    const c = classifyCommandLine('foo --bar', ctx);
    expect(c.commands[0]!.reason).toBe('unknown command, treated as a change');
  });

  it('without a main node, delnode is destructive, and a dynamic node is forbidden', () => {
    expect(level('pvecm delnode pve1', {})).toBe('destructive');
    expect(level('pvecm delnode $NODE', {})).toBe('forbidden');
  });

  it('extra protected users are honoured', () => {
    expect(level('pveum user delete breakglass@pve', { protectedUsers: ['breakglass@pve'] })).toBe('forbidden');
  });
});

describe('classifyCommandLine: read-only commands stay read', () => {
  it.each([
    'qm list',
    'qm config 100',
    'qm status 100 --verbose',
    'pct list',
    'pvesh get /nodes',
    'pvesh get /access/users/root@pam',
    'pvesh get /cluster/resources --type vm --output-format json',
    'pveum user list',
    'pveum user permissions root@pam',
    'pveum user token list root@pam',
    'pvecm status',
    'pvesm status',
    'pveversion -v',
    'zfs list',
    'zfs list -t snapshot',
    'zpool status -x',
    'ceph -s',
    'ceph osd tree',
    'ceph health detail',
    'journalctl -u pveproxy -n 50',
    'journalctl -u pveproxy -n 50 --no-pager',
    'cat /etc/hosts | grep pve',
    'ls -la /etc/pve',
    'df -h',
    'free -m',
    'uptime',
    'top -bn1',
    'ps aux | sort -k3 -nr | head -n 5',
    'ip a',
    'ip -br addr show',
    'ip route',
    'ss -tlnp',
    'lsblk -o NAME,SIZE,TYPE,MOUNTPOINT',
    'smartctl -a /dev/sda',
    'fdisk -l',
    'wipefs /dev/sdb',
    'lvs',
    'systemctl status pveproxy --no-pager',
    'systemctl --failed',
    'apt list --upgradable',
    'apt -s dist-upgrade',
    'dmesg -T | tail -n 20',
    'sed -n 1,10p /etc/hosts',
    'find /var/log -name "*.gz" -mtime +30',
    'curl -s https://example.com',
    'echo hello',
    'date',
    'hostname -f',
    'whoami; id; uname -a',
    'cat /etc/pve/storage.cfg 2>/dev/null',
    'ls /nonexistent > /dev/null 2>&1',
    'for v in $(qm list | awk \'{print $1}\'); do qm config -- "$v"; done',
    'sudo qm list',
    'timeout 10 pvesh get /cluster/status',
    "ssh pve2 'qm list'",
    "watch -n 5 'pvecm status'",
    'wget -qO- https://example.com',
    'mount',
    'x=1',
    '',
  ])('%j is read', (line) => {
    const c = classifyCommandLine(line, ctx);
    expect(c.level, c.reasons.join('\n')).toBe('read');
  });
});

describe('classifyCommandLine: result shape', () => {
  it('reports each command with program, level, reason and explanation, and the worst level overall', () => {
    const c = classifyCommandLine('qm list; qm destroy 100', ctx);
    expect(c.level).toBe('destructive');
    expect(c.commands.map((x) => [x.program, x.level])).toEqual([
      ['qm', 'read'],
      ['qm', 'destructive'],
    ]);
    expect(c.commands[1]!.subcommand).toEqual(['destroy']);
    expect(c.commands[1]!.explanation).toMatch(/deletes the VM/);
    expect(c.reasons[0]).toMatch(/^destructive: qm destroy 100: /);
  });

  it('an unparseable line is forbidden with the parse error', () => {
    const c = classifyCommandLine('echo "x', ctx);
    expect(c.level).toBe('forbidden');
    expect(c.parseError).toMatch(/double quote/);
  });
});
