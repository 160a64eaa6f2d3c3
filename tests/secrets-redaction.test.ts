/**
 * Secret redaction by meaning and by command-line pattern, table-driven. Every case names the secret text
 * that must disappear and, where it matters, text that must stay (what was asked stays readable).
 * The list of secret parameter names is checked against the official API schema: a name that looks
 * secret and is judged in neither direction fails here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { redactText } from '../lib/policy/redact-text.ts';
import { isSecretName, isSecretOption, maskSecretKeys } from '../lib/policy/secret-params.ts';
import { redactArgs, redactHistoryRow } from '../lib/runtime/redact-args.ts';
import { maskSnapshot, type ClusterSnapshot } from '../lib/self/cluster-snapshot.ts';
import { createLogger, redact } from '../lib/log.ts';
import secretParams from '../lib/policy/secret-params.json' with { type: 'json' };

/** [command line, secret that must go, text that must stay] */
export const commandCases: Array<[string, string, string?]> = [
  ['curl -u admin:S3cretPw1 https://10.0.0.5:8006/api2/json/version', 'S3cretPw1', 'curl -u admin:'],
  ['curl -uadmin:S3cretPw2 https://host', 'S3cretPw2', 'admin:'],
  ['curl --user admin:S3cretPw3 https://host', 'S3cretPw3', '--user admin:'],
  ['curl --user=admin:S3cretPw4 https://host', 'S3cretPw4'],
  ["curl -u 'admin:S3cret Pw5' https://host", 'S3cret'],
  ['curl --proxy-user bob:ProxyPw6 https://host', 'ProxyPw6'],
  ['sshpass -p SshPassPw7 ssh root@10.0.0.6 uptime', 'SshPassPw7', 'ssh root@10.0.0.6 uptime'],
  ['sshpass -pSshPassPw8 scp a b', 'SshPassPw8'],
  ["sshpass -p 'Ssh Pass Pw9' ssh x", 'Ssh Pass Pw9'],
  ['SSHPASS=SshEnvPw10 sshpass -e ssh x', 'SshEnvPw10'],
  ['mysql -uroot -pMysqlPw11 -e "select 1"', 'MysqlPw11', 'select 1'],
  ['mysqldump -u root -pDumpPw12 db > /tmp/db.sql', 'DumpPw12'],
  ['mariadb -pMariaPw13 db', 'MariaPw13'],
  ['mysql --password=MysqlLongPw14 db', 'MysqlLongPw14'],
  ['smbclient //nas/share -U backup%SmbPw15 -c ls', 'SmbPw15', 'backup%'],
  ['smbclient //nas/share -Ubackup%SmbPw16', 'SmbPw16'],
  ["smbclient //nas/share --user='DOM\\\\bk%SmbPw17'", 'SmbPw17'],
  ['mount -t cifs //nas/s /mnt -o username=bk,password=CifsPw18,vers=3', 'CifsPw18', 'vers=3'],
  ["curl -H 'Authorization: Bearer pmcp_abcdefghijklmnop19' https://x", 'pmcp_abcdefghijklmnop19'],
  ["curl -H 'Authorization: PVEAPIToken=root@pam!mcp=aaaaaaaa-bbbb-cccc-dddd-eeeeeeee0020' https://x:8006", 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeee0020'],
  ['curl -H "X-API-Key: ApiKeyValue21" https://x', 'ApiKeyValue21', 'X-API-Key:'],
  ["curl -H 'X-Auth-Token: AuthTok22' https://x", 'AuthTok22'],
  ["curl -H 'PRIVATE-TOKEN: GitlabTok23' https://gitlab", 'GitlabTok23'],
  ["curl -b 'PVEAuthCookie=PVE:root@pam:ABC::SIG24' https://x", 'SIG24'],
  ["wget --header='Cookie: session=CookieVal25' https://x", 'CookieVal25'],
  ['git clone https://user:GitTok26@github.com/x/y', 'GitTok26', 'github.com/x/y'],
  ['psql postgresql://app:PgUrlPw27@db:5432/app', 'PgUrlPw27', 'db:5432/app'],
  ['PGPASSWORD=PgEnvPw28 psql -h db -U app', 'PgEnvPw28', 'psql -h db -U app'],
  ['MYSQL_PWD=MyEnvPw29 mysql -u root', 'MyEnvPw29'],
  ['export AWS_SECRET_ACCESS_KEY=AwsSecret30', 'AwsSecret30'],
  ['PBS_PASSWORD=PbsPw31 proxmox-backup-client list', 'PbsPw31'],
  ['pvesm add cifs nas --server 10.0.0.9 --share s --username bk --password CifsAddPw32', 'CifsAddPw32', '--server 10.0.0.9'],
  ['pvesm add pbs pbs1 --server pbs --datastore d --passw PrefixPw33', 'PrefixPw33'],
  ["pvesm add pbs pbs1 --encryption-key '{\"kdf\":null,\"key\":\"EncKey34\"}'", 'EncKey34'],
  ['pvesm add pbs pbs1 --encr EncPrefix35', 'EncPrefix35'],
  ['pvesm set ceph --keyring KeyringVal36', 'KeyringVal36'],
  ['qm set 101 --cipassword CiPw37', 'CiPw37', 'qm set 101'],
  ['qm set 101 --cipass=CiPrefixPw38', 'CiPrefixPw38'],
  ['pveum user add bob@pve --password UserPw39', 'UserPw39', 'bob@pve'],
  ['pvesh create /access/domains --realm oidc --type openid --client-key OidcKey40', 'OidcKey40'],
  ['pvesh create /cluster/acme/account --eab-hmac-key HmacKey41 --eab-kid kid', 'HmacKey41', '--eab-kid kid'],
  ['pvesh create /cluster/notifications/endpoints/gotify --name g --server https://g --token GotifyTok42', 'GotifyTok42'],
  ['pvesh set /cluster/sdn --lock-token LockTok43', 'LockTok43'],
  ['redis-cli -a RedisPw44 ping', 'RedisPw44'],
  ['ldapsearch -x -D cn=admin -w LdapPw45 -b dc=x', 'LdapPw45', '-b dc=x'],
  ['htpasswd -b /etc/nginx/.htpasswd alice HtPw46', 'HtPw46', 'alice'],
  ["echo 'alice:ChPw47' | chpasswd", 'ChPw47', 'chpasswd'],
  ['openssl enc -aes-256-cbc -pass pass:OsslPw48 -in a', 'OsslPw48'],
  ['wget --http-password=WgetPw49 https://x', 'WgetPw49'],
  ['tool --api-key ApiKey50 --db-pass DbPass51', 'ApiKey50'],
  ['tool --api-key ApiKey50 --db-pass DbPass51', 'DbPass51'],
  ['gpg --batch --passphrase GpgPhrase52 -d f', 'GpgPhrase52'],
  ['GET /access/ticket?username=root@pam&password=QueryPw53', 'QueryPw53', 'username=root@pam'],
  ['{"password": "JsonPw54", "userid": "bob@pve"}', 'JsonPw54', 'bob@pve'],
  ['-----BEGIN OPENSSH PRIVATE KEY-----\nPrivKey55\n-----END OPENSSH PRIVATE KEY-----', 'PrivKey55'],
];

/** Text that must come through unchanged (no false alarm on everyday commands). */
const untouched = [
  'qm start 101',
  'pvesm status',
  'pveum acl modify / --tokens "ops@pve!ci" --roles PVEAuditor',
  'pveum acl modify / --tok "ops@pve!ci" --roles PVEAuditor',
  'qm set 101 --keyboard de --protection 1',
  'ps -u root',
  'find /etc -name "*.conf"',
  'zfs list -o name,used',
  'mysql -p mydb',
  'cat /etc/pve/storage.cfg',
  'qm set 101 --sshkeys /root/.ssh/id_ed25519.pub',
];

describe('command-line patterns', () => {
  for (const [line, secret, stays] of commandCases) {
    it(`${line.slice(0, 70)}`, () => {
      const out = redactText(line);
      expect(out).not.toContain(secret);
      expect(out).toContain('[redacted');
      if (stays) expect(out).toContain(stays);
    });
  }
  for (const line of untouched) {
    it(`leaves alone: ${line}`, () => expect(redactText(line)).toBe(line));
  }

  it('the logger applies the same rules to messages and fields, JSON and pretty', () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: string) => {
      written.push(String(chunk));
      return true;
    }) as never);
    try {
      for (const json of [true, false]) {
        const log = createLogger('debug', { json });
        for (const [line] of commandCases) {
          log.info(`ran ${line}`, { command: line, nested: { args: { password: 'FieldPw', cmd: line } } });
          log.error('failed', { error: `exit 1: ${line}` });
        }
      }
    } finally {
      spy.mockRestore();
    }
    const text = written.join('');
    expect(written.length).toBeGreaterThan(commandCases.length * 4 - 1);
    for (const [, secret] of commandCases) expect(text).not.toContain(secret);
    expect(text).not.toContain('FieldPw');
  });

  it('the line redactor catches JSON inside JSON, and keeps request ids readable', () => {
    const line = JSON.stringify({ msg: 'call', requestId: '6f1c2b7e-1111-4222-8333-944445555666', args: JSON.stringify({ password: 'EscapedJsonPw' }) });
    const out = redact(line);
    expect(out).toContain('6f1c2b7e-1111-4222-8333-944445555666');
    expect(out).not.toContain('EscapedJsonPw');
  });
});

