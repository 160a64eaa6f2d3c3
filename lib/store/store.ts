/**
 * The libSQL store: one client, the migrations applied, and a repository per concern. `file:` URLs give
 * an embedded database (the default, in the data directory); a libsql:// or https:// URL with
 * DATABASE_AUTH_TOKEN points several replicas at one shared server, unchanged.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from '@libsql/client';
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql';
import type { Logger } from '../log.ts';
import { migrate } from './migrate.ts';
import { TokenRepo } from './tokens.ts';
import { HistoryRepo } from './history.ts';
import { ConfirmationRepo } from './confirmations.ts';
import { SettingsRepo } from './settings.ts';

export interface Store {
  readonly url: string;
  readonly client: Client;
  readonly db: LibSQLDatabase;
  readonly tokens: TokenRepo;
  readonly history: HistoryRepo;
  readonly confirmations: ConfirmationRepo;
  readonly settings: SettingsRepo;
  /** Round trip time of a trivial query, in ms; throws when the DB cannot be reached. */
  ping(): Promise<number>;
  /** Size of the database file in bytes (embedded DB only). */
  sizeBytes(): number | undefined;
  close(): Promise<void>;
}

export function localPathOf(url: string): string | undefined {
  if (!url.startsWith('file:')) return undefined;
  const rest = url.slice('file:'.length);
  return rest.startsWith('//') ? fileURLToPath(url) : rest;
}

/**
 * The database holds token hashes, history and approver secrets: it is the owner's alone. The file is
 * created 0600 before libSQL opens it (SQLite gives its -wal and -shm files the database file's mode), a
 * file left 0644 by an older version is narrowed, and a directory we create is 0700. A directory that was
 * already there (someone's choice, e.g. /var/lib) keeps its mode.
 */
export function prepareDatabaseFile(location: string): void {
  const path = location.split('?')[0];
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    try {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    } catch {
      // not there (yet)
    }
  }
}

export async function openStore(url: string, options: { authToken?: string; log?: Logger } = {}): Promise<Store> {
  const localPath = localPathOf(url);
  if (localPath && localPath !== ':memory:') prepareDatabaseFile(localPath);
  const client = createClient({ url, authToken: options.authToken });
  if (localPath) {
    // WAL lets readers (history queries) run beside the writer; NORMAL sync is safe with WAL.
    await client.execute('PRAGMA journal_mode = WAL').catch(() => undefined);
    await client.execute('PRAGMA synchronous = NORMAL').catch(() => undefined);
    await client.execute('PRAGMA busy_timeout = 5000').catch(() => undefined);
  }
  await migrate(client);
  const db = drizzle(client);
  const history = new HistoryRepo(db, client, options.log);
  return {
    url,
    client,
    db,
    tokens: new TokenRepo(db),
    history,
    confirmations: new ConfirmationRepo(db),
    settings: new SettingsRepo(db),
    async ping() {
      const started = performance.now();
      await client.execute('SELECT 1');
      return performance.now() - started;
    },
    sizeBytes() {
      if (!localPath || localPath === ':memory:') return undefined;
      try {
        return statSync(localPath).size;
      } catch {
        return undefined;
      }
    },
    async close() {
      await history.flush();
      client.close();
    },
  };
}
