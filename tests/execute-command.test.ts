/**
 * execute_command against a real OpenSSH sshd on 127.0.0.1 (tests/helpers/sshd.ts): output, exit code,
 * stderr, timeout, output cap, cancellation; the mode rules on the classified line; forbidden and
 * unparseable lines never reach the node; a clear answer when SSH is not set up.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSshExecutor } from '../lib/exec/ssh.ts';
import { invokeTool } from '../lib/runtime/invoke.ts';
import { classifyCommandLine } from '../lib/exec/classify.ts';
import { callRest, connectClient } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { startSshd, type RunningSshd } from './helpers/sshd.ts';
import { approveCli } from './helpers/approval.ts';

let sshd: RunningSshd;
let ts: SafetyServer;
let bare: SafetyServer;
let normal: string;
let scratch: string;

beforeAll(async () => {
  sshd = await startSshd();
  const exec = createSshExecutor({ user: sshd.user, port: sshd.port, privateKey: sshd.privateKey, knownHosts: sshd.knownHosts, resolveHost: async () => '127.0.0.1', connectTimeoutMs: 5_000 });
  ts = await startSafetyServer({ build: { exec } });
  bare = await startSafetyServer();
  normal = await ts.createToken({ name: 'exec-normal', role: 'admin', mode: 'normal', ceiling: 'normal' });
  scratch = mkdtempSync(join(tmpdir(), 'pmcp-exec-'));
});
afterAll(async () => {
  await ts?.close();
  await bare?.close();
  await sshd?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const run = (token: string, command: string, extra: Record<string, unknown> = {}) => callRest(ts.url, token, 'execute_command', { node: 'pve1', command, ...extra });

describe('running a command', () => {
  it('returns stdout, stderr, exit code and duration', async () => {
    const ok = await run(normal, 'echo hello');
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.data.stdout).toBe('hello\n');
    expect(ok.body.stdout).toBe('hello\n');
    expect(ok.body.data.exit_code).toBe(0);
    expect(ok.body.data.timed_out).toBe(false);
    expect(typeof ok.body.data.duration_ms).toBe('number');

    const failing = await run(normal, "sh -c 'echo oops >&2; exit 3'");
    expect(failing.status).toBe(200);
    expect(failing.body.data.exit_code).toBe(3);
    expect(failing.body.data.stderr).toBe('oops\n');
    expect(failing.body.warnings.join(' ')).toMatch(/exited with code 3/);
  });

  it('kills a command at its timeout and caps its output', async () => {
    const slow = await run(normal, 'sleep 5', { timeout_seconds: 1 });
    expect(slow.status).toBe(200);
    expect(slow.body.data.timed_out).toBe(true);
    expect(slow.body.data.duration_ms).toBeLessThan(4000);

    const loud = await run(normal, "head -c 5000 /dev/zero | tr '\\0' a", { max_output_bytes: 1024 });
    expect(loud.status).toBe(200);
    expect(loud.body.data.stdout_truncated).toBe(true);
    expect(loud.body.data.stdout.length).toBeLessThanOrEqual(1024);
  });

  it('kills the command when the call is cancelled', async () => {
    const marker = join(scratch, 'cancelled-direct');
    const tool = ts.server.runtime.tools.get('execute_command')!;
    const caller = { tokenId: 'direct', name: 'direct', role: 'admin' as const, mode: 'normal' as const, ceiling: 'normal' as const, learning: false, door: 'internal' as const, requestId: 'r1', canElicit: false };
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 400);
    const result = await invokeTool(ts.server.runtime, tool, { node: 'pve1', command: `sleep 2 && touch ${marker}` }, caller, { signal: abort.signal });
    expect(result.kind).toBe('ok');
    expect((result.envelope.data as any).cancelled).toBe(true);
    expect(result.envelope.warnings.join(' ')).toMatch(/cancelled/);
    // sshd honours the kill for non-root users (the proxmox-mcp service user); as root it cannot (see ssh.test.ts).
    if (process.getuid?.() !== 0) {
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(existsSync(marker)).toBe(false);
    }
  });

  it('works through MCP too', async () => {
    const client = await connectClient(ts.mcpUrl, normal, 'modern');
    try {
      const result = await client.callTool({ name: 'execute_command', arguments: { node: 'pve1', command: 'printf mcp' } });
      expect(result.isError, JSON.stringify(result)).toBeFalsy();
      expect((result.structuredContent as any).data.stdout).toBe('mcp');
    } finally {
      await client.close();
    }
  });
});

describe('what never runs', () => {
  it.each([
    'pveum user delete root@pam',
    'touch MARKER; pveum user delete root@pam',
    'echo ok && sh -c "pvesh delete /access/users/root@pam"',
  ])('refuses %s with the reasons and runs no part of it', async (line) => {
    const marker = join(scratch, `m-${Math.random().toString(36).slice(2)}`);
    const response = await run(normal, line.replace('MARKER', marker));
    expect(response.status).toBe(403);
    expect(response.body.error.code).toBe('protected');
    expect(response.body.error.details.reasons.length).toBeGreaterThan(0);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses a line it cannot parse', async () => {
    const response = await run(normal, 'echo "unclosed');
    expect(response.status).toBe(400);
    expect(response.body.error.message).toMatch(/cannot be parsed/);
  });
});

describe('modes', () => {
  it('read-only refuses a change (qm start) before anything is sent', async () => {
    const readOnly = await ts.createToken({ role: 'admin', mode: 'read-only', ceiling: 'normal' });
    const response = await run(readOnly, 'qm start 101');
    expect(response.status).toBe(403);
    expect(response.body.error.code).toBe('mode_denied');
  });

  it.runIf(classifyCommandLine('cat /etc/hostname').level === 'read')('read-only still runs a read', async () => {
    const readOnly = await ts.createToken({ role: 'admin', mode: 'read-only', ceiling: 'normal' });
    const response = await run(readOnly, 'cat /etc/hostname');
    expect(response.status).toBe(200);
  });

  it('safe mode asks before a change, with the explanation', async () => {
    const safe = await ts.createToken({ role: 'operator', mode: 'safe', ceiling: 'normal' });
    const marker = join(scratch, 'safe');
    const first = await run(safe, `touch ${marker}`);
    expect(first.status).toBe(428);
    expect(first.body.explanation).toContain(`touch ${marker}`);
    expect(existsSync(marker)).toBe(false);
    // REST cannot ask its user: proof (here the host CLI's yes), then the approval id runs it (issue 13).
    expect(first.body.error.code).toBe('approval_required');
    expect((await approveCli(ts.server.store, 'yes', first.body.error.details.approval_id)).code).toBe(0);
    const second = await run(safe, `touch ${marker}`, { confirmation_id: first.body.error.details.approval_id });
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(existsSync(marker)).toBe(true);
  });
});

describe('without SSH', () => {
  it('says how to set it up', async () => {
    const token = await bare.createToken({ role: 'admin', mode: 'normal', ceiling: 'normal' });
    const response = await callRest(bare.url, token, 'execute_command', { node: 'pve1', command: 'uptime' });
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('unavailable');
    expect(response.body.error.message).toMatch(/SSH_KEY_FILE/);
    expect(response.body.suggestions.join(' ')).toMatch(/setup\.sh/);
  });
});
