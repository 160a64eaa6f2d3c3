/**
 * Restoring a configuration backup, in three steps that each stop at the first problem:
 *   1. read: the bundle is verified completely (lib/self/bundle.ts) and checked against this server
 *      (version, database schema, table columns); nothing is touched yet;
 *   2. plan: what would change (tokens added/removed/changed, settings, history rows, env variables),
 *      shown by explain and dry_run;
 *   3. apply: a backup of the current state first, then settings and tokens replaced and history merged
 *      in ONE transaction, then (only when asked) the env file written.
 * History is merged, never replaced: the audit trail of what happened since the backup stays.
 */
import { chmodSync, copyFileSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Config } from '../config.ts';
import type { Store } from '../store/store.ts';
import { BundleError, bundleFilePattern, entryJson, readBundle, type BundleContents } from './bundle.ts';
import { appliedMigrations, readTable, replaceState, tableColumns, type Row } from './db-state.ts';
import { envFilePath, envVariables, currentEnvFile, refusedEnvVariables } from './env-file.ts';
import { bundleKey, rankBundles, readBundleFile } from './backup.ts';
import { parseSemVer } from './semver.ts';

/**
 * A bundle by name in the backup directory ('latest' = the one with the newest authenticated time that
 * is not in the future; never chosen by file name). Never a path outside it.
 */
export async function resolveBundlePath(config: Config, name: string): Promise<string> {
  if (name === 'latest') {
    const ranked = await rankBundles(config.backupDir, bundleKey(config.dataDir), config.backupMaxBytes);
    const newest = ranked.find((bundle) => bundle.createdAt);
    if (!newest) {
      throw new BundleError(
        'not_a_bundle',
        ranked.length === 0
          ? `There is no backup bundle in ${config.backupDir}; make one with backup_config.`
          : `There is no bundle in ${config.backupDir} that this server can verify (${ranked.length} file(s) refused, e.g. ${ranked[0].name}: ${ranked[0].problem}); make one with backup_config.`,
      );
    }
    return newest.path;
  }
  const file = basename(name);
  if (file !== name || !bundleFilePattern.test(file)) {
    throw new BundleError('not_a_bundle', `'${name}' is not a bundle name; give a file name from the backup directory as backup_config reports it (proxmox-mcp-config-<time>-<id>.json) or 'latest'.`);
  }
  const path = join(config.backupDir, file);
  if (!existsSync(path)) throw new BundleError('not_a_bundle', `No bundle '${file}' in ${config.backupDir}.`);
  return path;
}

/** Is a bundle from `bundleVersion` (with these migrations) usable by this server? Throws when not. */
export async function checkCompatible(store: Store, contents: BundleContents, serverVersion: string): Promise<void> {
  const made = parseSemVer(contents.manifest.server.version);
  const running = parseSemVer(serverVersion);
  if (!made || !running) throw new BundleError('incompatible', `The bundle's server version '${contents.manifest.server.version}' is not a version this server can compare.`);
  if (made.major !== running.major) {
    throw new BundleError('incompatible', `The bundle was made by proxmox-mcp ${made.raw}; this server is ${running.raw} (another major version). Restore it with a ${made.major}.x server.`);
  }
  const newer = made.minor > running.minor || (made.minor === running.minor && made.patch > running.patch);
  if (newer) {
    throw new BundleError('incompatible', `The bundle was made by proxmox-mcp ${made.raw}, newer than this server (${running.raw}). Update this server first (self_update), then restore.`);
  }
  const known = new Set(await appliedMigrations(store));
  const unknown = contents.manifest.schema.filter((id) => !known.has(id));
  if (unknown.length > 0) throw new BundleError('incompatible', `The bundle's database has migrations this server does not know (${unknown.join(', ')}). Update this server first.`);
  for (const [entry, table] of [['settings.json', 'settings'], ['client_tokens.json', 'client_tokens'], ['history.json', 'history']] as const) {
    const rows = entryJson<unknown>(contents, entry);
    if (rows === undefined) {
      if (entry !== 'history.json') throw new BundleError('missing_entry', `The bundle has no ${entry}.`);
      continue;
    }
    if (!Array.isArray(rows) || rows.some((row) => !row || typeof row !== 'object' || Array.isArray(row))) {
      throw new BundleError('corrupt', `${entry} is not a list of rows.`);
    }
    const columns = new Set(await tableColumns(store, table));
    for (const row of rows as Row[]) {
      const extra = Object.keys(row).filter((column) => !columns.has(column));
      if (extra.length > 0) throw new BundleError('incompatible', `${entry} has columns this server's ${table} table does not (${extra.join(', ')}).`);
    }
  }
}

