/**
 * Making a configuration backup: gather the state, build one bundle (lib/self/bundle.ts), authenticate it
 * with the server's bundle key, write it atomically (temporary file, then rename) with mode 0600 into the
 * backup directory, and keep only the newest `backupKeep` bundles there.
 *
 * "Newest" is the bundle's authenticated time, never its file name: a file anyone can name
 * `proxmox-mcp-config-2099…` is not the latest and is pruned first. Bundle files larger than
 * MCP_BACKUP_MAX_BYTES are never read (the size is checked on the opened file).
 */
import { chmodSync, closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import type { PveClient } from '../pve/types.ts';
import type { Store } from '../store/store.ts';
import { authenticateBundle, buildBundle, BundleError, bundleFileName, bundleFilePattern, type EntryName, type Manifest } from './bundle.ts';
import { snapshotCluster } from './cluster-snapshot.ts';
import { redactHistoryRow } from '../runtime/redact-args.ts';
import { appliedMigrations, readTable } from './db-state.ts';
import { currentEnvFile } from './env-file.ts';

export interface BackupDeps {
  store: Store;
  config: Config;
  pve?: PveClient;
  server: { name: string; version: string; commit: string | null };
  signal?: AbortSignal;
}

export interface BackupOptions {
  includeSecrets?: boolean;
  passphrase?: string;
  includeHistory?: boolean;
  includeCluster?: boolean;
  /** Label in the result only (e.g. 'before restore'). */
  reason?: string;
  /** PBKDF2 iterations (tests may not go below the minimum either). */
  iterations?: number;
}

export interface BackupResult {
  file: string;
  bytes: number;
  manifest: Manifest;
  encrypted: boolean;
  env_source?: 'file' | 'rendered';
  cluster_errors: { path: string; error: string }[];
  removed: string[];
  counts: { settings: number; client_tokens: number; history?: number; guests?: number };
}

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 1));

export const bundleKeyFileName = 'backup-hmac.key';

/**
 * The key every bundle is authenticated with: 32 random bytes (64 hex digits) in `<data dir>/backup-hmac.key`,
 * mode 0600, made on first use (O_EXCL, so two servers starting together agree on one). Never in a bundle.
 */
