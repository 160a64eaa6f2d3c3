/**
 * Making a configuration backup: gather the state, build one bundle (lib/self/bundle.ts), write it
 * atomically (temporary file, then rename) with mode 0600 into the backup directory, and keep only the
 * newest `backupKeep` bundles there.
 */
import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import type { PveClient } from '../pve/types.ts';
import type { Store } from '../store/store.ts';
import { buildBundle, bundleFileName, bundleFilePattern, type EntryName, type Manifest } from './bundle.ts';
import { snapshotCluster } from './cluster-snapshot.ts';
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

export function listBundles(dir: string): { name: string; path: string; bytes: number }[] {
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

/** Delete all but the newest `keep` bundles; returns the removed file names. */
export function pruneBundles(dir: string, keep: number): string[] {
  const removed: string[] = [];
  for (const bundle of listBundles(dir).slice(keep)) {
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
    const history = await readTable(deps.store, 'history');
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
  const { text, manifest } = await buildBundle({
    createdAt,
    server: deps.server,
    schema: await appliedMigrations(deps.store),
    entries,
    passphrase: options.passphrase || undefined,
    iterations: options.iterations,
  });

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
  const removed = pruneBundles(dir, deps.config.backupKeep);
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