describe('parameters by meaning', () => {
  const secret = ['password', 'cipassword', 'confirmation-password', 'encryption-key', 'encryption_key', 'keyring', 'client-key', 'eab-hmac-key', 'secret', 'token', 'lock-token', 'otp', 'totp', 'key', 'value', 'data', 'header', 'otel-headers', 'passphrase', 'Password', 'db_password', 'client_secret', 'api_key', 'private_key', 'vncticket'];
  const notSecret = ['tokens', 'tokenid', 'token-coefficient', 'ssh-public-keys', 'sshkeys', 'master-pubkey', 'keyboard', 'keys', 'certificates', 'authid', 'hotplug', 'vmid', 'node', 'userid', 'comment', 'public_key', 'include_secrets'];
  for (const name of secret) it(`${name} is a secret`, () => expect(isSecretName(name)).toBe(true));
  for (const name of notSecret) it(`${name} is not`, () => expect(isSecretName(name)).toBe(false));

  it('CLI option prefixes of secret options are secret, short ones and public names are not', () => {
    for (const option of ['passw', 'password', 'cipass', 'encr', 'encryption-k', 'keyr', 'client-k', 'eab-h', 'confirmation-p', 'http-password', 'db-pass', 'api-key']) expect(isSecretOption(option), option).toBe(true);
    for (const option of ['tok', 'tokens', 'keyboard', 'name', 'node', 'storage', 'delete', 'protection', 'sshkeys', 'bypass-cache']) expect(isSecretOption(option), option).toBe(false);
  });

  it('redactArgs masks proxmox_api params by meaning at any depth, and keeps the rest', () => {
    const args = {
      method: 'POST',
      path: '/storage',
      params: { storage: 'pbs1', type: 'pbs', 'encryption-key': '{"key":"K1"}', password: 'P1', keyring: 'KR1', 'client-key': 'CK1', token: 'T1', 'eab-hmac-key': 'H1', tokens: 'ops@pve!ci', nested: [{ secret: 'name=a,value=S1' }] },
    };
    const text = JSON.stringify(redactArgs(args));
    for (const secret of ['K1', 'P1', 'KR1', 'CK1', '"T1"', 'H1', 'S1']) expect(text).not.toContain(secret);
    expect(text).toContain('ops@pve!ci');
    expect(text).toContain('pbs1');
  });

  it('maskSecretKeys keeps flags and empty values readable', () => {
    expect(maskSecretKeys({ include_secrets: true, password: '', token: 'x' })).toEqual({ include_secrets: true, password: '', token: '[redacted]' });
  });
});

