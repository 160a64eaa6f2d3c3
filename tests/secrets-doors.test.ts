/**
 * Secrets through every door: the same secret-carrying calls over REST, MCP 2026-07-28 and MCP 2025
 * (proxmox_api with secret parameters, execute_command with passwords on the command line), then the
 * places a secret could land are searched: the history rows in the store, everything the logger wrote,
 * the error messages, and a backup bundle with its history and its cluster snapshot.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../lib/log.ts';
import { callRest, connectClient, type Era } from './helpers/server.ts';
import { startSafetyServer, type SafetyServer } from './helpers/safety.ts';
import { commandCases } from './helpers/secret-cases.ts';

let ts: SafetyServer;
let admin: string;
const logged: string[] = [];
let restoreStderr: (() => void) | undefined;

beforeAll(async () => {
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    logged.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as never);
  restoreStderr = () => spy.mockRestore();
  ts = await startSafetyServer({ build: { log: createLogger('debug', { json: true }) } });
  admin = await ts.createToken({ name: 'secrets-admin', role: 'admin', mode: 'normal', ceiling: 'normal' });
});
afterAll(async () => {
  await ts?.close();
  restoreStderr?.();
});

/** proxmox_api parameters by meaning: [path, params, secrets in them]. */
const apiCases: Array<[string, string, Record<string, unknown>, string[]]> = [
  ['POST', '/storage', { storage: 'pbs-sec', type: 'pbs', server: 'pbs.example', datastore: 'd', username: 'bk@pbs', password: 'ApiPbsPw1', 'encryption-key': '{"kdf":null,"key":"ApiEncKey2"}', fingerprint: 'AA:BB' }, ['ApiPbsPw1', 'ApiEncKey2']],
  ['POST', '/storage', { storage: 'rbd-sec', type: 'rbd', pool: 'p', monhost: '10.0.0.9', keyring: 'ApiKeyring3' }, ['ApiKeyring3']],
  ['POST', '/access/domains', { realm: 'oidc-sec', type: 'openid', 'issuer-url': 'https://id.example', 'client-id': 'pve', 'client-key': 'ApiClientKey4' }, ['ApiClientKey4']],
  ['POST', '/cluster/notifications/endpoints/gotify', { name: 'gotify-sec', server: 'https://gotify.example', token: 'ApiGotifyTok5' }, ['ApiGotifyTok5']],
  ['POST', '/cluster/acme/account', { name: 'acme-sec', contact: 'a@example.com', 'eab-kid': 'kid', 'eab-hmac-key': 'ApiHmac6' }, ['ApiHmac6']],
  ['PUT', '/access/password', { userid: 'bob@pve', password: 'ApiUserPw7', 'confirmation-password': 'ApiConfirmPw8' }, ['ApiUserPw7', 'ApiConfirmPw8']],
  ['POST', '/cluster/notifications/endpoints/webhook', { name: 'hook-sec', url: 'https://hook.example', method: 'post', secret: ['name=tok,value=QXBpV2ViaG9vazk='], header: ['name=Authorization,value=QmVhcmVyIEFwaUhlYWRlcjEw'] }, ['QXBpV2ViaG9vazk=', 'QmVhcmVyIEFwaUhlYWRlcjEw']],
  ['GET', '/access/ticket?username=root@pam&password=ApiQueryPw11', {}, ['ApiQueryPw11']],
];

const doors: Array<{ name: string; call: (tool: string, args: Record<string, unknown>) => Promise<string> }> = [
  {
    name: 'REST',
    call: async (tool, args) => JSON.stringify((await callRest(ts.url, admin, tool, args)).body),
  },
  ...(['modern', 'legacy'] as Era[]).map((era) => ({
    name: `MCP ${era === 'modern' ? '2026-07-28' : '2025'}`,
    call: async (tool: string, args: Record<string, unknown>) => {
      const client = await connectClient(ts.mcpUrl, admin, era);
      try {
        return JSON.stringify(await client.callTool({ name: tool, arguments: args }));
      } catch (error) {
        return String(error);
      } finally {
        await client.close();
      }
    },
  })),
];

const allSecrets = [...apiCases.flatMap(([, , , secrets]) => secrets), ...commandCases.map(([, secret]) => secret)];

async function historyText(): Promise<string> {
  await ts.server.store.history.flush();
  const rows = await ts.server.store.client.execute('SELECT * FROM history');
  return JSON.stringify(rows.rows);
}

