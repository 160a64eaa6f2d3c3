/**
 * The server's own state as plain rows, for backups and restores: whole tables read with their column
 * names (so a bundle is independent of the drizzle layer), and written back in ONE transaction.
 */
import type { InStatement, InValue } from '@libsql/client';
import type { Store } from '../store/store.ts';

export type Row = Record<string, InValue>;

/** Tables a backup holds, with the column that orders them. Confirmations are short-lived and never kept. */
export const backedUpTables = { settings: 'key', client_tokens: 'created_at, id', history: 'id' } as const;
export type BackedUpTable = keyof typeof backedUpTables;

export async function readTable(store: Store, table: BackedUpTable): Promise<Row[]> {
  if (table === 'history') await store.history.flush();
  const result = await store.client.execute(`SELECT * FROM ${table} ORDER BY ${backedUpTables[table]}`);
  return result.rows.map((row) => {
    const out: Row = {};
    result.columns.forEach((column, index) => {
      const value = row[index];
      out[column] = typeof value === 'bigint' ? Number(value) : (value as InValue);
    });
    return out;
  });
}

export async function tableColumns(store: Store, table: BackedUpTable): Promise<string[]> {
  const result = await store.client.execute(`PRAGMA table_info(${table})`);
  return result.rows.map((row) => String(row.name));
}

export async function appliedMigrations(store: Store): Promise<string[]> {
  try {
    const result = await store.client.execute('SELECT id FROM schema_migrations ORDER BY id');
    return result.rows.map((row) => String(row.id));
  } catch {
    return [];
  }
}

function insertStatement(table: BackedUpTable, row: Row, verb = 'INSERT'): InStatement {
  const columns = Object.keys(row);
  return {
    sql: `${verb} INTO ${table} (${columns.map((column) => `"${column}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
    args: columns.map((column) => row[column]),
  };
}

/**
 * A history row goes in unless its call is already there. It keeps its id when that id is free; when
 * the id is taken by another call (a bundle from another database), it gets a new one rather than
 * being lost.
 */
function mergeHistoryRow(row: Row): InStatement[] {
  const { id: _id, ...rest } = row;
  const columns = Object.keys(rest);
  return [
    insertStatement('history', row, 'INSERT OR IGNORE'),
    {
      sql: `INSERT INTO history (${columns.map((column) => `"${column}"`).join(', ')}) SELECT ${columns.map(() => '?').join(', ')} WHERE NOT EXISTS (SELECT 1 FROM history WHERE call_id = ?)`,
      args: [...columns.map((column) => rest[column]), row.call_id],
    },
  ];
}

export interface Replacement {
  settings: Row[];
  client_tokens: Row[];
  /** Added to the history kept (rows already there are kept as they are); absent = history untouched. */
  history?: Row[];
}

/** Replace settings and tokens and merge history, atomically: all of it or nothing. */
export async function replaceState(store: Store, state: Replacement): Promise<{ historyAdded: number }> {
  await store.history.flush();
  const before = state.history ? await store.history.count() : 0;
  const statements: InStatement[] = [
    'DELETE FROM settings',
    ...state.settings.map((row) => insertStatement('settings', row)),
    'DELETE FROM client_tokens',
    ...state.client_tokens.map((row) => insertStatement('client_tokens', row)),
    ...(state.history ?? []).flatMap((row) => mergeHistoryRow(row)),
  ];
  await store.client.batch(statements, 'write');
  const after = state.history ? await store.history.count() : 0;
  return { historyAdded: after - before };
}
