/**
 * Applies db/migrations/NNNN_name.sql in order, once each, recording them in schema_migrations.
 * Our own few lines rather than drizzle-kit's migrator: that one needs a generated journal and a dev
 * tool at run time; this needs only the SQL files that ship with the server.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@libsql/client';
import { projectPath } from '../paths.ts';

export interface Migration {
  id: string;
  sql: string;
}

export function readMigrations(dir = projectPath('db', 'migrations')): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({ id: file.replace(/\.sql$/, ''), sql: readFileSync(join(dir, file), 'utf8') }));
}

/** Returns the ids applied by this call. */
export async function migrate(client: Client, migrations = readMigrations()): Promise<string[]> {
  await client.execute('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL)');
  const done = new Set((await client.execute('SELECT id FROM schema_migrations')).rows.map((row) => String(row.id)));
  const applied: string[] = [];
  for (const migration of migrations) {
    if (done.has(migration.id)) continue;
    const statements = migration.sql
      .split(/;\s*(?:\r?\n|$)/)
      .map((statement) => statement.replace(/^\s*--.*$/gm, '').trim())
      .filter((statement) => statement.length > 0);
    await client.batch(
      [...statements, { sql: 'INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)', args: [migration.id, Date.now()] }],
      'write',
    );
    applied.push(migration.id);
  }
  return applied;
}
