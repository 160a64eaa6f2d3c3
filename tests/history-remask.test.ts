/**
 * Secrets on read (issue 12 follow-up): a history row stored before a redaction rule existed (or by an
 * older version) comes back masked through every door that reads history: get_command_history over REST,
 * MCP 2026-07-28 and MCP 2025, and the proxmox://history/me resource in both eras. Guest configs hide
 * secrets by the shared rule (isSecretName), not a regex of their own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRest, connectClient, startTestServer, type TestServer } from './helpers/server.ts';
import { redactConfig } from '../lib/resources/guest-config.ts';

let ts: TestServer;
const secrets = ['OldCurlPw1', 'OldSshpassPw2', 'OldParamPw3', 'OldKeyring4', 'OldMsgPw5', 'OldHeaderKey6', 'OldSmbPw7', 'OldGluedKey8', 'OldGluedPw9'];

beforeAll(async () => {
  ts = await startTestServer();
  // the caller's name: whatever the server records for the admin token
  await callRest(ts.url, ts.adminToken, 'get_command_history', { limit: 1 });
  await ts.server.store.history.flush();
  const { rows } = await ts.server.store.history.query({ limit: 1 });
  const client = rows[0]!.client;
  // rows as an older version stored them: nothing masked
  const old = [
    { tool: 'execute_command', args: { node: 'pve1', command: 'curl -u admin:OldCurlPw1 https://backup.example/x && sshpass -p OldSshpassPw2 ssh pve2 true' }, message: 'exit 1' },
    { tool: 'proxmox_api', args: { method: 'POST', path: '/storage', params: { storage: 'cephx', password: 'OldParamPw3', keyring: 'OldKeyring4' } }, message: 'failed: smbclient -U u%OldSmbPw7 //h/s' },
    { tool: 'execute_command', args: { node: 'pve1', command: "curl -H 'X-API-Key: OldHeaderKey6' https://x" }, message: 'sshpass -p OldMsgPw5 ssh x' },
    // a secret glued to the next command: the mask must not take the command with it (issue 13 red team)
    { tool: 'execute_command', args: { node: 'pve1', command: 'curl -H X-API-Key:OldGluedKey8;rm -rf /var/lib/vz/dump' }, message: 'failed: sshpass -p OldGluedPw9&&touch /tmp/glued-marker' },
  ];
  let n = 0;
  for (const row of old) {
    await ts.server.store.history.begin({ callId: `old-${++n}`, startedAt: Date.now() - 60_000 + n, client, door: 'rest', tool: row.tool, args: JSON.stringify(row.args), mode: 'normal', requestId: `req-old-${n}` });
    ts.server.store.history.complete(`old-${n}`, { outcome: 'error', message: row.message, durationMs: 5 });
  }
  await ts.server.store.history.flush();
}, 60_000);

afterAll(async () => {
  await ts?.close();
});

function assertMasked(text: string, where: string) {
  for (const secret of secrets) expect(text, `${where}: ${secret}`).not.toContain(secret);
  // the rows are there, only their secrets are gone
  expect(text, where).toContain('backup.example');
  expect(text, where).toContain('cephx');
  expect(text, where).toContain(';rm -rf /var/lib/vz/dump');
  expect(text, where).toContain('touch /tmp/glued-marker');
}

describe('history rows stored in clear are masked on the way out', () => {
  it('get_command_history over REST', async () => {
    const response = await callRest(ts.url, ts.adminToken, 'get_command_history', { since: '1h', limit: 50 });
    expect(response.status).toBe(200);
    assertMasked(JSON.stringify(response.body), 'REST');
  });

  it.each(['modern', 'legacy'] as const)('get_command_history and proxmox://history/me over MCP (%s)', async (era) => {
    const client = await connectClient(ts.mcpUrl, ts.adminToken, era);
    try {
      const result = await client.callTool({ name: 'get_command_history', arguments: { since: '1h', limit: 50 } });
      expect(result.isError).toBeFalsy();
      assertMasked(JSON.stringify(result), `${era} tool`);
      const resource = await client.readResource({ uri: 'proxmox://history/me' }, { cacheMode: 'bypass' });
      assertMasked(JSON.stringify(resource), `${era} resource`);
    } finally {
      await client.close();
    }
  });

  it('the stored rows themselves are left as they were: the masking happens on read', async () => {
    const { rows } = await ts.server.store.history.query({ since: Date.now() - 3_600_000, limit: 50 });
    expect(JSON.stringify(rows)).toContain('OldCurlPw1');
  });
});

describe('guest configs hide secrets by the shared rule', () => {
  it('names the schema and secret wording know, not only a local regex', () => {
    const { config, hidden } = redactConfig({ cipassword: 'a', keyring: 'b', 'auth-key': 'c', apiKey: 'd', otp: 'e', sshkeys: 'ssh-ed25519%20AAAA', keyboard: 'de', cores: 2, 'cert-file': '/x.pem', description: 'web' });
    expect(hidden).toEqual(['apiKey', 'auth-key', 'cipassword', 'keyring', 'otp']);
    expect(config).toEqual({ sshkeys: 'ssh-ed25519%20AAAA', keyboard: 'de', cores: 2, 'cert-file': '/x.pem', description: 'web' });
  });
});