describe('the list is judged against the official schema', () => {
  const schemas = ['../shared/pve-api/schema-8.4.json', '../shared/pve-api/schema-9.1.json'].filter((file) => existsSync(file));
  it.skipIf(schemas.length === 0)('every schema parameter that looks secret is in secret or notSecret', () => {
    const names = new Set<string>();
    const walk = (nodes: Array<{ info?: Record<string, { parameters?: { properties?: Record<string, { description?: string }> } }>; children?: unknown[] }>) => {
      for (const node of nodes) {
        for (const info of Object.values(node.info ?? {})) {
          for (const [name, property] of Object.entries(info.parameters?.properties ?? {})) {
            if (/pass|secret|token|key|hmac|otp|cred|ticket|cert|auth/i.test(name) || /password|secret|private key|api key/i.test(property.description ?? '')) names.add(name);
          }
        }
        walk((node.children ?? []) as never);
      }
    };
    for (const file of schemas) {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      walk((Array.isArray(parsed) ? parsed : (parsed as { children: unknown[] }).children) as never);
    }
    const judged = new Set([...Object.keys(secretParams.secret), ...Object.keys(secretParams.notSecret)]);
    const unjudged = [...names].filter((name) => !judged.has(name) && !/^(ciuser|username|userid|expire|privsep|crypted|decode|encode|filepath|body|full|release-lock|force|case-sensitive|skip-cert-verification|verify-certificates?|otel-resource-attributes|vmid|fingerprint|comment|acme|acmedomain\d*)$/.test(name));
    expect(unjudged).toEqual([]);
    expect(names.size).toBeGreaterThan(20);
  });
});

