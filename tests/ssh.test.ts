/**
 * The SSH executor against a real OpenSSH sshd on 127.0.0.1 (tests/helpers/sshd.ts starts it), and the
 * known_hosts reader against ssh-keygen's own output.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ToolError } from '../lib/errors.ts';
import type { CommandExecutor } from '../lib/exec/executor.ts';
import { fingerprintOf, parseKnownHosts } from '../lib/exec/host-keys.ts';
import { createSshExecutor, type SshExecutorOptions } from '../lib/exec/ssh.ts';
import { freePort, generateKeyPair, startSshd, type KeyPair, type RunningSshd } from './helpers/sshd.ts';

const run = promisify(execFile);

let sshd: RunningSshd;
let otherHostKey: KeyPair;
let otherClientKey: KeyPair;
const executors: CommandExecutor[] = [];

beforeAll(async () => {
  sshd = await startSshd();
  [otherHostKey, otherClientKey] = await Promise.all([generateKeyPair(sshd.dir, 'other_host'), generateKeyPair(sshd.dir, 'other_client')]);
});

afterAll(async () => {
  await Promise.all(executors.map((executor) => executor.close()));
  await killLeftovers();
  await sshd?.stop();
});

function executor(overrides: Partial<SshExecutorOptions> = {}): CommandExecutor {
  const created = createSshExecutor({
    user: sshd.user,
    port: sshd.port,
    privateKey: sshd.privateKey,
    knownHosts: sshd.knownHosts,
    resolveHost: async () => '127.0.0.1',
    connectTimeoutMs: 5_000,
    ...overrides,
  });
  executors.push(created);
  return created;
}

async function refusal(promise: Promise<unknown>): Promise<ToolError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected the call to be refused').toBeInstanceOf(ToolError);
  const toolError = error as ToolError;
  expect(toolError.code).toBe('unavailable');
  expect(toolError.message).not.toMatch(/PRIVATE KEY/);
  expect(JSON.stringify(toolError.details ?? {})).not.toMatch(/PRIVATE KEY/);
  return toolError;
}

// Commands that outlive their timeout: unique durations so that afterAll finds exactly ours.
// sshd lets a session be signalled only with privilege separation, which OpenSSH turns off after a
// root login; as root (CI) the remote sleep therefore survives the kill and is cleaned up here.
const LINGERING = ['sleep 29.517', 'sleep 29.518', 'sleep 29.519'];

function runningAsRoot(): boolean {
  return process.getuid?.() === 0;
}

async function pids(command: string): Promise<number[]> {
  const found = await run('pgrep', ['-x', '-f', command]).then(
    (r) => r.stdout,
    () => '',
  );
  return found.split(/\s+/).filter(Boolean).map(Number);
}

async function killLeftovers(): Promise<void> {
  for (const command of LINGERING) {
    for (const pid of await pids(command)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

describe('running commands', () => {
  test('returns stdout, stderr and the exit code', async () => {
    const exec = executor();
    const ok = await exec.run({ node: 'pve-test', command: 'echo hi' });
    expect(ok).toMatchObject({ node: 'pve-test', host: '127.0.0.1', exitCode: 0, stdout: 'hi\n', stderr: '', stdoutTruncated: false, stderrTruncated: false, timedOut: false, cancelled: false });
    expect(ok.signal).toBeUndefined();
    expect(ok.durationMs).toBeGreaterThanOrEqual(0);

    const failed = await exec.run({ node: 'pve-test', command: `sh -c 'echo out; echo err >&2; exit 3'` });
    expect(failed).toMatchObject({ exitCode: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false, cancelled: false });
  });

  test('reports a command killed by a signal', async () => {
    const result = await executor().run({ node: 'pve-test', command: 'kill -TERM $$' });
    expect(result.exitCode).toBeNull();
    expect(result.signal).toBe('SIGTERM');
    expect(result.timedOut).toBe(false);
  });

  test('feeds stdin, and closes it when none is given', async () => {
    const exec = executor();
    const fed = await exec.run({ node: 'pve-test', command: 'tr a-z A-Z', stdin: 'qm list\n' });
    expect(fed.stdout).toBe('QM LIST\n');
    const closed = await exec.run({ node: 'pve-test', command: 'cat; echo done', timeoutMs: 5_000 });
    expect(closed).toMatchObject({ stdout: 'done\n', exitCode: 0, timedOut: false });
  });

  test('keeps the first maxOutputBytes of each stream and lets the command finish', async () => {
    const exec = executor();
    const big = await exec.run({ node: 'pve-test', command: 'head -c 3000000 /dev/zero' });
    expect(big.exitCode).toBe(0);
    expect(big.stdout.length).toBe(1024 * 1024);
    expect(big.stdoutTruncated).toBe(true);
    expect(big.stderrTruncated).toBe(false);

    const small = await exec.run({ node: 'pve-test', command: `printf 'abcdefghij'; printf '0123456789' >&2`, maxOutputBytes: 4 });
    expect(small).toMatchObject({ stdout: 'abcd', stderr: '0123', stdoutTruncated: true, stderrTruncated: true, exitCode: 0 });

    const exact = await exec.run({ node: 'pve-test', command: `printf 'abcd'`, maxOutputBytes: 4 });
    expect(exact).toMatchObject({ stdout: 'abcd', stdoutTruncated: false });
  });

  test('does not cut a UTF-8 character in half at the cap', async () => {
    // "é" is two bytes: a 3-byte cap keeps "a" and "é", a 2-byte cap keeps "a" only.
    const exec = executor();
    expect((await exec.run({ node: 'pve-test', command: `printf 'aéb'`, maxOutputBytes: 3 })).stdout).toBe('aé');
    expect((await exec.run({ node: 'pve-test', command: `printf 'aéb'`, maxOutputBytes: 2 })).stdout).toBe('a');
  });

  test('kills a command that runs past its timeout', async () => {
    const result = await executor().run({ node: 'pve-test', command: `echo started; ${LINGERING[0]}`, timeoutMs: 500 });
    expect(result).toMatchObject({ timedOut: true, cancelled: false, exitCode: null, stdout: 'started\n' });
    expect(result.durationMs).toBeGreaterThanOrEqual(500);
    expect(result.durationMs).toBeLessThan(20_000); // it did not wait for the 30 s sleep
    if (!runningAsRoot()) {
      // sshd honours the kill ("signal" request) for non-root users, like the proxmox-mcp service user.
      expect(result.signal).toBe('SIGKILL');
      expect(await pids(LINGERING[0])).toEqual([]);
    }
  });

  test('an aborted signal cancels the command', async () => {
    const exec = executor();
    const controller = new AbortController();
    const pending = exec.run({ node: 'pve-test', command: LINGERING[1], signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    const result = await pending;
    expect(result).toMatchObject({ cancelled: true, timedOut: false, exitCode: null });
    expect(result.durationMs).toBeLessThan(20_000);
    if (!runningAsRoot()) expect(await pids(LINGERING[1])).toEqual([]);

    const already = await exec.run({ node: 'pve-test', command: 'echo never', signal: AbortSignal.abort() });
    expect(already).toMatchObject({ cancelled: true, exitCode: null, stdout: '' });

    // The connection is still good for the next command.
    expect((await exec.run({ node: 'pve-test', command: 'echo after' })).stdout).toBe('after\n');
  });

  test('runs concurrent commands over one connection', async () => {
    const acceptedBefore = countAccepted();
    const exec = executor();
    // More commands than channels per connection (8) and than sshd's MaxSessions (10): the rest queue.
    const results = await Promise.all(Array.from({ length: 14 }, (_, i) => exec.run({ node: 'pve-test', command: `sleep 0.2; echo $PPID ${i}` })));
    results.forEach((result, i) => {
      expect(result.exitCode).toBe(0);
      expect(result.stdout.trim().split(' ')[1]).toBe(String(i));
    });
    // Each command's shell is a child of the sshd process serving that connection: one connection, one parent.
    const parents = new Set(results.map((result) => result.stdout.split(' ')[0]));
    expect(parents.size).toBe(1);
    expect(countAccepted() - acceptedBefore).toBe(1);
  });

  test('closes idle connections and reconnects on demand', async () => {
    const exec = executor({ idleTimeoutMs: 100 });
    const first = await exec.run({ node: 'pve-test', command: 'echo $PPID' });
    await new Promise((resolve) => setTimeout(resolve, 400));
    const second = await exec.run({ node: 'pve-test', command: 'echo $PPID' });
    expect(second.exitCode).toBe(0);
    expect(second.stdout).not.toBe(first.stdout); // a new sshd session process: a new connection
  });

  test('a dropped connection fails the running command, and the next command reconnects', async () => {
    const exec = executor();
    const first = await exec.run({ node: 'pve-test', command: 'echo $PPID' });
    const sessionProcess = Number(first.stdout.trim()); // the sshd process serving our connection
    expect(sessionProcess).toBeGreaterThan(1);
    const pending = exec.run({ node: 'pve-test', command: 'sleep 2; echo late' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(sessionProcess, 'SIGKILL');
    const error = await refusal(pending);
    expect(error.message).toMatch(/lost while the command ran/);
    expect(error.message).toContain('pve-test (127.0.0.1:');

    const next = await exec.run({ node: 'pve-test', command: 'echo $PPID' });
    expect(next.exitCode).toBe(0);
    expect(next.stdout).not.toBe(first.stdout);
  });

  test('close() ends the connections and refuses new work', async () => {
    const exec = executor();
    await exec.run({ node: 'pve-test', command: 'true' });
    await exec.close();
    const error = await refusal(exec.run({ node: 'pve-test', command: 'true' }));
    expect(error.message).toMatch(/shut down/);
  });
});

describe('refusals', () => {
  test('a changed host key is refused, naming both fingerprints and the fix', async () => {
    const pinnedOther = `[127.0.0.1]:${sshd.port} ${otherHostKey.publicKey}\n`;
    const error = await refusal(executor({ knownHosts: pinnedOther }).run({ node: 'pve-test', command: 'echo hi' }));
    expect(error.message).toContain(sshd.hostKeyFingerprint);
    expect(error.message).toContain(otherHostKey.fingerprint);
    expect(error.message).toContain('pve-test');
    expect(error.message).toMatch(/host key changed/);
    expect(error.message).toContain('ssh-keyscan -t ed25519 127.0.0.1');
    expect(error.message).toContain('SSH_KNOWN_HOSTS');
    expect(error.details).toMatchObject({ seenFingerprint: sshd.hostKeyFingerprint, expectedFingerprints: [otherHostKey.fingerprint] });
  });

  test('a pinned key of a type the host does not offer is refused', async () => {
    const ecdsa = await generateKeyPair(sshd.dir, 'other_host_ecdsa', 'ecdsa');
    const error = await refusal(executor({ knownHosts: `[127.0.0.1]:${sshd.port} ${ecdsa.publicKey}\n` }).run({ node: 'pve-test', command: 'echo hi' }));
    expect(error.message).toContain('none of the pinned host key types (ecdsa-sha2-nistp256)');
    expect(error.message).toMatch(/host key changed/);
    expect(error.message).toContain('ssh-keyscan');
  });

  test('a host with no pinned key is refused', async () => {
    const elsewhere = `10.9.9.9 ${sshd.hostPublicKey}\n`;
    const error = await refusal(executor({ knownHosts: elsewhere }).run({ node: 'pve-test', command: 'echo hi' }));
    expect(error.message).toMatch(/not pinned/);
    expect(error.message).toContain(sshd.hostKeyFingerprint);
    expect(error.message).toContain('ssh-keyscan');

    await refusal(executor({ knownHosts: '' }).run({ node: 'pve-test', command: 'echo hi' }));
  });

  test('the wrong client key is refused with a hint about authorized_keys', async () => {
    const error = await refusal(executor({ privateKey: otherClientKey.privateKey }).run({ node: 'pve-test', command: 'echo hi' }));
    expect(error.message).toContain('authorized_keys');
    expect(error.message).toContain('setup.sh');
    expect(error.message).toContain(sshd.user);
  });

  test('a closed port is reported as refused, naming node and address', async () => {
    const port = await freePort();
    const error = await refusal(executor({ port }).run({ node: 'pve-test', command: 'echo hi' }));
    expect(error.message).toContain('refused');
    expect(error.message).toContain(`pve-test (127.0.0.1:${port})`);
  });

  test('a port that never speaks SSH times out', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      const error = await refusal(executor({ port, connectTimeoutMs: 500 }).run({ node: 'pve-test', command: 'echo hi' }));
      expect(error.message).toContain(`pve-test (127.0.0.1:${port})`);
      expect(error.message).toMatch(/did not complete within 500 ms/);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('a node whose address cannot be found is reported as such', async () => {
    const error = await refusal(
      executor({
        resolveHost: async (node) => {
          throw new Error(`no address for ${node}`);
        },
      }).run({ node: 'pve-ghost', command: 'true' }),
    );
    expect(error.message).toContain('pve-ghost');
  });

  test('an unusable private key is refused at creation without echoing it', () => {
    const garbage = '-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n';
    let thrown: unknown;
    try {
      executor({ privateKey: garbage });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ToolError);
    expect((thrown as Error).message).toContain('SSH_KEY_FILE');
    expect((thrown as Error).message).not.toContain('bm90IGEga2V5');
  });
});

describe('pinning forms', () => {
  test('a hashed known_hosts entry (ssh-keygen -H) is honoured', async () => {
    const file = join(sshd.dir, 'known_hosts_hashed');
    await writeFile(file, sshd.knownHosts);
    await run('ssh-keygen', ['-H', '-f', file]);
    const hashed = await readFile(file, 'utf8');
    expect(hashed).toMatch(/^\|1\|/);
    expect(hashed).not.toContain('127.0.0.1');
    const result = await executor({ knownHosts: hashed }).run({ node: 'pve-test', command: 'echo hashed' });
    expect(result.stdout).toBe('hashed\n');
  });

  test('the node name may be pinned instead of the address, among other keys', async () => {
    const knownHosts = [
      '# pinned by setup.sh',
      `pve-other,10.0.0.9 ${otherHostKey.publicKey}`,
      `pve-a,pve-test ${sshd.hostPublicKey} root@pve-test`,
      '',
    ].join('\n');
    const result = await executor({ knownHosts }).run({ node: 'pve-test', command: 'echo by-name' });
    expect(result.stdout).toBe('by-name\n');
  });
});

describe('check()', () => {
  test('reports latency and the host key fingerprint', async () => {
    const status = await executor().check('pve-test');
    expect(status.ok).toBe(true);
    expect(status.error).toBeUndefined();
    expect(typeof status.latencyMs).toBe('number');
    expect(status.latencyMs).toBeGreaterThan(0);
    expect(status.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
  });

  test('reports a failure instead of throwing, with the fingerprint seen', async () => {
    const mismatch = await executor({ knownHosts: `[127.0.0.1]:${sshd.port} ${otherHostKey.publicKey}\n` }).check('pve-test');
    expect(mismatch.ok).toBe(false);
    expect(mismatch.error).toContain(otherHostKey.fingerprint);
    expect(mismatch.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);

    const down = await executor({ port: await freePort() }).check('pve-test', { timeoutMs: 2_000 });
    expect(down.ok).toBe(false);
    expect(down.error).toContain('refused');
  });
});

describe('known_hosts parsing', () => {
  test('fingerprints match ssh-keygen for ed25519, ecdsa and rsa keys', async () => {
    for (const type of ['ed25519', 'ecdsa', 'rsa'] as const) {
      const pair = await generateKeyPair(sshd.dir, `fp_${type}`, type);
      const [keyType, base64] = pair.publicKey.split(/\s+/);
      expect(fingerprintOf(Buffer.from(base64, 'base64'))).toBe(pair.fingerprint);
      const known = parseKnownHosts(`host-${type} ${keyType} ${base64}\n`);
      expect(known.keysFor([`host-${type}`], 22).map((k) => k.type)).toEqual([keyType]);
    }
  });

  test('matches lists, [host]:port, wildcards, negations and markers', () => {
    const [type, base64] = otherHostKey.publicKey.split(/\s+/);
    const key = `${type} ${base64}`;
    const known = parseKnownHosts(
      [
        `a.example,10.0.0.1 ${key}`,
        `[b.example]:2222 ${key}`,
        `*.lab,!bad.lab ${key}`,
        `@revoked c.example ${key}`,
        `@cert-authority *.example ${key}`,
        `d.example ssh-ed25519 bm90IGEga2V5`, // damaged key: ignored
        `e.example ssh-dss ${base64}`, // unsupported type: ignored
      ].join('\n'),
    );
    expect(known.size).toBe(4);
    expect(known.keysFor(['10.0.0.1'], 22)).toHaveLength(1);
    expect(known.keysFor(['A.EXAMPLE'], 22)).toHaveLength(1);
    expect(known.keysFor(['b.example'], 2222)).toHaveLength(1);
    expect(known.keysFor(['b.example'], 22)).toHaveLength(0);
    expect(known.keysFor(['x.lab'], 22)).toHaveLength(1);
    expect(known.keysFor(['bad.lab'], 22)).toHaveLength(0);
    expect(known.keysFor(['c.example'], 22)[0].revoked).toBe(true);
    expect(known.keysFor(['d.example', 'e.example'], 22)).toHaveLength(0);
  });
});

function countAccepted(): number {
  return (sshd.logs().match(/Accepted publickey/g) ?? []).length;
}
