/**
 * Issue 18, bundles: every bundle is authenticated with the server's key (HMAC-SHA256, checked before the
 * body is parsed), so a hand-made bundle with recomputed checksums is refused; "latest" is the newest
 * authenticated time that is not in the future (never the file name); a file over MCP_BACKUP_MAX_BYTES is
 * refused before it is read; the restore plan lists every token with its role, mode and ceiling and the
 * row counts; a restored env file never goes where Docker Compose reads, and COMPOSE_* and DOCKER_* keys are refused.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../lib/config.ts';
import { authenticatedText, buildBundle, bundleFileName, readBundle, type EntryName } from '../lib/self/bundle.ts';
import { bundleKey, bundleKeyFileName, createBackup, pruneBundles, rankBundles, readBundleFile } from '../lib/self/backup.ts';
import { sha256Hex, toBase64, fromBase64 } from '../lib/self/crypto.ts';
import { applyRestore, loadVerifiedBundle, planRestore, resolveBundlePath } from '../lib/self/restore.ts';
import { openStore, type Store } from '../lib/store/store.ts';

const server = { name: 'proxmox-mcp', version: JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')).version as string, commit: null };
const passphrase = 'correct horse battery staple';
let root: string;
let config: Config;
let store: Store;

const backup = (options: Parameters<typeof createBackup>[1] = {}) => createBackup({ store, config, server }, { includeCluster: false, ...options });
const key = () => bundleKey(config.dataDir);
const verify = (file: string, pass?: string) => loadVerifiedBundle(store, config, join(config.backupDir, file), pass, server.version);
const clearBackups = () => {
  for (const name of readdirSync(config.backupDir)) rmSync(join(config.backupDir, name), { force: true });
};

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pmcp-bundle-auth-'));
  mkdirSync(join(root, 'install'));
  writeFileSync(join(root, 'install', '.env'), 'PROXMOX_TOKEN_SECRET=env-secret-0123456789\nMCP_LOG_LEVEL=info\n', { mode: 0o600 });
  config = loadConfig(
    { MCP_DATA_DIR: join(root, 'data'), MCP_BACKUP_DIR: join(root, 'backups'), MCP_INSTALL_DIR: join(root, 'install'), MCP_BACKUP_MAX_BYTES: String(256 * 1024), MCP_BACKUP_KEEP: '50', MCP_IN_CONTAINER: '0' },
    { envFile: null },
  );
  mkdirSync(config.dataDir, { recursive: true });
  store = await openStore(`file:${join(config.dataDir, 'db.sqlite')}`);
  await store.tokens.create({ name: 'ops', role: 'operator', mode: 'safe', ceiling: 'normal' });
  await store.tokens.create({ name: 'reader', role: 'viewer', mode: 'read-only', ceiling: 'read-only' });
});
afterAll(async () => {
  await store?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('the bundle key', () => {
  it('is made on first use in the data directory, 0600, 32 random bytes, and stays the same', async () => {
    const first = key();
    const file = join(config.dataDir, bundleKeyFileName);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(first).toHaveLength(32);
    expect(key()).toEqual(first);
    // It never travels in a bundle.
    const made = await backup({ includeHistory: true });
    expect(readFileSync(made.file, 'utf8')).not.toContain(readFileSync(file, 'utf8').trim());
  });

  it('refuses a key file that is a symlink or not a key', () => {
    const other = mkdtempSync(join(root, 'keys-'));
    writeFileSync(join(other, 'target'), 'a'.repeat(64));
    symlinkSync(join(other, 'target'), join(other, bundleKeyFileName));
    expect(() => bundleKey(other)).toThrow();
    const bad = mkdtempSync(join(root, 'keys-'));
    writeFileSync(join(bad, bundleKeyFileName), 'not a key\n');
    expect(() => bundleKey(bad)).toThrow(/does not hold a bundle key/);
  });
});

describe('forged bundles are refused before anything in them is used', () => {
  it('a hand-made plain bundle with recomputed checksums (an added admin token, forged history)', async () => {
    const real = await backup({ includeHistory: true });
    const outer = JSON.parse(readFileSync(real.file, 'utf8'));
    const body = outer.body;
    const tokens = JSON.parse(new TextDecoder().decode(fromBase64(body.entries['client_tokens.json'])));
    tokens.push({ ...tokens[0], id: 'forged', name: 'backup-agent', role: 'admin', mode: 'normal', ceiling: 'normal', token_hash: 'f'.repeat(64), token_hint: 'pmcp_forg' });
    const bytes = new TextEncoder().encode(JSON.stringify(tokens));
    body.entries['client_tokens.json'] = toBase64(bytes);
    const entry = body.manifest.entries.find((item: { name: string }) => item.name === 'client_tokens.json');
    entry.sha256 = await sha256Hex(bytes);
    entry.bytes = bytes.length;
    const forged = bundleFileName(new Date());
    writeFileSync(join(config.backupDir, forged), JSON.stringify(outer));
    await expect(verify(forged)).rejects.toMatchObject({ problem: 'not_authentic' });

    // The same body with a MAC under a key the forger made up.
    const otherKey = bundleFileName(new Date(Date.now() + 1));
    writeFileSync(join(config.backupDir, otherKey), await authenticatedText(JSON.stringify(body), crypto.getRandomValues(new Uint8Array(32))));
    await expect(verify(otherKey)).rejects.toMatchObject({ problem: 'other_key' });

    // A made-up MAC value with this server's key id.
    const guessed = bundleFileName(new Date(Date.now() + 2));
    writeFileSync(join(config.backupDir, guessed), (await authenticatedText(JSON.stringify(body), key())).replace(/"value":"[0-9a-f]{64}"/, `"value":"${'0'.repeat(64)}"`));
    await expect(verify(guessed)).rejects.toMatchObject({ problem: 'not_authentic' });

    // None of them is ever "latest": the real bundle is.
    expect(await resolveBundlePath(config, 'latest')).toBe(real.file);
    // The old, unauthenticated format (version 1) is refused as such.
    const v1 = bundleFileName(new Date(Date.now() + 3));
    writeFileSync(join(config.backupDir, v1), JSON.stringify({ format: 'proxmox-mcp-config-backup', format_version: 1, encrypted: false, manifest: body.manifest, entries: body.entries }));
    await expect(verify(v1)).rejects.toThrow(/before bundles were authenticated/);
    clearBackups();
  });

  it('an encrypted bundle made with the forger\'s own passphrase is refused too (the HMAC covers it)', async () => {
    const entries = new Map<EntryName, Uint8Array>([
      ['settings.json', new TextEncoder().encode('[]')],
      ['client_tokens.json', new TextEncoder().encode('[]')],
      ['env', new TextEncoder().encode('MCP_ADMIN_TOKEN=forged-token-0123456789abcdef\n')],
    ]);
    const { text } = await buildBundle({ key: crypto.getRandomValues(new Uint8Array(32)), createdAt: new Date(), server, schema: [], entries, passphrase });
    const file = bundleFileName(new Date());
    writeFileSync(join(config.backupDir, file), text);
    await expect(verify(file, passphrase)).rejects.toMatchObject({ problem: 'other_key' });
    clearBackups();
  });
});

describe('the size cap (MCP_BACKUP_MAX_BYTES)', () => {
  it('refuses a larger file before reading it, and a symlink or a FIFO outright', async () => {
    const big = bundleFileName(new Date());
    writeFileSync(join(config.backupDir, big), Buffer.alloc(config.backupMaxBytes + 1, 0x20));
    await expect(verify(big)).rejects.toMatchObject({ problem: 'too_large' });
    expect(() => readBundleFile(join(config.backupDir, big), config.backupMaxBytes)).toThrow(/more than MCP_BACKUP_MAX_BYTES/);

    // A small name pointing at a big file: not followed.
    const link = bundleFileName(new Date(Date.now() + 1));
    symlinkSync(join(config.backupDir, big), join(config.backupDir, link));
    await expect(verify(link)).rejects.toThrow(/symbolic link/);

    // A FIFO would block a plain read forever: opened non-blocking and refused as not a regular file.
    const fifo = bundleFileName(new Date(Date.now() + 2));
    execFileSync('mkfifo', [join(config.backupDir, fifo)]);
    await expect(verify(fifo)).rejects.toThrow(/not a regular file/);

    // And none of them is "latest"; with no verifiable bundle, latest says so.
    await expect(resolveBundlePath(config, 'latest')).rejects.toThrow(/no bundle .* that this server can verify/);
    clearBackups();
  });

  it('will not write a bundle it could never read back', async () => {
    await store.settings.set('big', 'x'.repeat(8000));
    const tiny = { ...config, backupMaxBytes: 4096 };
    await expect(createBackup({ store, config: tiny, server }, { includeCluster: false })).rejects.toThrow(/more than MCP_BACKUP_MAX_BYTES/);
    expect(readdirSync(config.backupDir)).toEqual([]);
    await store.client.execute("DELETE FROM settings WHERE key = 'big'");
  });
});

describe('"latest" is the newest authenticated time, never in the future', () => {
  it('ignores file names, refuses a far-future bundle as latest, and prunes it first', async () => {
    const now = await backup();
    // A genuine bundle from January, under a file name from 2098: by name it would win.
    const old = await buildBundle({ key: key(), createdAt: new Date('2026-01-01T00:00:00.000Z'), server, schema: [], entries: new Map([['settings.json', new TextEncoder().encode('[]')], ['client_tokens.json', new TextEncoder().encode('[]')]]) });
    const oldName = bundleFileName(new Date('2098-01-01T00:00:00.000Z'));
    writeFileSync(join(config.backupDir, oldName), old.text);
    // An authenticated bundle dated 2099 (a wrong clock, or a bundle meant to always look newest).
    const future = await buildBundle({ key: key(), createdAt: new Date('2099-01-01T00:00:00.000Z'), server, schema: [], entries: new Map([['settings.json', new TextEncoder().encode('[]')], ['client_tokens.json', new TextEncoder().encode('[]')]]) });
    const futureName = bundleFileName(new Date('2099-01-01T00:00:00.000Z'));
    writeFileSync(join(config.backupDir, futureName), future.text);

    expect(await resolveBundlePath(config, 'latest')).toBe(now.file);
    await expect(readBundle(future.text, { key: key() })).rejects.toMatchObject({ problem: 'from_the_future' });
    await expect(verify(futureName)).rejects.toThrow(/after now/);
    const ranked = await rankBundles(config.backupDir, key(), config.backupMaxBytes);
    expect(ranked.map((bundle) => bundle.name)).toEqual([now.file.split('/').pop(), oldName, futureName]);

    // Keeping 2: the far-future one goes first, though its name sorts last.
    expect(await pruneBundles(config.backupDir, 2, key(), config.backupMaxBytes)).toEqual([futureName]);
    expect(await pruneBundles(config.backupDir, 1, key(), config.backupMaxBytes)).toEqual([oldName]);
    expect(existsSync(now.file)).toBe(true);
    clearBackups();
  });
});

describe('the restore plan and the env file', () => {
  it('lists every token with its role, mode and ceiling, and the row counts', async () => {
    const made = await backup({ includeHistory: true });
    await store.tokens.create({ name: 'later', role: 'admin', mode: 'normal', ceiling: 'normal' });
    const file = made.file.split('/').pop() as string;
    const contents = await verify(file);
    const plan = await planRestore(store, config, made.file, contents, { inContainer: false });
    expect(plan.bundle_tokens).toEqual(
      expect.arrayContaining([
        { name: 'ops', role: 'operator', mode: 'safe', ceiling: 'normal', state: 'active', change: 'unchanged' },
        { name: 'reader', role: 'viewer', mode: 'read-only', ceiling: 'read-only', state: 'active', change: 'unchanged' },
      ]),
    );
    expect(plan.bundle_tokens).toHaveLength(made.counts.client_tokens);
    expect(plan.tokens).toContainEqual({ name: 'later', change: 'removed' });
    expect(plan.rows).toEqual({ settings: made.counts.settings, client_tokens: made.counts.client_tokens, history: made.counts.history });
    await store.tokens.revoke('later');
    clearBackups();
  });

  it('in a container: a separate file to review, never the host .env, and the plan says not to copy it', async () => {
    const made = await backup({ includeSecrets: true, passphrase });
    const contents = await verify(made.file.split('/').pop() as string, passphrase);
    const plan = await planRestore(store, config, made.file, contents, { inContainer: true, restoreEnv: true });
    expect(plan.env.target).toBe(join(config.dataDir, 'restored.env.review'));
    expect(plan.warnings.join(' ')).toMatch(/REVIEW: do not copy it over the host's \.env/);
    expect(JSON.stringify(plan)).not.toContain('env-secret-0123456789');
    const before = readFileSync(join(config.installDir, '.env'), 'utf8');
    const applied = await applyRestore(store, config, contents, { inContainer: true, restoreEnv: true });
    expect(applied.envWritten).toBe(join(config.dataDir, 'restored.env.review'));
    expect(statSync(applied.envWritten as string).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(config.installDir, '.env'), 'utf8')).toBe(before);
    clearBackups();
  });

  it('refuses an env file that sets COMPOSE_*, DOCKER_* or anything proxmox-mcp never writes', async () => {
    for (const line of ['COMPOSE_FILE=/tmp/evil.yml', 'DOCKER_HOST=tcp://10.0.0.9:2375', 'NODE_OPTIONS=--require /tmp/x.js', 'compose_project_name=x']) {
      writeFileSync(join(config.installDir, '.env'), `MCP_LOG_LEVEL=info\n${line}\n`, { mode: 0o600 });
      const made = await backup({ includeSecrets: true, passphrase });
      const contents = await verify(made.file.split('/').pop() as string, passphrase);
      await expect(planRestore(store, config, made.file, contents, { inContainer: false, restoreEnv: true }), line).rejects.toThrow(/never writes \((COMPOSE_FILE|DOCKER_HOST|NODE_OPTIONS|compose_project_name)\)/);
      await expect(applyRestore(store, config, contents, { inContainer: false, restoreEnv: true })).rejects.toThrow(/not written/);
      // Without restore_env the rest of the bundle is still usable.
      await expect(planRestore(store, config, made.file, contents, { inContainer: false })).resolves.toMatchObject({ env: { in_bundle: true, will_restore: false } });
    }
    writeFileSync(join(config.installDir, '.env'), 'PROXMOX_TOKEN_SECRET=env-secret-0123456789\nMCP_LOG_LEVEL=info\n', { mode: 0o600 });
    clearBackups();
  });
});