export interface TokenChange {
  name: string;
  change: 'added' | 'removed' | 'changed';
  fields?: string[];
}

/** A client token as the bundle has it: who it is and what it may do (never its hash). */
export interface BundleToken {
  name: string;
  role: string;
  mode: string;
  ceiling: string;
  state: 'active' | 'revoked' | 'expired';
  /** What the restore does to it: added (not here now), changed, or unchanged. */
  change: 'added' | 'changed' | 'unchanged';
}

export interface RestorePlan {
  bundle: { file: string; created_at: string; server_version: string; encrypted: boolean; contents: BundleContents['manifest']['contents'] };
  /** EVERY token the restore leaves in place, with its role, mode and ceiling. */
  bundle_tokens: BundleToken[];
  /** Rows per table in the bundle. */
  rows: { settings: number; client_tokens: number; history: number | null };
  tokens: TokenChange[];
  settings: { key: string; change: 'added' | 'removed' | 'changed' }[];
  history: { in_bundle: number; would_add: number } | null;
  env: { in_bundle: boolean; will_restore: boolean; changed_variables: string[]; target?: string };
  warnings: string[];
  changes: number;
}

const tokenFieldLabels: Record<string, string> = { token_hash: 'secret', revoked_at: 'revoked', expires_at: 'expiry' };

function diffRows(current: Row[], wanted: Row[], key: string): { added: Row[]; removed: Row[]; changed: { row: Row; fields: string[] }[] } {
  const before = new Map(current.map((row) => [String(row[key]), row]));
  const after = new Map(wanted.map((row) => [String(row[key]), row]));
  const added = wanted.filter((row) => !before.has(String(row[key])));
  const removed = current.filter((row) => !after.has(String(row[key])));
  const changed: { row: Row; fields: string[] }[] = [];
  for (const row of wanted) {
    const old = before.get(String(row[key]));
    if (!old) continue;
    const fields = [...new Set([...Object.keys(old), ...Object.keys(row)])].filter((field) => (old[field] ?? null) !== (row[field] ?? null));
    if (fields.length > 0) changed.push({ row, fields });
  }
  return { added, removed, changed };
}

export interface RestoreOptions {
  restoreEnv?: boolean;
  inContainer: boolean;
  callerTokenId?: string;
}

/**
 * Where a restored env file goes. Outside a container: the install's .env (the old one kept beside it).
 * In a container: a separate file in the data directory for the admin to READ on the host and take values
 * from by hand; never a file to copy over the host's .env (Docker Compose reads that one too, and the
 * container wrote this one).
 */
export function envTarget(config: Config, inContainer: boolean): string {
  return inContainer ? join(config.dataDir, 'restored.env.review') : envFilePath(config);
}