describe('history rows and the cluster snapshot on their way into a backup', () => {
  it('a row stored before a rule existed is re-redacted', () => {
    const row = { id: 1, tool: 'execute_command', args: JSON.stringify({ node: 'pve1', command: 'curl -u a:OldRowPw https://x' }), message: 'failed: sshpass -p OldMsgPw ssh x' };
    const out = redactHistoryRow(row);
    expect(JSON.stringify(out)).not.toMatch(/OldRowPw|OldMsgPw/);
    expect(JSON.parse(out.args as string).node).toBe('pve1');
  });

  it('the snapshot masks cipassword and every secret-named key, and secrets in text', () => {
    const snapshot: ClusterSnapshot = {
      taken_at: 'now',
      source: 'https://pve:8006/api2/json',
      network: {},
      guests: { '101': { type: 'qemu', node: 'pve1', config: { cipassword: 'CiSnapPw', ciuser: 'admin', description: 'db root password=DescPw', cores: 2 } } },
      storage: [{ storage: 'pbs1', type: 'pbs', 'encryption-key': 'EncSnap', password: 'PbsSnap' }, { storage: 'ceph', keyring: 'KeySnap' }],
      access: { users: [{ userid: 'bob@pve', tokens: [{ tokenid: 'ci' }] }] },
      errors: [{ path: '/x', error: 'curl -u a:ErrSnapPw' }],
      skipped_nodes: [],
    };
    const masked = JSON.stringify(maskSnapshot(snapshot));
    for (const secret of ['CiSnapPw', 'DescPw', 'EncSnap', 'PbsSnap', 'KeySnap', 'ErrSnapPw']) expect(masked).not.toContain(secret);
    for (const kept of ['admin', 'bob@pve', '"tokenid":"ci"', 'pbs1', '"cores":2', 'https://pve:8006/api2/json']) expect(masked).toContain(kept);
  });
});
