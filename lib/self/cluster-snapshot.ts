/**
 * A read-only snapshot of the cluster's configuration for a backup bundle, for reference only (restores
 * never send it back to Proxmox). Only GET endpoints listed in lib/pve/api-contract.json. An offline node
 * or a failing endpoint is noted in `errors` and does not stop the rest.
 *
 * What Proxmox returns is not kept as it came: every secret-named key (cipassword, password, keyring,
 * encryption-key, token... lib/policy/secret-params.json) is masked and the text rules of
 * lib/policy/redact-text.ts run over every string (a password in a description, a URL with credentials),
 * so a backup bundle never carries a guest's or a storage's secret.
 */
import type { PveClient } from '../pve/types.ts';
import { redactStrings } from '../policy/redact-text.ts';
import { maskSecretKeys } from '../policy/secret-params.ts';

export interface ClusterSnapshot {
  taken_at: string;
  source: string;
  version?: unknown;
  cluster_status?: unknown;
  resources?: unknown;
  pools?: unknown;
  storage?: unknown;
  /** Per node: its network interfaces (online nodes only). */
  network: Record<string, unknown>;
  /** Per guest id: type, node, name and its configuration (guests on online nodes only). */
  guests: Record<string, { type: string; node: string; name?: string; config: unknown }>;
  access: { users?: unknown; groups?: unknown; roles?: unknown; acl?: unknown };
  /** What could not be read, and why. */
  errors: { path: string; error: string }[];
  skipped_nodes: string[];
}

async function limited<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

export async function snapshotCluster(pve: PveClient, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ClusterSnapshot> {
  const snapshot: ClusterSnapshot = { taken_at: new Date().toISOString(), source: pve.baseUrl, network: {}, guests: {}, access: {}, errors: [], skipped_nodes: [] };
  const requestOptions = { signal: options.signal, timeoutMs: options.timeoutMs ?? 10_000 };
  const read = async (path: string): Promise<unknown> => {
    try {
      return await pve.get(path, undefined, requestOptions);
    } catch (error) {
      snapshot.errors.push({ path, error: error instanceof Error ? error.message : String(error) });
      return undefined;
    }
  };

  const [version, status, resources, pools, storage, users, groups, roles, acl] = await Promise.all([
    read('/version'),
    read('/cluster/status'),
    read('/cluster/resources'),
    read('/pools'),
    read('/storage'),
    read('/access/users'),
    read('/access/groups'),
    read('/access/roles'),
    read('/access/acl'),
  ]);
  Object.assign(snapshot, { version, cluster_status: status, resources, pools, storage });
  snapshot.access = { users, groups, roles, acl };

  const rows = Array.isArray(resources) ? (resources as Record<string, unknown>[]) : [];
  const nodes = rows.filter((row) => row.type === 'node');
  const online = new Set(nodes.filter((row) => row.status === 'online').map((row) => String(row.node)));
  snapshot.skipped_nodes = nodes.filter((row) => row.status !== 'online').map((row) => String(row.node));

  const jobs: (() => Promise<void>)[] = [];
  for (const node of online) {
    jobs.push(async () => {
      const network = await read(`/nodes/${encodeURIComponent(node)}/network`);
      if (network !== undefined) snapshot.network[node] = network;
    });
  }
  for (const guest of rows) {
    if ((guest.type !== 'qemu' && guest.type !== 'lxc') || typeof guest.vmid !== 'number' || !online.has(String(guest.node))) continue;
    jobs.push(async () => {
      const config = await read(`/nodes/${encodeURIComponent(String(guest.node))}/${guest.type}/${guest.vmid}/config`);
      if (config !== undefined) {
        snapshot.guests[String(guest.vmid)] = { type: String(guest.type), node: String(guest.node), ...(guest.name ? { name: String(guest.name) } : {}), config };
      }
    });
  }
  await limited(jobs, 8, (job) => job());
  return maskSnapshot(snapshot);
}

/** The snapshot with its secrets masked (see the file comment); exported for tests. */
export function maskSnapshot(snapshot: ClusterSnapshot): ClusterSnapshot {
  const mask = (value: unknown) => redactStrings(maskSecretKeys(value));
  const { taken_at, source, errors, skipped_nodes, ...rest } = snapshot;
  const masked = mask(rest) as Omit<ClusterSnapshot, 'taken_at' | 'source' | 'errors' | 'skipped_nodes'>;
  return { taken_at, source, errors: mask(errors) as ClusterSnapshot['errors'], skipped_nodes, ...masked };
}