export async function planRestore(store: Store, config: Config, file: string, contents: BundleContents, options: RestoreOptions): Promise<RestorePlan> {
  const warnings: string[] = [];
  const wantedTokens = entryJson<Row[]>(contents, 'client_tokens.json') ?? [];
  const currentTokens = await readTable(store, 'client_tokens');
  const tokens = diffRows(currentTokens, wantedTokens, 'id');
  const addedIds = new Set(tokens.added.map((row) => String(row.id)));
  const changedIds = new Set(tokens.changed.map(({ row }) => String(row.id)));
  const now = Date.now();
  const bundleTokens: BundleToken[] = wantedTokens.map((row) => ({
    name: String(row.name),
    role: String(row.role),
    mode: String(row.mode),
    ceiling: String(row.ceiling),
    state: row.revoked_at !== null && row.revoked_at !== undefined ? 'revoked' : typeof row.expires_at === 'number' && row.expires_at <= now ? 'expired' : 'active',
    change: addedIds.has(String(row.id)) ? 'added' : changedIds.has(String(row.id)) ? 'changed' : 'unchanged',
  }));
  const tokenChanges: TokenChange[] = [
    ...tokens.added.map((row) => ({ name: String(row.name), change: 'added' as const })),
    ...tokens.removed.map((row) => ({ name: String(row.name), change: 'removed' as const })),
    ...tokens.changed.map(({ row, fields }) => ({ name: String(row.name), change: 'changed' as const, fields: fields.map((field) => tokenFieldLabels[field] ?? field) })),
  ];
  if (options.callerTokenId && !wantedTokens.some((row) => row.id === options.callerTokenId)) {
    warnings.push('The token making this call is not in the bundle: it stops working after the restore.');
  }
  if (!wantedTokens.some((row) => row.role === 'admin' && row.revoked_at === null)) {
    warnings.push('The bundle has no active admin token: only MCP_ADMIN_TOKEN (or `npm run token`) can administer the server afterwards.');
  }
  const settings = diffRows(await readTable(store, 'settings'), entryJson<Row[]>(contents, 'settings.json') ?? [], 'key');
  const history = entryJson<Row[]>(contents, 'history.json');
  let historyPlan: RestorePlan['history'] = null;
  if (history) {
    const present = new Set((await readTable(store, 'history')).map((row) => String(row.call_id)));
    historyPlan = { in_bundle: history.length, would_add: history.filter((row) => !present.has(String(row.call_id))).length };
  }
  const envBytes = contents.entries.get('env');
  const env: RestorePlan['env'] = { in_bundle: Boolean(envBytes), will_restore: Boolean(envBytes && options.restoreEnv), changed_variables: [] };
  if (envBytes) {
    const wanted = envVariables(new TextDecoder().decode(envBytes));
    const refused = refusedEnvVariables(wanted);
    if (options.restoreEnv && refused.length > 0) {
      throw new BundleError('incompatible', `The bundle's env file sets variables proxmox-mcp never writes (${refused.join(', ')}); Docker Compose or the runtime would act on them, so restore_env refuses it. Restore without restore_env.`);
    }
    const current = envVariables(currentEnvFile(config).text);
    env.changed_variables = [...new Set([...wanted.keys(), ...current.keys()])].filter((name) => wanted.get(name) !== current.get(name)).sort();
    if (options.restoreEnv) {
      env.target = envTarget(config, options.inContainer);
      warnings.push(
        options.inContainer
          ? `The env file goes to ${env.target} (in the data directory on the host) for you to REVIEW: do not copy it over the host's .env (the container wrote it, and Docker Compose reads .env). Set the variables you want in .env by hand (${env.changed_variables.join(', ') || 'none differ'}), then \`docker compose up -d\`.`
          : `The env file replaces ${env.target} (the old one is kept beside it); restart the server for it to take effect.`,
      );
    }
  } else if (options.restoreEnv) {
    warnings.push('restore_env was asked for, but the bundle holds no env file (it was made without include_secrets).');
  }
  const changes =
    tokenChanges.length + settings.added.length + settings.removed.length + settings.changed.length + (historyPlan?.would_add ?? 0) + (env.will_restore && env.changed_variables.length > 0 ? 1 : 0);
  return {
    bundle: { file: basename(file), created_at: contents.manifest.created_at, server_version: contents.manifest.server.version, encrypted: contents.encrypted, contents: contents.manifest.contents },
    bundle_tokens: bundleTokens,
    rows: { settings: (entryJson<Row[]>(contents, 'settings.json') ?? []).length, client_tokens: wantedTokens.length, history: history ? history.length : null },
    tokens: tokenChanges,
    settings: [
      ...settings.added.map((row) => ({ key: String(row.key), change: 'added' as const })),
      ...settings.removed.map((row) => ({ key: String(row.key), change: 'removed' as const })),
      ...settings.changed.map(({ row }) => ({ key: String(row.key), change: 'changed' as const })),
    ],
    history: historyPlan,
    env,
    warnings,
    changes,
  };
}

/** Read, verify and check a bundle; throws BundleError with the reason. Touches nothing. */
export async function loadVerifiedBundle(store: Store, config: Config, path: string, passphrase: string | undefined, serverVersion: string): Promise<BundleContents> {
  const text = readBundleFile(path, config.backupMaxBytes);
  const contents = await readBundle(text, { key: bundleKey(config.dataDir), passphrase });
  await checkCompatible(store, contents, serverVersion);
  return contents;
}

/** Apply a verified bundle: one transaction for the database, then the env file when asked. */
export async function applyRestore(store: Store, config: Config, contents: BundleContents, options: RestoreOptions): Promise<{ historyAdded: number; envWritten?: string }> {
  const rows = (name: 'settings.json' | 'client_tokens.json' | 'history.json') => entryJson<Row[]>(contents, name);
  const { historyAdded } = await replaceState(store, {
    settings: rows('settings.json') ?? [],
    client_tokens: rows('client_tokens.json') ?? [],
    history: rows('history.json'),
  });
  // client_tokens was rewritten behind the token repository's back: drop what it remembers.
  store.tokens.forget();
  const env = contents.entries.get('env');
  if (!env || !options.restoreEnv) return { historyAdded };
  const refused = refusedEnvVariables(envVariables(new TextDecoder().decode(env)));
  if (refused.length > 0) throw new BundleError('incompatible', `The env file sets ${refused.join(', ')}; not written.`);
  const target = envTarget(config, options.inContainer);
  if (existsSync(target)) copyFileSync(target, `${target}.before-restore-${Date.now()}`);
  const temporary = `${target}.tmp-${process.pid}`;
  writeFileSync(temporary, env, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, target);
  return { historyAdded, envWritten: target };
}

