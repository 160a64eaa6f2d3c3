/**
 * A real OpenSSH sshd on 127.0.0.1 for the SSH executor tests: fresh host and client keys in a temp dir,
 * a random free port, the current user allowed in with the client key. Works as root (CI) and as a
 * normal user (sshd then can only log that same user in, which is all we need).
 */
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../lib/paths.ts';
import { freePort } from '../../lib/free-port.ts';
export { freePort };

const run = promisify(execFile);

export const SSHD_PATH = '/usr/sbin/sshd';
const PRIVSEP_DIR = '/run/sshd';

export interface KeyPair {
  privateKey: string;
  /** `type base64 comment`, one line. */
  publicKey: string;
  /** As `ssh-keygen -l -E sha256` prints it: `SHA256:...`. */
  fingerprint: string;
}

export interface RunningSshd {
  host: '127.0.0.1';
  port: number;
  user: string;
  /** The client key authorized for `user`. */
  privateKey: string;
  /** known_hosts text pinning the server's host key as `[127.0.0.1]:port`. */
  knownHosts: string;
  hostKeyFingerprint: string;
  /** The host public key line (`ssh-ed25519 AAAA...`). */
  hostPublicKey: string;
  dir: string;
  /** sshd's own log (stderr), for diagnosing a failed test. */
  logs(): string;
  stop(): Promise<void>;
}

/** A key pair made by ssh-keygen in `dir` (files `name` and `name.pub`). */
export async function generateKeyPair(dir: string, name: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): Promise<KeyPair> {
  const file = join(dir, name);
  const args = ['-q', '-t', type, '-N', '', '-C', `proxmox-mcp-test-${name}`, '-f', file];
  if (type === 'rsa') args.splice(3, 0, '-b', '2048');
  await run('ssh-keygen', args);
  const [privateKey, publicKey, listing] = await Promise.all([
    readFile(file, 'utf8'),
    readFile(`${file}.pub`, 'utf8'),
    run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`]).then((r) => r.stdout),
  ]);
  const fingerprint = /SHA256:[A-Za-z0-9+/]+/.exec(listing)?.[0];
  if (!fingerprint) throw new Error(`ssh-keygen -l printed no SHA256 fingerprint: ${listing}`);
  return { privateKey, publicKey: publicKey.trim(), fingerprint };
}


export async function startSshd(): Promise<RunningSshd> {
  // On a fresh machine where we are root, `npm test` installs sshd itself, so the README's one test
  // command is enough; elsewhere it says what to run.
  if (!existsSync(SSHD_PATH) && process.getuid?.() === 0) {
    spawnSync('bash', [join(projectRoot, '.ci', 'install-sshd.sh')], { stdio: 'inherit' });
  }
  if (!existsSync(SSHD_PATH)) {
    throw new Error(`OpenSSH server not found at ${SSHD_PATH}: the SSH tests need a real sshd. Run \`.ci/install-sshd.sh\` (as root) to install openssh-server.`);
  }
  if (!existsSync(PRIVSEP_DIR)) {
    try {
      mkdirSync(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
    } catch (error) {
      throw new Error(`sshd needs its privilege separation directory ${PRIVSEP_DIR}, and it could not be created (${(error as Error).message}). Create it as root: mkdir -p ${PRIVSEP_DIR}`);
    }
  }

  const dir = await mkdtemp(join(tmpdir(), 'proxmox-mcp-sshd-'));
  const user = userInfo().username;
  const [hostKey, clientKey] = await Promise.all([generateKeyPair(dir, 'host_ed25519'), generateKeyPair(dir, 'client_ed25519')]);
  await writeFile(join(dir, 'authorized_keys'), clientKey.publicKey + '\n', { mode: 0o600 });

  const port = await freePort();
  const config = [
    `ListenAddress 127.0.0.1`,
    `Port ${port}`,
    `HostKey ${join(dir, 'host_ed25519')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `PermitRootLogin prohibit-password`,
    `PubkeyAuthentication yes`,
    `PasswordAuthentication no`,
    `KbdInteractiveAuthentication no`,
    `StrictModes no`,
    `UsePAM no`,
    `AllowUsers ${user}`,
    `MaxSessions 10`,
    `X11Forwarding no`,
    `AllowTcpForwarding no`,
    `PrintMotd no`,
    `LogLevel VERBOSE`,
  ].join('\n');
  const configFile = join(dir, 'sshd_config');
  await writeFile(configFile, config + '\n', { mode: 0o600 });

  let log = '';
  const child: ChildProcess = spawn(SSHD_PATH, ['-D', '-e', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    log = (log + text).slice(-64 * 1024);
  });
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `sshd exited (${code ?? signal})`;
  });
  child.once('error', (error) => {
    exited = `sshd could not start: ${error.message}`;
  });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => child.kill('SIGKILL'), 3_000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGTERM');
      });
    }
    // Session processes of still-open connections inherited sshd's stderr: stop reading it.
    child.stderr?.destroy();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitForBanner(port, () => exited, () => log);
  } catch (error) {
    await stop();
    throw error;
  }

  const hostPublicKey = hostKey.publicKey.split(/\s+/).slice(0, 2).join(' ');
  return {
    host: '127.0.0.1',
    port,
    user,
    privateKey: clientKey.privateKey,
    knownHosts: `[127.0.0.1]:${port} ${hostPublicKey}\n`,
    hostKeyFingerprint: hostKey.fingerprint,
    hostPublicKey,
    dir,
    logs: () => log,
    stop,
  };
}

/** Until the port answers with an SSH banner (sshd is then ready to take connections). */
async function waitForBanner(port: number, exited: () => string | undefined, log: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const failure = exited();
    if (failure) throw new Error(`${failure} before accepting connections. Its log:\n${log()}`);
    if (await readsBanner(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`sshd did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms. Its log:\n${log()}`);
}

function readsBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (chunk) => done(chunk.toString('latin1').startsWith('SSH-')));
  });
}
