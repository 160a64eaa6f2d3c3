/**
 * The SSH command executor: runs vetted command lines on Proxmox nodes as the restricted `proxmox-mcp`
 * user, with the node's host key pinned (known_hosts), bounded time and bounded output.
 *
 * One connection per host is shared by concurrent commands (one SSH channel each, at most
 * `maxSessionsPerConnection` at a time, the rest queue); it is closed after a minute without use and
 * re-opened on demand. No pty: a command's stdout and stderr stay apart and nothing is echoed.
 */
import ssh2 from 'ssh2';
import type { Client as SshClient, ClientChannel, ConnectConfig } from 'ssh2';
import { ToolError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { CommandExecutor, ExecRequest, ExecResult, HostCheck } from './executor.ts';
import { fingerprintOf, hostKeyAlgorithmsFor, keyTypeOf, parseKnownHosts, type KnownHostKey } from './host-keys.ts';

const { Client, utils } = ssh2;

export interface SshExecutorOptions {
  user: string;
  port: number;
  /** The private key itself (read by the caller from SSH_KEY_FILE). Never logged, never in an error. */
  privateKey: string | Buffer;
  /** OpenSSH known_hosts text holding the pinned host keys. */
  knownHosts: string;
  /** Node name -> address (IP or DNS name). */
  resolveHost: (node: string) => Promise<string>;
  /** TCP connect + SSH handshake + authentication (default 10 s). */
  connectTimeoutMs?: number;
  /** Per-command limit when the request gives none (default 60 s). */
  defaultTimeoutMs?: number;
  /** Per-stream output limit when the request gives none (default 1 MiB). */
  maxOutputBytes?: number;
  /** Close a connection after this long without a command (default 60 s). */
  idleTimeoutMs?: number;
  /** Concurrent channels per connection; OpenSSH allows 10 by default (MaxSessions). Default 8. */
  maxSessionsPerConnection?: number;
  log?: Logger;
}

const KILL_GRACE_MS = 250;
/** After closing a killed command's channel, wait this long for the node to confirm before reporting. */
const CLOSE_GUARD_MS = 1_000;
const CHECK_COMMAND = 'true';

interface Connection {
  key: string;
  node: string;
  host: string;
  client: SshClient;
  fingerprint: string;
  closed: boolean;
  /** A channel on it would not close: take no new commands, end it once the others are done. */
  draining: boolean;
  active: number;
  waiters: Array<(usable: boolean) => void>;
  idleTimer?: ReturnType<typeof setTimeout>;
  /** Calls to run when the connection goes away (channels still waiting for their close). */
  onClose: Set<() => void>;
}

export function createSshExecutor(options: SshExecutorOptions): CommandExecutor {
  const log = (options.log ?? silentLogger).child({ component: 'ssh' });
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 60_000;
  const defaultMaxOutput = options.maxOutputBytes ?? 1024 * 1024;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const maxSessions = Math.max(1, options.maxSessionsPerConnection ?? 8);
  const port = options.port;
  const knownHosts = parseKnownHosts(options.knownHosts);

  const parsedKey = utils.parseKey(options.privateKey);
  if (parsedKey instanceof Error) {
    throw new ToolError('unavailable', `The SSH private key (SSH_KEY_FILE) cannot be used: ${parsedKey.message}. Give an unencrypted OpenSSH or PEM private key.`);
  }

  const connections = new Map<string, Connection>();
  const connecting = new Map<string, Promise<Connection>>();
  /** Every open connection, pooled or draining: what close() ends. */
  const live = new Set<Connection>();
  let closing = false;

  function connect(node: string, host: string, timeoutMs: number): Promise<Connection> {
    const key = `${host}:${port}`;
    const names = node && node !== host ? [host, node] : [host];
    const pinned = knownHosts.keysFor(names, port);
    const pinnedUsable = pinned.filter((k) => !k.revoked);
    const where = `node ${node} (${host}:${port})`;

    return new Promise<Connection>((resolve, reject) => {
      const client = new Client();
      let seenFingerprint: string | undefined;
      let hostKeyError: ToolError | undefined;
      let settled = false;

      const fail = (error: ToolError) => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        client.removeAllListeners('ready');
        client.on('error', () => {}); // late errors from a connection we gave up on
        client.destroy();
        reject(error);
      };

      // ssh2's readyTimeout covers the same span; this guard also covers a hung verifier or auth.
      const guard = setTimeout(() => fail(connectTimeoutError(where, timeoutMs)), timeoutMs + 500);
      guard.unref?.();

      const config: ConnectConfig = {
        host,
        port,
        username: options.user,
        privateKey: options.privateKey,
        readyTimeout: timeoutMs,
        tryKeyboard: false,
        hostVerifier: (presented: Buffer) => {
          seenFingerprint = fingerprintOf(presented);
          const verdict = verifyHostKey(presented, pinned, where, host);
          if (verdict) {
            hostKeyError = verdict;
            log.warn('ssh host key refused', { node, host, port, seen: seenFingerprint });
            return false;
          }
          return true;
        },
      };
      // Offer only the key types we pinned, so a host with several keys presents the one we know.
      const algorithms = [...new Set(pinnedUsable.flatMap((k) => hostKeyAlgorithmsFor(k.type)))];
      if (algorithms.length > 0) config.algorithms = { serverHostKey: algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] };

      client.once('ready', () => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        const connection: Connection = {
          key,
          node,
          host,
          client,
          fingerprint: seenFingerprint ?? 'unknown',
          closed: false,
          draining: false,
          active: 0,
          waiters: [],
          onClose: new Set(),
        };
        client.on('error', (error: Error) => log.debug('ssh connection error', { node, host, port, error: error.message }));
        client.on('close', () => retire(connection));
        live.add(connection);
        log.debug('ssh connected', { node, host, port, user: options.user, hostKey: connection.fingerprint });
        resolve(connection);
      });
      client.on('error', (error: Error & { level?: string; code?: string }) => {
        if (hostKeyError) return fail(hostKeyError);
        fail(classifyConnectError(error, { where, host, timeoutMs, user: options.user, pinned: pinnedUsable, seenFingerprint }));
      });
      client.on('close', () => {
        if (hostKeyError) return fail(hostKeyError);
        fail(new ToolError('unavailable', `SSH to ${where} closed the connection before it was ready.`, { details: { node, host, port } }));
      });

      try {
        client.connect(config);
      } catch (error) {
        // ssh2 throws synchronously on a bad configuration; its message names no secret.
        fail(new ToolError('unavailable', `SSH to ${where} could not start: ${(error as Error).message}`, { details: { node, host, port } }));
      }
    });
  }

  function retire(connection: Connection): void {
    if (connection.closed) return;
    connection.closed = true;
    live.delete(connection);
    if (connection.idleTimer) clearTimeout(connection.idleTimer);
    if (connections.get(connection.key) === connection) connections.delete(connection.key);
    for (const waiter of connection.waiters.splice(0)) waiter(false);
    for (const callback of [...connection.onClose]) callback();
    log.debug('ssh connection closed', { node: connection.node, host: connection.host, port });
  }

  async function getConnection(node: string, host: string, timeoutMs: number): Promise<{ connection: Connection; fresh: boolean }> {
    if (closing) throw new ToolError('unavailable', 'The SSH executor is shut down.');
    const key = `${host}:${port}`;
    const existing = connections.get(key);
    if (existing && !existing.closed && !existing.draining) return { connection: existing, fresh: false };
    let pending = connecting.get(key);
    if (!pending) {
      pending = connect(node, host, timeoutMs).finally(() => connecting.delete(key));
      connecting.set(key, pending);
      pending.then(
        (connection) => {
          if (closing) connection.client.end();
          else connections.set(key, connection);
        },
        () => {},
      );
    }
    return { connection: await pending, fresh: true };
  }

  /** Take a channel slot now, or queue for one; `waiter(false)` when the connection went away. */
  function acquire(connection: Connection, waiter: (usable: boolean) => void): void {
    if (connection.closed) return waiter(false);
    if (connection.idleTimer) {
      clearTimeout(connection.idleTimer);
      connection.idleTimer = undefined;
    }
    setSocketRef(connection.client, true);
    if (connection.active < maxSessions) {
      connection.active++;
      return waiter(true);
    }
    connection.waiters.push(waiter);
  }

  function release(connection: Connection): void {
    const next = connection.waiters.shift();
    if (next) return next(true); // the slot passes on
    connection.active--;
    if (connection.active === 0 && !connection.closed && connection.draining) {
      connection.client.end();
    } else if (connection.active === 0 && !connection.closed) {
      setSocketRef(connection.client, false);
      connection.idleTimer = setTimeout(() => connection.client.end(), idleTimeoutMs);
      connection.idleTimer.unref?.();
    }
  }

  function drain(connection: Connection): void {
    connection.draining = true;
    if (connections.get(connection.key) === connection) connections.delete(connection.key);
    log.warn('ssh session did not close after kill; retiring its connection', { node: connection.node, host: connection.host, port });
  }

  function forgetWaiter(connection: Connection, waiter: (usable: boolean) => void): void {
    const index = connection.waiters.indexOf(waiter);
    if (index >= 0) connection.waiters.splice(index, 1);
  }

  async function run(request: ExecRequest): Promise<ExecResult> {
    const started = performance.now();
    const node = request.node;
    const timeoutMs = request.timeoutMs ?? defaultTimeoutMs;
    const cap = Math.max(0, request.maxOutputBytes ?? defaultMaxOutput);
    const host = await resolveNode(node);
    const base = { node, host, started };
    if (request.signal?.aborted) return emptyResult(base, { cancelled: true });

    for (let attempt = 0; ; attempt++) {
      const got = await abortable(getConnection(node, host, connectTimeoutMs), request.signal);
      if (got === ABORTED) return emptyResult(base, { cancelled: true });
      const { connection, fresh } = got;
      const outcome = await execOn(connection, request, { timeoutMs, cap, base });
      // A pooled connection can die between two commands (node rebooted, sshd restarted): retry once.
      if (outcome === 'connection-lost' && !fresh && attempt === 0) continue;
      if (outcome === 'connection-lost') {
        throw new ToolError('unavailable', `SSH to node ${node} (${host}:${port}) was lost before the command could start.`, { details: { node, host, port } });
      }
      return outcome;
    }
  }

  async function resolveNode(node: string): Promise<string> {
    try {
      return await options.resolveHost(node);
    } catch (error) {
      if (error instanceof ToolError) throw error;
      throw new ToolError('unavailable', `Cannot find the address of node ${node}: ${(error as Error).message}. Check SSH_HOSTS.`, { details: { node } });
    }
  }

  function execOn(
    connection: Connection,
    request: ExecRequest,
    ctx: { timeoutMs: number; cap: number; base: ResultBase },
  ): Promise<ExecResult | 'connection-lost'> {
    return new Promise((resolve, reject) => {
      const stdout = new CappedBuffer(ctx.cap);
      const stderr = new CappedBuffer(ctx.cap);
      let channel: ClientChannel | undefined;
      let exitCode: number | null = null;
      let exitSignal: string | undefined;
      let exited = false;
      let timedOut = false;
      let cancelled = false;
      let holdingSlot = false;
      let done = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let closeTimer: ReturnType<typeof setTimeout> | undefined;
      let guardTimer: ReturnType<typeof setTimeout> | undefined;

      const cleanup = () => {
        done = true;
        clearTimeout(timer);
        clearTimeout(closeTimer);
        clearTimeout(guardTimer);
        request.signal?.removeEventListener('abort', onAbort);
        connection.onClose.delete(onConnectionClose);
        forgetWaiter(connection, onSlot);
        if (holdingSlot) {
          holdingSlot = false;
          release(connection);
        }
      };
      const finish = () => {
        if (done) return;
        cleanup();
        const stopped = timedOut || cancelled;
        resolve({
          node: ctx.base.node,
          host: ctx.base.host,
          exitCode: stopped ? null : exitCode,
          ...(exitSignal ? { signal: exitSignal } : {}),
          stdout: stdout.text(),
          stderr: stderr.text(),
          stdoutTruncated: stdout.truncated,
          stderrTruncated: stderr.truncated,
          durationMs: Math.round(performance.now() - ctx.base.started),
          timedOut,
          cancelled,
        });
      };
      const stop = (reason: 'timeout' | 'cancel') => {
        if (done || timedOut || cancelled) return;
        if (reason === 'timeout') timedOut = true;
        else cancelled = true;
        if (!channel) return finish(); // not started yet: nothing to kill
        sendSignal(channel, 'KILL');
        // Give the remote side a moment to report the signal, then drop the channel regardless.
        const open = channel;
        closeTimer = setTimeout(() => {
          try {
            open.close();
          } catch {
            /* already closing */
          }
          guardTimer = setTimeout(() => {
            // The node keeps the session open (e.g. a child of the command still holds stdout, or a
            // forced command ignored the signal). Report now; keep that connection out of the pool.
            drain(connection);
            finish();
          }, CLOSE_GUARD_MS);
        }, KILL_GRACE_MS);
      };
      function onAbort() {
        stop('cancel');
      }
      function onConnectionClose() {
        if (done) return;
        if (!channel) {
          cleanup();
          return resolve('connection-lost');
        }
        if (exited || timedOut || cancelled) return finish();
        // The command started but we will never learn how it ended: not a result anyone may trust.
        cleanup();
        const where = `node ${connection.node} (${connection.host}:${port})`;
        reject(
          new ToolError('unavailable', `The SSH connection to ${where} was lost while the command ran; whether it finished is unknown. Check the node's state before running it again.`, {
            details: { node: connection.node, host: connection.host, port, partialStdout: stdout.text().slice(-2048), partialStderr: stderr.text().slice(-2048) },
          }),
        );
      }
      function onSlot(usable: boolean) {
        if (done) {
          if (usable) release(connection); // a slot handed to a request that already gave up
          return;
        }
        if (!usable) {
          cleanup();
          return resolve('connection-lost');
        }
        holdingSlot = true;
        start();
      }

      request.signal?.addEventListener('abort', onAbort, { once: true });
      connection.onClose.add(onConnectionClose);
      timer = setTimeout(() => stop('timeout'), ctx.timeoutMs);

      acquire(connection, onSlot);

      function start() {
        if (done) return;
        if (timedOut || cancelled) return finish();
        try {
          connection.client.exec(request.command, (error, opened) => {
            if (done) {
              // Cancelled or timed out while the channel was opening: the command has started, stop it.
              if (opened) {
                sendSignal(opened, 'KILL');
                opened.close();
              }
              return;
            }
            if (error) {
              cleanup();
              if (connection.closed || /not connected|no response/i.test(error.message)) return resolve('connection-lost');
              return reject(
                new ToolError(
                  'unavailable',
                  `SSH to node ${connection.node} (${connection.host}:${port}) refused to start the command: ${error.message}. ` +
                    'The host may limit concurrent sessions (sshd MaxSessions) or the account may not allow command execution.',
                  { details: { node: connection.node, host: connection.host, port } },
                ),
              );
            }
            channel = opened;
            opened.on('data', (chunk: Buffer) => stdout.push(chunk));
            opened.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
            opened.on('exit', (code: number | null, signalName?: string) => {
              exited = true;
              if (typeof code === 'number') exitCode = code;
              else if (signalName) exitSignal = signalName.startsWith('SIG') ? signalName : `SIG${signalName}`;
            });
            opened.on('close', finish);
            opened.on('error', () => {}); // surfaced through close
            opened.end(request.stdin ?? undefined);
          });
        } catch (error) {
          cleanup();
          if (connection.closed) return resolve('connection-lost');
          reject(new ToolError('unavailable', `SSH to node ${connection.node} failed: ${(error as Error).message}`));
        }
      }
    });
  }

  return {
    run,

    async check(node, opts = {}): Promise<HostCheck> {
      const started = performance.now();
      const timeoutMs = opts.timeoutMs ?? connectTimeoutMs;
      try {
        const host = await resolveNode(node);
        const { connection } = await getConnection(node, host, timeoutMs);
        const result = await execOn(connection, { node, command: CHECK_COMMAND }, { timeoutMs, cap: 4096, base: { node, host, started } });
        const latencyMs = Math.round(performance.now() - started);
        if (result === 'connection-lost') return { ok: false, latencyMs, error: `SSH to node ${node} (${host}:${port}) was lost during the check.`, hostKeyFingerprint: connection.fingerprint };
        if (result.timedOut) return { ok: false, latencyMs, error: `SSH to node ${node} (${host}:${port}) connected, but a no-op command did not finish within ${timeoutMs} ms.`, hostKeyFingerprint: connection.fingerprint };
        if (result.exitCode !== 0) {
          const stderr = result.stderr.trim().slice(0, 300);
          return { ok: false, latencyMs, error: `SSH to node ${node} (${host}:${port}) connected, but \`${CHECK_COMMAND}\` exited with ${result.exitCode ?? result.signal}${stderr ? `: ${stderr}` : ''}.`, hostKeyFingerprint: connection.fingerprint };
        }
        return { ok: true, latencyMs, hostKeyFingerprint: connection.fingerprint };
      } catch (error) {
        const fingerprint = error instanceof ToolError ? (error.details?.seenFingerprint as string | undefined) : undefined;
        return { ok: false, error: (error as Error).message, ...(fingerprint ? { hostKeyFingerprint: fingerprint } : {}) };
      }
    },

    async close() {
      closing = true;
      await Promise.allSettled([...connecting.values()]);
      const open = [...live];
      await Promise.all(
        open.map(
          (connection) =>
            new Promise<void>((resolve) => {
              if (connection.closed) return resolve();
              const done = setTimeout(() => {
                connection.client.destroy();
                resolve();
              }, 2_000);
              done.unref?.();
              connection.client.once('close', () => {
                clearTimeout(done);
                resolve();
              });
              connection.client.end();
            }),
        ),
      );
      connections.clear();
    },
  };
}

