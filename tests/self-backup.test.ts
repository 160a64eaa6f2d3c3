/**
 * backup_config and restore_config: the bundle format, encryption, retention, the cluster snapshot with
 * an offline node, a full round trip through the doors, and every kind of bad bundle refused with
 * nothing changed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticatedText, buildBundle, bundleFileName, readBundle, type EntryName } from '../lib/self/bundle.ts';
import { bundleKey } from '../lib/self/backup.ts';
import { sha256Hex, toBase64, fromBase64 } from '../lib/self/crypto.ts';
import { readTable, replaceState } from '../lib/self/db-state.ts';
import { openStore } from '../lib/store/store.ts';
import { callRest, connectClient, startTestServer, type TestServer } from './helpers/server.ts';
import { approveCli } from './helpers/approval.ts';

const passphrase = 'correct horse battery staple';
const enc = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const key = crypto.getRandomValues(new Uint8Array(32));

describe('the bundle format', () => {
  const entries = () =>
    new Map<EntryName, Uint8Array>([
      ['settings.json', enc([{ key: 'a', value: '1', updated_at: 1 }])],
      ['client_tokens.json', enc([])],
    ]);
  const server = { name: 'proxmox-mcp', version: '0.1.0', commit: null };

  it('round-trips a plain bundle with a manifest of SHA-256 checksums', async () => {
    const { text, manifest } = await buildBundle({ key, createdAt: new Date('2026-01-01T00:00:00Z'), server, schema: ['0001_init'], entries: entries() });
    expect(manifest.entries.map((entry) => entry.name)).toEqual(['settings.json', 'client_tokens.json']);
    expect(manifest.entries[0].sha256).toBe(await sha256Hex(enc([{ key: 'a', value: '1', updated_at: 1 }])));
    const read = await readBundle(text, { key });
    expect(read.encrypted).toBe(false);
    expect(new TextDecoder().decode(read.entries.get('settings.json'))).toContain('"key":"a"');
  });

  it('encrypts with AES-256-GCM and a PBKDF2 key (>= 310k iterations), header authenticated', async () => {
    const withEnv = entries();
    withEnv.set('env', new TextEncoder().encode('PROXMOX_TOKEN_SECRET=very-secret-value\n'));
    await expect(buildBundle({ key, createdAt: new Date(), server, schema: [], entries: withEnv })).rejects.toThrow(/passphrase is required/);
    const { text } = await buildBundle({ key, createdAt: new Date(), server, schema: [], entries: withEnv, passphrase });
    expect(text).not.toContain('very-secret-value');
    const outer = JSON.parse(text).body;
    // Re-authenticated with the key (as only this server could), so that the passphrase checks are what is tested.
    const variant = (body: unknown) => authenticatedText(JSON.stringify(body), key);
    expect(outer).toMatchObject({ encrypted: true, kdf: { algorithm: 'PBKDF2-SHA256' }, cipher: { algorithm: 'AES-256-GCM' } });
    expect(outer.kdf.iterations).toBeGreaterThanOrEqual(310_000);
    expect(fromBase64(outer.kdf.salt)).toHaveLength(16);
    expect(fromBase64(outer.cipher.iv)).toHaveLength(12);
    const read = await readBundle(text, { key, passphrase });
    expect(new TextDecoder().decode(read.entries.get('env'))).toContain('very-secret-value');
    await expect(readBundle(text, { key, passphrase: 'wrong passphrase!!' })).rejects.toMatchObject({ problem: 'wrong_passphrase_or_tampered' });
    await expect(readBundle(text, { key })).rejects.toMatchObject({ problem: 'passphrase_required' });
    // A weaker KDF in the header is refused outright; a changed salt breaks authentication.
    await expect(readBundle(await variant({ ...outer, kdf: { ...outer.kdf, iterations: 1000 } }), { key, passphrase })).rejects.toMatchObject({ problem: 'corrupt' });
    const salt = fromBase64(outer.kdf.salt);
    salt[0] ^= 1;
    await expect(readBundle(await variant({ ...outer, kdf: { ...outer.kdf, salt: toBase64(salt) } }), { key, passphrase })).rejects.toMatchObject({ problem: 'wrong_passphrase_or_tampered' });
    // And without the key, any change at all is refused before the body is even parsed.
    await expect(readBundle(JSON.stringify({ ...JSON.parse(text), body: { ...outer, kdf: { ...outer.kdf, salt: toBase64(salt) } } }), { key, passphrase })).rejects.toMatchObject({ problem: 'not_authentic' });
  });

  it('names bundles so that they sort by time', () => {
    const a = bundleFileName(new Date('2026-01-01T00:00:00.001Z'));
    const b = bundleFileName(new Date('2026-01-01T00:00:00.002Z'));
    expect(a < b).toBe(true);
    expect(a).toMatch(/^proxmox-mcp-config-20260101T000000001Z-[0-9a-f]{6}\.json$/);
  });
});

describe('restoring history', () => {
  it('merges: keeps what is there, adds what is missing, and never loses a row whose id is taken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pmcp-merge-'));
    const store = await openStore(`file:${join(dir, 'db.sqlite')}`);
    try {
      const row = (id: number, callId: string) => ({
        id, call_id: callId, started_at: 1000 + id, client: 'c', door: 'rest', tool: 't', args: '{}', mode: 'safe', outcome: 'ok',
        error_code: null, message: null, duration_ms: 1, upids: null, node: null, vmid: null, request_id: 'r',
      });
      await replaceState(store, { settings: [], client_tokens: [], history: [row(1, 'here-1'), row(2, 'here-2')] });
      const { historyAdded } = await replaceState(store, { settings: [], client_tokens: [], history: [row(2, 'here-2'), row(1, 'other-1'), row(7, 'other-7')] });
      expect(historyAdded).toBe(2);
      const rows = await readTable(store, 'history');
      expect(rows.map((r) => r.call_id).sort()).toEqual(['here-1', 'here-2', 'other-1', 'other-7']);
      expect(rows.find((r) => r.call_id === 'other-7')?.id).toBe(7);
      expect(rows.find((r) => r.call_id === 'other-1')?.id).not.toBe(1);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('backup_config and restore_config through the doors', () => {
  let ts: TestServer;
  let installDir: string;

  const state = async () => ({
    tokens: await readTable(ts.server.store, 'client_tokens'),
    settings: await readTable(ts.server.store, 'settings'),
  });
  const bundles = () => readdirSync(ts.server.config.backupDir).filter((name) => name.endsWith('.json')).sort();

  beforeAll(async () => {
    installDir = mkdtempSync(join(tmpdir(), 'pmcp-install-'));
    writeFileSync(join(installDir, '.env'), 'PROXMOX_TOKEN_SECRET=file-secret-0123456789\nMCP_LOG_LEVEL=info\n', { mode: 0o600 });
    ts = await startTestServer({ env: { MCP_INSTALL_DIR: installDir, MCP_BACKUP_KEEP: '50', MCP_IN_CONTAINER: '0' } });
    await ts.server.store.tokens.setMode((await ts.server.store.tokens.findBySecret(ts.adminToken))!.id, 'normal');
  });
  afterAll(async () => {
    await ts?.close();
    rmSync(installDir, { recursive: true, force: true });
  });

  /** restore_config is always confirmed: ask, then confirm with the id. */
  async function restore(args: Record<string, unknown>) {
    const first = await callRest(ts.url, ts.adminToken, 'restore_config', args);
    if (first.status !== 428) return first;
    // restore_config needs proof (issue 13): the host CLI's yes, then the approval id runs it.
    await approveCli(ts.server.store, 'yes', first.body.error.details.approval_id);
    return callRest(ts.url, ts.adminToken, 'restore_config', { ...args, confirmation_id: first.body.error.details.approval_id });
  }

  it('is for admins only', async () => {
    const operator = await ts.createToken({ role: 'operator', mode: 'normal' });
    expect((await callRest(ts.url, operator, 'backup_config', {})).status).toBe(403);
    expect((await callRest(ts.url, operator, 'restore_config', { dry_run: true })).status).toBe(403);
  });

  it('writes one 0600 bundle with no secret in it unless asked, and a cluster snapshot that survives an offline node', async () => {
    ts.server.simulator!.faults.setNodeOnline('pve2', false);
    try {
      const response = await callRest(ts.url, ts.adminToken, 'backup_config', {});
      expect(response.status).toBe(200);
      const data = response.body.data;
      expect(data.encrypted).toBe(false);
      expect(data.entries.map((entry: { name: string }) => entry.name).sort()).toEqual(['client_tokens.json', 'cluster.json', 'settings.json']);
      expect(statSync(data.path).mode & 0o777).toBe(0o600);
      const text = readFileSync(data.path, 'utf8');
      const contents = await readBundle(text, { key: bundleKey(ts.server.config.dataDir) });
      const everything = text + [...contents.entries.values()].map((bytes) => new TextDecoder().decode(bytes)).join('');
      expect(everything).not.toContain(ts.adminToken);
      expect(everything).not.toContain('file-secret-0123456789');
      expect(everything).not.toContain(ts.server.simulator!.defaultToken.secret);
      const cluster = JSON.parse(new TextDecoder().decode(contents.entries.get('cluster.json')));
      expect(cluster.skipped_nodes).toContain('pve2');
      expect(Object.keys(cluster.guests).length).toBeGreaterThan(0);
      expect(cluster.access.users).toBeDefined();
      expect(cluster.storage).toBeDefined();
      expect(Object.keys(cluster.network)).not.toContain('pve2');
    } finally {
      ts.server.simulator!.faults.setNodeOnline('pve2', true);
    }
  });

  it('needs a passphrase for secrets, and then encrypts the .env into the bundle', async () => {
    const refused = await callRest(ts.url, ts.adminToken, 'backup_config', { include_secrets: true });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/passphrase/);
    const response = await callRest(ts.url, ts.adminToken, 'backup_config', { include_secrets: true, passphrase, include_cluster: false });
    expect(response.status).toBe(200);
    expect(response.body.data).toMatchObject({ encrypted: true, env_source: 'file' });
    const text = readFileSync(response.body.data.path, 'utf8');
    expect(text).not.toContain('file-secret-0123456789');
    const contents = await readBundle(text, { key: bundleKey(ts.server.config.dataDir), passphrase });
    expect(new TextDecoder().decode(contents.entries.get('env'))).toContain('PROXMOX_TOKEN_SECRET=file-secret-0123456789');
    // The passphrase never reaches the history.
    const history = await callRest(ts.url, ts.adminToken, 'get_command_history', { tool: 'backup_config' });
    expect(JSON.stringify(history.body)).not.toContain(passphrase);
  });

  it('restores tokens, modes, settings and history exactly (backup -> change -> restore)', async () => {
    const alice = await ts.createToken({ name: 'alice', role: 'operator', mode: 'safe' });
    await ts.createToken({ name: 'bob', role: 'viewer' });
    await callRest(ts.url, alice, 'toggle_mode', { mode: 'read-only' });
    await ts.server.store.settings.set('ui.theme', { dark: true });
    await ts.server.store.settings.set('limits', { max: 3 });
    const backup = await callRest(ts.url, ts.adminToken, 'backup_config', { include_history: true, include_secrets: true, passphrase, include_cluster: false });
    expect(backup.status).toBe(200);
    const before = await state();
    // The history as the bundle holds it (the backup call itself is in it as 'running').
    const historyBefore = JSON.parse(new TextDecoder().decode((await readBundle(readFileSync(backup.body.data.path, 'utf8'), { key: bundleKey(ts.server.config.dataDir), passphrase })).entries.get('history.json')));
    expect(historyBefore.length).toBeGreaterThan(2);

    // Change everything the bundle holds.
    await ts.server.store.tokens.revoke('bob');
    await ts.server.store.tokens.rotate('alice');
    await ts.createToken({ name: 'carol', role: 'admin' });
    await ts.server.store.settings.set('ui.theme', { dark: false });
    await ts.server.store.settings.set('new.key', 1);
    await ts.server.store.client.execute("DELETE FROM settings WHERE key = 'limits'");
    await ts.server.store.client.execute('DELETE FROM history');

    const dry = await callRest(ts.url, ts.adminToken, 'restore_config', { file: backup.body.data.file, passphrase, dry_run: true });
    expect(dry.status).toBe(200);
    const plan = dry.body.data.plan;
    expect(plan.tokens).toEqual(
      expect.arrayContaining([
        { name: 'carol', change: 'removed' },
        expect.objectContaining({ name: 'alice', change: 'changed', fields: expect.arrayContaining(['secret']) }),
        expect.objectContaining({ name: 'bob', change: 'changed', fields: ['revoked'] }),
      ]),
    );
    expect(plan.settings).toEqual(expect.arrayContaining([{ key: 'new.key', change: 'removed' }, { key: 'limits', change: 'added' }, { key: 'ui.theme', change: 'changed' }]));
    expect(plan.history.would_add).toBe(historyBefore.length);
    expect(plan.env).toMatchObject({ in_bundle: true, will_restore: false });
    const bundlesBeforeRestore = bundles().length;

    const ask = await callRest(ts.url, ts.adminToken, 'restore_config', { file: backup.body.data.file, passphrase });
    expect(ask.status).toBe(428);
    expect(ask.body.error.details.plan.summary).toMatch(/carol removed/);
    await approveCli(ts.server.store, 'yes', ask.body.error.details.approval_id);
    const done = await callRest(ts.url, ts.adminToken, 'restore_config', { file: backup.body.data.file, passphrase, confirmation_id: ask.body.error.details.approval_id });
    expect(done.status).toBe(200);
    expect(done.body.data.restored).toBe(true);
    expect(done.body.data.pre_restore_backup).toMatch(/^proxmox-mcp-config-/);
    expect(bundles().length).toBe(bundlesBeforeRestore + 1);

    const after = await state();
    expect(after.tokens).toEqual(before.tokens);
    expect(after.settings).toEqual(before.settings);
    const historyAfter = await readTable(ts.server.store, 'history');
    for (const row of historyBefore) expect(historyAfter).toContainEqual(row);

    // The restored tokens work again as they were: alice's old secret, in read-only mode.
    const me = await callRest(ts.url, alice, 'toggle_mode', { learning: false });
    expect(me.body.data.mode).toBe('read-only');

    // And the pre-restore bundle takes us back to the changed state.
    const undo = await restore({ file: done.body.data.pre_restore_backup });
    expect(undo.status).toBe(200);
    expect((await ts.server.store.tokens.byName('carol'))?.role).toBe('admin');
  });

  it('restores the env file only when asked, keeping the old one', async () => {
    const backup = await callRest(ts.url, ts.adminToken, 'backup_config', { include_secrets: true, passphrase, include_cluster: false });
    writeFileSync(join(installDir, '.env'), 'PROXMOX_TOKEN_SECRET=changed-secret\n');
    const plan = await callRest(ts.url, ts.adminToken, 'restore_config', { file: backup.body.data.file, passphrase, restore_env: true, dry_run: true });
    expect(plan.body.data.plan.env).toMatchObject({ will_restore: true, changed_variables: ['MCP_LOG_LEVEL', 'PROXMOX_TOKEN_SECRET'] });
    expect(JSON.stringify(plan.body)).not.toContain('file-secret');
    const done = await restore({ file: backup.body.data.file, passphrase, restore_env: true });
    expect(done.status).toBe(200);
    expect(done.body.data.env_written).toBe(join(installDir, '.env'));
    expect(readFileSync(join(installDir, '.env'), 'utf8')).toContain('file-secret-0123456789');
    expect(readdirSync(installDir).some((name) => name.startsWith('.env.before-restore-'))).toBe(true);

    const plain = await callRest(ts.url, ts.adminToken, 'backup_config', { include_cluster: false });
    const refused = await callRest(ts.url, ts.adminToken, 'restore_config', { file: plain.body.data.file, restore_env: true });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/no env file/);
  });

  describe('refuses every kind of bad bundle, changing nothing', () => {
    let plainText: string;
    let encryptedText: string;

    beforeAll(async () => {
      const plain = await callRest(ts.url, ts.adminToken, 'backup_config', { include_history: true, include_cluster: false });
      plainText = readFileSync(plain.body.data.path, 'utf8');
      const encrypted = await callRest(ts.url, ts.adminToken, 'backup_config', { include_secrets: true, passphrase, include_cluster: false });
      encryptedText = readFileSync(encrypted.body.data.path, 'utf8');
    });

    /**
     * Rewrite a plain bundle's body and authenticate it again with the server's key (as only the server
     * could), so that the check behind the HMAC is what is tested; `fix` re-computes checksums too.
     */
    async function plainVariant(change: (bundle: any) => void | Promise<void>): Promise<string> {
      const bundle = JSON.parse(plainText).body;
      await change(bundle);
      return authenticatedText(JSON.stringify(bundle), bundleKey(ts.server.config.dataDir));
    }
    const encryptedVariant = (body: unknown) => authenticatedText(JSON.stringify(body), bundleKey(ts.server.config.dataDir));
    async function setEntry(bundle: any, name: string, value: unknown, fixChecksum: boolean): Promise<void> {
      const bytes = enc(value);
      bundle.entries[name] = toBase64(bytes);
      const entry = bundle.manifest.entries.find((item: { name: string }) => item.name === name);
      if (fixChecksum) {
        entry.sha256 = await sha256Hex(bytes);
        entry.bytes = bytes.length;
      }
    }
    const tokensOf = (text: string) => JSON.parse(new TextDecoder().decode(fromBase64(JSON.parse(text).body.entries['client_tokens.json'])));

    const cases: [string, () => Promise<string>, RegExp, string?][] = [
      ['truncated', async () => plainText.slice(0, Math.floor(plainText.length / 2)), /truncated or damaged/],
      ['tampered entry', () => plainVariant((b) => setEntry(b, 'client_tokens.json', tokensOf(plainText).map((t: any) => ({ ...t, ceiling: 'normal', mode: 'normal' })), false)), /does not match its SHA-256|has \d+ bytes, the manifest says/],
      ['entry missing', () => plainVariant((b) => void delete b.entries['settings.json']), /does not hold it/],
      ['entry not in the manifest', () => plainVariant((b) => void (b.entries['extra.json'] = toBase64(enc({})))), /manifest does not list/],
      ['not a bundle', async () => JSON.stringify({ hello: 'world' }), /not a proxmox-mcp configuration backup/],
      ['unknown format version', async () => plainText.replace('"format_version":2', '"format_version":3'), /format version 3/],
      ['an older, unauthenticated format', async () => JSON.stringify({ format: 'proxmox-mcp-config-backup', format_version: 1, encrypted: false, manifest: {}, entries: {} }), /before bundles were authenticated/],
      ['a body changed without the key', async () => plainText.replace('"encrypted": false', '"encrypted": false '), /HMAC does not match/],
      ['authenticated with another key', async () => authenticatedText(JSON.stringify(JSON.parse(plainText).body), crypto.getRandomValues(new Uint8Array(32))), /another key/],
      ['manifest time not the bundle time', () => plainVariant((b) => void (b.manifest.created_at = '2020-01-01T00:00:00.000Z')), /manifest's time/],
      ['other major server version', () => plainVariant((b) => void (b.manifest.server.version = '1.0.0')), /another major version/],
      ['newer server version', () => plainVariant((b) => void (b.manifest.server.version = '0.99.0')), /newer than this server/],
      ['unknown database migration', () => plainVariant((b) => void b.manifest.schema.push('0999_future')), /migrations this server does not know \(0999_future\)/],
      ['unknown column', () => plainVariant((b) => setEntry(b, 'client_tokens.json', tokensOf(plainText).map((t: any) => ({ ...t, colour: 'red' })), true)), /columns this server's client_tokens table does not \(colour\)/],
      ['plain bundle claiming secrets', () => plainVariant((b) => void (b.manifest.contents.secrets = true)), /not encrypted/],
      ['wrong passphrase', async () => encryptedText, /passphrase is wrong/, 'definitely-not-it-0000'],
      ['no passphrase for an encrypted bundle', async () => encryptedText, /give its passphrase/, ''],
      [
        'tampered ciphertext',
        async () => {
          const bundle = JSON.parse(encryptedText).body;
          const payload = fromBase64(bundle.payload);
          payload[Math.floor(payload.length / 2)] ^= 0x01;
          return encryptedVariant({ ...bundle, payload: toBase64(payload) });
        },
        /cannot be decrypted/,
      ],
      ['truncated ciphertext', async () => { const b = JSON.parse(encryptedText).body; return encryptedVariant({ ...b, payload: toBase64(fromBase64(b.payload).slice(0, 100)) }); }, /cannot be decrypted/],
      ['tampered ciphertext, not re-authenticated', async () => encryptedText.replace(/"payload": "(.)/, (_m, c) => `"payload": "${c === 'A' ? 'B' : 'A'}`), /HMAC does not match/],
    ];

    it.each(cases)('%s', async (_label, make, reason, pass = passphrase) => {
      const file = bundleFileName(new Date());
      writeFileSync(join(ts.server.config.backupDir, file), await make());
      const before = await state();
      const historyCount = await ts.server.store.history.count();
      const existing = bundles();
      const response = await restore({ file, ...(pass ? { passphrase: pass } : {}) });
      expect(response.status).toBe(400);
      expect(response.body.error.message).toMatch(/^Restore refused, nothing was changed: /);
      expect(response.body.error.message).toMatch(reason);
      expect(await state()).toEqual(before);
      expect(bundles()).toEqual(existing); // not even the pre-restore backup was taken
      await ts.server.store.history.flush();
      expect(await ts.server.store.history.count()).toBe(historyCount + 1); // only the refused call itself
      rmSync(join(ts.server.config.backupDir, file));
    });

    it('names only bundles inside the backup directory', async () => {
      for (const file of ['../../etc/passwd', '/etc/passwd', 'proxmox-mcp-config-x.json']) {
        const response = await callRest(ts.url, ts.adminToken, 'restore_config', { file, dry_run: true });
        expect(response.status).toBe(400);
        expect(response.body.error.message).toMatch(/not a bundle name/);
      }
      const missing = await callRest(ts.url, ts.adminToken, 'restore_config', { file: bundleFileName(new Date()), dry_run: true });
      expect(missing.status).toBe(404);
    });
  });

  it('keeps only the newest MCP_BACKUP_KEEP bundles', async () => {
    const small = await startTestServer({ env: { MCP_BACKUP_KEEP: '3' } });
    try {
      await small.server.store.tokens.setMode((await small.server.store.tokens.findBySecret(small.adminToken))!.id, 'normal');
      const made: string[] = [];
      for (let i = 0; i < 5; i++) made.push((await callRest(small.url, small.adminToken, 'backup_config', { include_cluster: false })).body.data.file);
      const left = readdirSync(small.server.config.backupDir).filter((name) => name.endsWith('.json')).sort();
      expect(left).toEqual(made.slice(2).sort());
    } finally {
      await small.close();
    }
  });

  it('works over MCP too, and asks in safe mode like any change', async () => {
    const admin2 = await ts.createToken({ name: 'admin-mcp', role: 'admin', mode: 'safe' });
    const client = await connectClient(ts.mcpUrl, admin2);
    try {
      const ask = await client.callTool({ name: 'backup_config', arguments: { include_cluster: false } });
      expect(ask.isError).toBe(true);
      const id = (ask.structuredContent as any).error.details.approval_id;
      await approveCli(ts.server.store, 'yes', id);
      const done = await client.callTool({ name: 'backup_config', arguments: { include_cluster: false, confirmation_id: id } });
      expect(done.isError).toBeFalsy();
      const file = (done.structuredContent as any).data.file;
      const dry = await client.callTool({ name: 'restore_config', arguments: { file, dry_run: true } });
      expect(dry.isError).toBeFalsy();
      expect((dry.structuredContent as any).data.plan.changes).toBe(0);
    } finally {
      await client.close();
    }
  });
});