describe('secrets through every door', () => {
  for (const door of doors) {
    it(`${door.name}: proxmox_api secret parameters and command-line passwords never reach history or the log`, async () => {
      const before = (await ts.server.store.client.execute('SELECT COUNT(*) AS n FROM history')).rows[0].n as number;
      const answers: string[] = [];
      for (const [method, path, params] of apiCases) answers.push(await door.call('proxmox_api', { method, path, params }));
      for (const [line] of commandCases) answers.push(await door.call('execute_command', { node: 'pve1', command: line }));
      const history = await historyText();
      const after = (await ts.server.store.client.execute('SELECT COUNT(*) AS n FROM history')).rows[0].n as number;
      // The calls are on record (so the check below looks at real rows), just without their secrets.
      expect(after - before).toBeGreaterThanOrEqual(apiCases.length + commandCases.length - 2);
      expect(history).toContain('pbs-sec');
      expect(history).toContain('[redacted');
      for (const secret of allSecrets) expect(history, secret).not.toContain(secret);
      const log = logged.join('');
      for (const secret of allSecrets) expect(log, secret).not.toContain(secret);
      // Error answers (refusals, failures) do not echo a secret either, not even the caller's own.
      for (const answer of answers) {
        const parsed = JSON.parse(answer.startsWith('{') ? answer : '{}') as { error?: unknown; success?: boolean; isError?: boolean; structuredContent?: { error?: unknown } };
        const content = (parsed as { content?: Array<{ text?: string }> }).content;
        const failed = parsed.success === false || parsed.isError === true;
        const error = JSON.stringify(parsed.error ?? parsed.structuredContent?.error ?? '') + (failed ? (content ?? []).map((part) => part.text ?? '').join('') : '');
        for (const secret of allSecrets) expect(error, secret).not.toContain(secret);
      }
      // And no table of the store holds one (confirmations and approvals included).
      const tables = await ts.server.store.client.execute("SELECT name FROM sqlite_master WHERE type='table'");
      for (const row of tables.rows) {
        const dump = JSON.stringify((await ts.server.store.client.execute(`SELECT * FROM "${String(row.name)}"`)).rows);
        for (const secret of allSecrets) expect(dump, `${String(row.name)}: ${secret}`).not.toContain(secret);
      }
    }, 120_000);
  }

  it('in safe mode the approvals and confirmations waiting for a human, and the approval page, hold none either', async () => {
    const safe = await ts.createToken({ name: 'secrets-safe', role: 'admin', mode: 'safe', ceiling: 'normal' });
    const urls: string[] = [];
    const sendAll = async (call: (tool: string, args: Record<string, unknown>) => Promise<Record<string, any>>) => {
      for (const [method, path, params] of apiCases.filter(([method]) => method !== 'GET')) await call('proxmox_api', { method, path, params });
      for (const [line] of commandCases) await call('execute_command', { node: 'pve1', command: `${line}; touch /tmp/x` });
      await call('guest_config', { vmid: 100, cipassword: 'GuestCiPw13' });
    };
    await sendAll(async (tool, args) => {
      const response = await callRest(ts.url, safe, tool, args);
      const url = response.body?.error?.details?.approval_url;
      if (typeof url === 'string') urls.push(url);
      return response.body;
    });
    for (const era of ['modern', 'legacy'] as Era[]) {
      const client = await connectClient(ts.mcpUrl, safe, era);
      try {
        await sendAll(async (tool, args) => (await client.callTool({ name: tool, arguments: args }).catch((error: unknown) => ({ error: String(error) }))) as Record<string, any>);
      } finally {
        await client.close();
      }
    }
    expect(urls.length).toBeGreaterThan(3);
    const secrets = [...allSecrets, 'GuestCiPw13'];
    const tables = await ts.server.store.client.execute("SELECT name FROM sqlite_master WHERE type='table'");
    for (const row of tables.rows) {
      const dump = JSON.stringify((await ts.server.store.client.execute(`SELECT * FROM "${String(row.name)}"`)).rows);
      for (const secret of secrets) expect(dump, `${String(row.name)}: ${secret}`).not.toContain(secret);
    }
    for (const url of urls.slice(0, 10)) {
      const page = await (await fetch(url.replace(/^https?:\/\/[^/]+/, ts.url))).text();
      for (const secret of secrets) expect(page, `${url}: ${secret}`).not.toContain(secret);
    }
  }, 120_000);

  it('get_command_history shows the calls without their secrets', async () => {
    const response = await callRest(ts.url, admin, 'get_command_history', { limit: 500 });
    expect(response.status).toBe(200);
    const text = JSON.stringify(response.body);
    for (const secret of allSecrets) expect(text, secret).not.toContain(secret);
  });

  it('a backup bundle (history and cluster snapshot) holds none of them, nor a guest config secret', async () => {
    const guest = [...ts.sim.state.guests.values()].find((g) => g.type === 'qemu')!;
    guest.config.description = 'admin login: root password=GuestDescPw12 (change me)';
    const response = await callRest(ts.url, admin, 'backup_config', { include_history: true, include_cluster: true });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const dir = ts.server.config.backupDir;
    const newest = readdirSync(dir).filter((name) => name.endsWith('.json')).sort().at(-1)!;
    const bundle = readFileSync(join(dir, newest), 'utf8');
    const decoded = bundle.replace(/"([A-Za-z0-9+/=]{40,})"/g, (match, b64: string) => {
      try {
        return JSON.stringify(Buffer.from(b64, 'base64').toString('utf8'));
      } catch {
        return match;
      }
    });
    for (const text of [bundle, decoded]) {
      for (const secret of [...allSecrets, 'GuestDescPw12']) expect(text, secret).not.toContain(secret);
    }
    expect(decoded).toContain(String(guest.vmid));
  });
});