export function bundleKey(dataDir: string): Uint8Array {
  const path = join(dataDir, bundleKeyFileName);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      const key = crypto.getRandomValues(new Uint8Array(32));
      writeSync(fd, Buffer.from(key).toString('hex') + '\n');
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  let text: string;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > 200) throw new Error(`${path} is not the bundle key file this server writes`);
    if ((stat.mode & 0o077) !== 0) chmodSync(path, 0o600);
    text = readFileSync(fd, 'utf8').trim();
  } finally {
    closeSync(fd);
  }
  if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`${path} does not hold a bundle key (64 hex digits); move it away to make a new one (older bundles then no longer verify)`);
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** A bundle file's text, refused before reading when the opened file is larger than `maxBytes` (or not a regular file). */
export function readBundleFile(path: string, maxBytes: number): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    throw new BundleError('not_a_bundle', `Cannot read ${path.split('/').pop()}: ${(error as NodeJS.ErrnoException).code === 'ELOOP' ? 'it is a symbolic link' : (error as Error).message}`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new BundleError('not_a_bundle', `${path.split('/').pop()} is not a regular file.`);
    if (stat.size > maxBytes) {
      throw new BundleError('too_large', `${path.split('/').pop()} has ${stat.size} bytes, more than MCP_BACKUP_MAX_BYTES (${maxBytes}); it is not read. Bundles this server writes are far smaller.`);
    }
    // Read at most maxBytes + 1, whatever the file grows to meanwhile.
    const buffer = Buffer.alloc(Math.min(maxBytes + 1, stat.size + 1));
    let length = 0;
    for (;;) {
      if (length === buffer.length) break;
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    if (length > maxBytes) throw new BundleError('too_large', `${path.split('/').pop()} grew beyond MCP_BACKUP_MAX_BYTES (${maxBytes}) while it was read.`);
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export interface ListedBundle {
  name: string;
  path: string;
  bytes: number;
}

/** Bundle files in the backup directory by name (newest name first): for showing only, never for choosing. */
export function listBundles(dir: string): ListedBundle[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((name) => bundleFilePattern.test(name))
    .sort()
    .reverse()
    .map((name) => {
      const path = join(dir, name);
      let bytes = 0;
      try {
        bytes = statSync(path).size;
      } catch {
        // vanished meanwhile
      }
      return { name, path, bytes };
    });
}

export interface RankedBundle extends ListedBundle {
  /** The authenticated time; undefined when the bundle does not verify (forged, other key, too large, future). */
  createdAt?: string;
  problem?: string;
}

/**
 * Every bundle file, the ones that verify with this key first, newest authenticated time first; then the
 * others (forged, made with another key, oversized, dated in the future), which are never "latest".
 */
export async function rankBundles(dir: string, key: Uint8Array, maxBytes: number, now = Date.now()): Promise<RankedBundle[]> {
  const ranked: RankedBundle[] = [];
  for (const bundle of listBundles(dir)) {
    try {
      const { createdAt } = await authenticateBundle(readBundleFile(bundle.path, maxBytes), key, { now });
      ranked.push({ ...bundle, createdAt });
    } catch (error) {
      ranked.push({ ...bundle, problem: error instanceof Error ? error.message : String(error) });
    }
  }
  const time = (bundle: RankedBundle) => (bundle.createdAt ? Date.parse(bundle.createdAt) : -Infinity);
  return ranked.sort((a, b) => time(b) - time(a) || (a.name < b.name ? 1 : -1));
}

/** Delete all but the newest `keep` verified bundles (unverifiable ones go first); returns the removed file names. */
export async function pruneBundles(dir: string, keep: number, key: Uint8Array, maxBytes: number): Promise<string[]> {
  const removed: string[] = [];
  for (const bundle of (await rankBundles(dir, key, maxBytes)).slice(keep)) {
    rmSync(bundle.path, { force: true });
    removed.push(bundle.name);
  }
  return removed;
}

export async function createBackup(deps: BackupDeps, options: BackupOptions = {}): Promise<BackupResult> {
  if (options.includeSecrets && !options.passphrase) throw new Error('include_secrets needs a passphrase: the bundle is then encrypted with it');
  const entries = new Map<EntryName, Uint8Array>();
  const settings = await readTable(deps.store, 'settings');
  const tokens = await readTable(deps.store, 'client_tokens');
  entries.set('settings.json', encode(settings));
  entries.set('client_tokens.json', encode(tokens));
  const counts: BackupResult['counts'] = { settings: settings.length, client_tokens: tokens.length };
  if (options.includeHistory) {
    // Re-redacted with today's rules: rows from before a rule existed must not carry a secret into a file.
    const history = (await readTable(deps.store, 'history')).map(redactHistoryRow);
    entries.set('history.json', encode(history));
    counts.history = history.length;
  }
  let envSource: BackupResult['env_source'];
  if (options.includeSecrets) {
    const env = currentEnvFile(deps.config);
    entries.set('env', new TextEncoder().encode(env.text));
    envSource = env.source;
  }
  let clusterErrors: BackupResult['cluster_errors'] = [];
  if (options.includeCluster !== false && deps.pve) {
    const snapshot = await snapshotCluster(deps.pve, { signal: deps.signal });
    entries.set('cluster.json', encode(snapshot));
    clusterErrors = snapshot.errors;
    counts.guests = Object.keys(snapshot.guests).length;
  }

  const createdAt = new Date();
  const key = bundleKey(deps.config.dataDir);
  const { text, manifest } = await buildBundle({
    key,
    createdAt,
    server: deps.server,
    schema: await appliedMigrations(deps.store),
    entries,
    passphrase: options.passphrase || undefined,
    iterations: options.iterations,
  });

  if (Buffer.byteLength(text) > deps.config.backupMaxBytes) {
    throw new Error(`The bundle would have ${Buffer.byteLength(text)} bytes, more than MCP_BACKUP_MAX_BYTES (${deps.config.backupMaxBytes}), so it could never be restored: leave out the history, or raise MCP_BACKUP_MAX_BYTES.`);
  }
  const dir = deps.config.backupDir;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const name = bundleFileName(createdAt);
  const file = join(dir, name);
  const temporary = join(dir, `.${name}.tmp`);
  try {
    writeFileSync(temporary, text, { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  const removed = await pruneBundles(dir, deps.config.backupKeep, key, deps.config.backupMaxBytes);
  return {
    file,
    bytes: Buffer.byteLength(text),
    manifest,
    encrypted: Boolean(options.passphrase),
    ...(envSource ? { env_source: envSource } : {}),
    cluster_errors: clusterErrors,
    removed,
    counts,
  };
}
