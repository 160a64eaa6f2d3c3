/**
 * What the self-management tools share: who this server is (name, version, commit), the one way to take
 * a configuration backup from a tool's ctx, and the pieces of get_mcp_info that need node: modules
 * (handlers in functions/ stay free of them).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ToolContext } from '../tool.ts';
import type { Config } from '../config.ts';
import { projectRoot } from '../paths.ts';
import { createBackup, listBundles, type BackupOptions, type BackupResult } from './backup.ts';
import { headCommit } from './git.ts';
import { inContainer } from './environment.ts';
import { readUpdateRequest, readUpdateResult } from './update-protocol.ts';
import { localPathOf } from '../store/store.ts';

export interface Identity {
  name: string;
  version: string;
  /** The commit the running code was built from (MCP_GIT_COMMIT from the image), else HEAD of the install's checkout. */
  commit: string | null;
  /** The tag the image was built from (MCP_GIT_TAG), when known. */
  tag: string | null;
  /** Where the running code is. */
  root: string;
}

export function packageInfo(root = projectRoot): { name: string; version: string } {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
  return { name: pkg.name, version: pkg.version };
}

export async function identity(ctx: ToolContext): Promise<Identity> {
  const runtime = ctx.services.runtime;
  const root = runtime?.projectRoot ?? projectRoot;
  const pkg = runtime ? { name: runtime.name, version: runtime.version } : packageInfo(root);
  const commit = ctx.config.container.gitCommit ?? (await headCommit(ctx.config.installDir)) ?? null;
  return { ...pkg, commit, tag: ctx.config.container.gitTag ?? null, root };
}

export async function backupFromContext(ctx: ToolContext, options: BackupOptions): Promise<BackupResult> {
  const me = await identity(ctx);
  return createBackup({ store: ctx.services.store, config: ctx.config, pve: ctx.pve, server: { name: me.name, version: me.version, commit: me.commit }, signal: ctx.signal }, options);
}

/**
 * In a container? With the config: what it says (MCP_IN_CONTAINER, else the marker files at start-up).
 * Without a config (scripts outside the server): the environment and the marker files, now.
 */
export function runningInContainer(config?: Config): boolean {
  return config ? config.container.inside : inContainer();
}

export function changelogText(root: string): string | undefined {
  try {
    return readFileSync(join(root, 'CHANGELOG.md'), 'utf8');
  } catch {
    return undefined;
  }
}

export function databaseInfo(ctx: ToolContext): { url: string; kind: 'embedded' | 'server'; path: string | null; size_bytes: number | null } {
  const store = ctx.services.store;
  const path = localPathOf(store.url) ?? null;
  return {
    url: store.url.replace(/(authToken=)[^&]+/i, '$1[redacted]').replace(/\/\/[^@/]*@/, '//[redacted]@'),
    kind: path ? 'embedded' : 'server',
    path,
    size_bytes: store.sizeBytes() ?? null,
  };
}

export function backupsInfo(ctx: ToolContext): { dir: string; keep: number; count: number; newest: string | null } {
  const bundles = listBundles(ctx.config.backupDir);
  return { dir: ctx.config.backupDir, keep: ctx.config.backupKeep, count: bundles.length, newest: bundles[0]?.name ?? null };
}

export function updateState(ctx: ToolContext): { pending_request: ReturnType<typeof readUpdateRequest> | null; last_result: ReturnType<typeof readUpdateResult> | null } {
  const request = readUpdateRequest(ctx.config.updateDir) ?? null;
  const result = readUpdateResult(ctx.config.updateDir) ?? null;
  return { pending_request: request && result?.id !== request.id ? request : null, last_result: result };
}
