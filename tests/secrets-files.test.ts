/**
 * Files that hold secrets are the owner's alone: the database (and its -wal/-shm), the first admin token
 * file, backup bundles: 0600, and the directories we create for them 0700. Checked with fs.stat.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bootstrapAdminToken } from '../lib/auth/bootstrap.ts';
import { loadConfig } from '../lib/config.ts';
import { silentLogger } from '../lib/log.ts';
import { openStore } from '../lib/store/store.ts';
import { callRest, startTestServer } from './helpers/server.ts';

const root = mkdtempSync(join(tmpdir(), 'pmcp-modes-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const mode = (path: string) => statSync(path).mode & 0o777;

describe('file modes', () => {
  it('a new database is 0600 in a new 0700 directory, and so are its WAL files', async () => {
    const dir = join(root, 'fresh', 'data');
    const file = join(dir, 'proxmox-mcp.db');
    const store = await openStore(`file:${file}`);
    try {
      await store.tokens.create({ name: 'x', role: 'viewer' });
      expect(mode(dir)).toBe(0o700);
      expect(mode(file)).toBe(0o600);
      for (const extra of [`${file}-wal`, `${file}-shm`]) if (existsSync(extra)) expect(mode(extra)).toBe(0o600);
      expect(existsSync(`${file}-wal`)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('a database left 0644 by an older version is narrowed to 0600 when opened', async () => {
    const file = join(root, 'old.db');
    const first = await openStore(`file:${file}`);
    await first.close();
    chmodSync(file, 0o644);
    const again = await openStore(`file:${file}`);
    try {
      expect(mode(file)).toBe(0o600);
    } finally {
      await again.close();
    }
  });

  it('the first admin token file is 0600 in a 0700 data directory', async () => {
    const dataDir = join(root, 'boot', 'data');
    const config = loadConfig({ MCP_DATA_DIR: dataDir, MCP_IN_CONTAINER: '0' }, { envFile: null });
    const store = await openStore(config.databaseUrl);
    try {
      const result = await bootstrapAdminToken(store, config, silentLogger);
      expect(result.file).toBe(join(dataDir, 'admin-token'));
      expect(mode(result.file!)).toBe(0o600);
      expect(mode(dataDir)).toBe(0o700);
      expect(mode(join(dataDir, 'proxmox-mcp.db'))).toBe(0o600);
    } finally {
      await store.close();
    }
  });

  it('a backup bundle is 0600 in a 0700 directory', async () => {
    const ts = await startTestServer();
    try {
      await ts.server.store.tokens.setMode((await ts.server.store.tokens.findBySecret(ts.adminToken))!.id, 'normal');
      const response = await callRest(ts.url, ts.adminToken, 'backup_config', { include_history: true, include_cluster: false });
      expect(response.status).toBe(200);
      const dir = ts.server.config.backupDir;
      const [bundle] = readdirSync(dir).filter((name) => name.endsWith('.json'));
      expect(mode(join(dir, bundle))).toBe(0o600);
      expect(mode(dir)).toBe(0o700);
      expect(mode(join(ts.dataDir, 'proxmox-mcp.db'))).toBe(0o600);
    } finally {
      await ts.close();
    }
  });

  it('the backup directory is 0700 even when the health probe is what creates it', async () => {
    const ts = await startTestServer();
    try {
      const response = await fetch(`${ts.url}/health`, { headers: { authorization: `Bearer ${ts.adminToken}` } });
      expect(response.status).toBeLessThan(600);
      await response.text();
      expect(existsSync(ts.server.config.backupDir)).toBe(true);
      expect(mode(ts.server.config.backupDir)).toBe(0o700);
    } finally {
      await ts.close();
    }
  });

  it('a directory that was already there keeps its mode (it is not ours to change)', async () => {
    const shared = join(root, 'shared');
    mkdirSync(shared, { mode: 0o755 });
    chmodSync(shared, 0o755);
    const store = await openStore(`file:${join(shared, 'x.db')}`);
    await store.close();
    expect(mode(shared)).toBe(0o755);
    expect(mode(join(shared, 'x.db'))).toBe(0o600);
  });
});
