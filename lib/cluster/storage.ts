/**
 * Storage lookups the storage and backup tools share, from the cached /cluster/resources: which
 * storages exist, on which nodes, with what content, and an early refusal naming the known ones.
 */
import { ToolError } from '../errors.ts';
import type { ClusterResource } from '../pve/types.ts';
import type { ToolContext } from '../tool.ts';

export interface StorageEntry {
  storage: string;
  node: string;
  type?: string;
  shared: boolean;
  content: string[];
  status: string;
  used?: number;
  total?: number;
}

function toEntry(row: ClusterResource): StorageEntry {
  return {
    storage: String(row.storage ?? row.id.split('/').pop()),
    node: String(row.node ?? ''),
    type: typeof row.plugintype === 'string' ? row.plugintype : undefined,
    shared: row.shared === true,
    content: typeof row.content === 'string' ? row.content.split(',').filter(Boolean) : [],
    status: String(row.status ?? 'unknown'),
    used: typeof row.disk === 'number' ? row.disk : undefined,
    total: typeof row.maxdisk === 'number' ? row.maxdisk : undefined,
  };
}

/** One row per storage and node (shared storages appear once per node, as Proxmox lists them). */
export async function storageEntries(ctx: ToolContext): Promise<StorageEntry[]> {
  const rows = await ctx.pve.clusterResources('storage', { signal: ctx.signal });
  return rows.filter((row) => row.type === 'storage').map(toEntry);
}

/** The storage must exist (on `node`, when given); names the known storages otherwise. */
export async function requireStorage(ctx: ToolContext, storage: string, node?: string): Promise<StorageEntry | undefined> {
  const entries = await storageEntries(ctx);
  if (entries.length === 0) return undefined; // the token cannot list storages: let Proxmox judge
  const named = entries.filter((entry) => entry.storage === storage);
  if (named.length === 0) {
    const known = [...new Set(entries.map((entry) => entry.storage))].sort();
    throw new ToolError('not_found', `Storage '${storage}' does not exist. Storages: ${known.join(', ')}.`, {
      details: { storage, storages: known },
      suggestions: ['storage_operations action list shows each storage with its content types and use.'],
    });
  }
  if (!node) return named.find((entry) => entry.status === 'available') ?? named[0];
  const here = named.find((entry) => entry.node === node);
  if (!here) {
    throw new ToolError('not_found', `Storage '${storage}' is not available on node ${node} (it is on: ${named.map((entry) => entry.node).join(', ')}).`, {
      details: { storage, node, nodes: named.map((entry) => entry.node) },
    });
  }
  return here;
}

/** Does this storage take this kind of content (iso, vztmpl, backup, images, rootdir...)? */
export function assertContent(entry: StorageEntry | undefined, content: string, what: string): void {
  if (!entry || entry.content.length === 0) return;
  if (!entry.content.includes(content)) {
    throw new ToolError('invalid_input', `Storage '${entry.storage}' does not hold ${what} (its content types: ${entry.content.join(', ')}). Pick a storage with '${content}' content.`, {
      details: { storage: entry.storage, content: entry.content },
    });
  }
}