// ---------------------------------------------------------------------------------------------------

interface ResultBase {
  node: string;
  host: string;
  started: number;
}

function emptyResult(base: ResultBase, flags: { cancelled: boolean }): ExecResult {
  return {
    node: base.node,
    host: base.host,
    exitCode: null,
    stdout: '',
    stderr: '',
    stdoutTruncated: false,
    stderrTruncated: false,
    durationMs: Math.round(performance.now() - base.started),
    timedOut: false,
    cancelled: flags.cancelled,
  };
}

const ABORTED = Symbol('aborted');

/** Resolves with the value, or with ABORTED once the signal aborts (the work itself goes on). */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T | typeof ABORTED> {
  if (!signal) return work;
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(ABORTED);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Keeps the first `cap` bytes of a stream, counts the rest as dropped. */
class CappedBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    const room = this.cap - this.size;
    if (room <= 0) {
      if (chunk.length > 0) this.truncated = true;
      return;
    }
    if (chunk.length > room) {
      this.chunks.push(Buffer.from(chunk.subarray(0, room)));
      this.size = this.cap;
      this.truncated = true;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  text(): string {
    // stream: true leaves a multi-byte character cut by the cap out instead of turning it into U+FFFD.
    return new TextDecoder('utf-8').decode(Buffer.concat(this.chunks, this.size), { stream: this.truncated });
  }
}

/**
 * Ask the remote side to kill the command (RFC 4254 "signal" request; OpenSSH honours it for sessions
 * without a pty). ssh2's public `signal()` refuses once our side of the channel is ended, which it is as
 * soon as stdin is closed, so fall back to the protocol object the channel holds.
 */
function sendSignal(channel: ClientChannel, name: string): void {
  try {
    if (channel.writable) return channel.signal(name);
    const internal = channel as unknown as { type?: string; outgoing?: { id?: number; state?: string }; _client?: { _protocol?: { signal?: (id: number, name: string) => void } } };
    const protocol = internal._client?._protocol;
    if (internal.type === 'session' && (internal.outgoing?.state === 'open' || internal.outgoing?.state === 'eof') && typeof internal.outgoing.id === 'number' && typeof protocol?.signal === 'function') {
      protocol.signal(internal.outgoing.id, name);
    }
  } catch {
    /* best effort: closing the channel follows */
  }
}

/** An idle pooled connection must not keep the process alive; an active one must. */
function setSocketRef(client: SshClient, ref: boolean): void {
  const socket = (client as unknown as { _sock?: { ref?: () => void; unref?: () => void } })._sock;
  if (ref) socket?.ref?.();
  else socket?.unref?.();
}

function keyscanHint(host: string, type = 'ed25519'): string {
  return `run \`ssh-keyscan -t ${type} ${host}\` and update SSH_KNOWN_HOSTS (setup.sh does it)`;
}

/** Undefined when the presented key is pinned; otherwise the refusal to report. */
function verifyHostKey(presented: Buffer, pinned: KnownHostKey[], where: string, host: string): ToolError | undefined {
  const seen = fingerprintOf(presented);
  const seenType = keyTypeOf(presented) ?? 'unknown';
  const scanType = seenType.replace(/^ssh-/, '').replace(/^ecdsa-sha2-.*/, 'ecdsa');
  const revoked = pinned.find((k) => k.revoked && k.blob.equals(presented));
  if (revoked) {
    return new ToolError('unavailable', `SSH host key ${seen} of ${where} is marked @revoked in SSH_KNOWN_HOSTS (line ${revoked.line}); refusing to connect.`, {
      details: { seenFingerprint: seen, keyType: seenType },
      suggestions: [`If the node has a new key, ${keyscanHint(host, scanType)}.`],
    });
  }
  const usable = pinned.filter((k) => !k.revoked);
  if (usable.some((k) => k.blob.equals(presented))) return undefined;
  if (usable.length === 0) {
    return new ToolError(
      'unavailable',
      `SSH host key of ${where} is not pinned: it presented ${seen} (${seenType}) and SSH_KNOWN_HOSTS has no entry for this host (expected: none). ` +
        `To trust it, ${keyscanHint(host, scanType)} after checking the fingerprint on the node's console.`,
      { details: { seenFingerprint: seen, expectedFingerprints: [], keyType: seenType }, suggestions: [`${keyscanHint(host, scanType)}.`] },
    );
  }
  const expected = usable.map((k) => fingerprintOf(k.blob));
  return new ToolError(
    'unavailable',
    `SSH host key mismatch for ${where}: it presented ${seen} (${seenType}), expected ${expected.join(' or ')}. ` +
      `The host key changed: if you rebuilt the node, ${keyscanHint(host, scanType)}. If you did not, someone may be intercepting the connection.`,
    { details: { seenFingerprint: seen, expectedFingerprints: expected, keyType: seenType }, suggestions: [`${keyscanHint(host, scanType)}.`] },
  );
}

function connectTimeoutError(where: string, timeoutMs: number): ToolError {
  return new ToolError('unavailable', `SSH to ${where} did not complete within ${timeoutMs} ms: the node is down, a firewall drops port 22 traffic, or something other than sshd listens there.`, {
    suggestions: ['Check that the node is up and that sshd listens on the configured SSH_PORT.'],
  });
}

function classifyConnectError(
  error: Error & { level?: string; code?: string },
  ctx: { where: string; host: string; timeoutMs: number; user: string; pinned: KnownHostKey[]; seenFingerprint?: string },
): ToolError {
  const details = { seenFingerprint: ctx.seenFingerprint, code: error.code, level: error.level };
  if (error.level === 'client-authentication') {
    return new ToolError(
      'unavailable',
      `SSH to ${ctx.where} refused our key for user ${ctx.user}: the public key is not installed in ~${ctx.user}/.ssh/authorized_keys on the node (setup.sh installs it), or SSH_KEY_FILE holds another key.`,
      { details, suggestions: [`Re-run setup.sh on the node, or append the server's public key to ~${ctx.user}/.ssh/authorized_keys.`] },
    );
  }
  if (error.level === 'client-timeout') return connectTimeoutError(ctx.where, ctx.timeoutMs);
  switch (error.code) {
    case 'ECONNREFUSED':
      return new ToolError('unavailable', `SSH to ${ctx.where} was refused: nothing listens on that port. Is sshd running, and is SSH_PORT right?`, { details });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ToolError('unavailable', `SSH to ${ctx.where} failed: the address ${ctx.host} does not resolve. Check SSH_HOSTS.`, { details });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ToolError('unavailable', `SSH to ${ctx.where} failed: the address is unreachable (${error.code}). Is the node up and on the network?`, { details });
    case 'ETIMEDOUT':
      return connectTimeoutError(ctx.where, ctx.timeoutMs);
    case 'ECONNRESET':
      return new ToolError('unavailable', `SSH to ${ctx.where} was reset by the peer during the handshake: sshd may refuse our address (AllowUsers, MaxStartups, fail2ban).`, { details });
  }
  if (/host key|no matching/i.test(error.message) && ctx.pinned.length > 0) {
    const types = [...new Set(ctx.pinned.map((k) => k.type))].join(', ');
    return new ToolError(
      'unavailable',
      `SSH to ${ctx.where} failed: the node offers none of the pinned host key types (${types}). The host key changed: if you rebuilt the node, ${keyscanHint(ctx.host)}.`,
      { details },
    );
  }
  return new ToolError('unavailable', `SSH to ${ctx.where} failed: ${error.message}`, { details });
}
