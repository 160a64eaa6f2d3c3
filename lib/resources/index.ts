/**
 * The MCP resources (read-only, @-mentionable in Claude Code):
 *
 *   proxmox://cluster/inventory                nodes, guests, storages (compact JSON)
 *   proxmox://nodes/{node}/status              one per node (listable, node names complete)
 *   proxmox://guests/{node}/{vmid}/config      one per guest, secrets removed (listable, node and vmid complete)
 *   proxmox://history/me                       the caller's own calls of the last 24 hours
 *   proxmox://best-practices/{topic}           the knowledge base's topics (listable, ids complete)
 *
 * Everything that costs anything (templates, their list and completion callbacks, metadata) is built
 * once per runtime; a request only registers those on its fresh McpServer with read callbacks bound
 * to the caller. Cache hints (2026-07-28 `ttlMs` / `cacheScope`): cluster data is the same for every
 * client (the server reads Proxmox with its one token), so it is `public` with short lifetimes; the
 * history is the caller's own, so `private`, and never cached because every call changes it; the
 * best-practice topics are static data.
 */
import { ProtocolError, ProtocolErrorCode, ResourceTemplate, type CacheHint, type ListResourcesResult, type McpServer, type ResourceMetadata, type ServerContext, type Variables } from '@modelcontextprotocol/server';
import type { Caller } from '../tool.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { callerOf, jsonResource, lister, markdownResource, nodeNames, readerFor, reading } from './common.ts';
import { inventoryUri, readInventory } from './inventory.ts';
import { nodeStatusTemplate, nodeStatusUri, parseNode, readNodeStatus } from './node-status.ts';
import { guestConfigTemplate, guestConfigUri, parseVmid, readGuestConfig } from './guest-config.ts';
import { historyUri, readHistory } from './history.ts';
import { bestPracticesTemplate, bestPracticesUri, readTopic } from './best-practices.ts';
import { metricsChartTemplate, readMetricsChart } from '../metrics/resource.ts';

export const cacheHints = {
  inventory: { ttlMs: 10_000, cacheScope: 'public' },
  nodeStatus: { ttlMs: 5_000, cacheScope: 'public' },
  guestConfig: { ttlMs: 15_000, cacheScope: 'public' },
  history: { ttlMs: 0, cacheScope: 'private' },
  bestPractices: { ttlMs: 3_600_000, cacheScope: 'public' },
} satisfies Record<string, CacheHint>;

type Meta = ResourceMetadata & { cacheHint: CacheHint };

const audience = { audience: ['user', 'assistant'] as ('user' | 'assistant')[] };

const meta = {
  metricsChart: {
    title: 'Metrics chart',
    description: 'A PNG line chart of a node\'s or guest\'s CPU, memory, disk or network over an hour, day, week, month or year: proxmox://metrics/guest/101/day/cpu, proxmox://metrics/node/pve1/week/memory.',
    mimeType: 'image/png',
    annotations: { ...audience, priority: 0.4 },
    cacheHint: { ttlMs: 60_000, cacheScope: 'public' },
  },
  inventory: {
    title: 'Cluster inventory',
    description: 'Every node, guest (VMs and containers) and storage of the cluster with status and size, as compact JSON.',
    mimeType: 'application/json',
    annotations: { ...audience, priority: 0.9 },
    cacheHint: cacheHints.inventory,
  },
  nodeStatus: {
    title: 'Node status',
    description: 'One node: CPU, load, memory, swap, root disk, uptime, kernel and PVE version, and the guests and storages on it.',
    mimeType: 'application/json',
    annotations: { ...audience, priority: 0.7 },
    cacheHint: cacheHints.nodeStatus,
  },
  guestConfig: {
    title: 'Guest configuration',
    description: 'A VM\'s or container\'s configuration (as qm config / pct config shows it), with secrets such as the cloud-init password removed.',
    mimeType: 'application/json',
    annotations: { ...audience, priority: 0.6 },
    cacheHint: cacheHints.guestConfig,
  },
  history: {
    title: 'My command history (24 h)',
    description: 'The calls this client made through proxmox-mcp in the last 24 hours: tool, arguments (secrets redacted), mode, outcome, duration, task ids.',
    mimeType: 'application/json',
    annotations: { ...audience, priority: 0.5 },
    cacheHint: cacheHints.history,
  },
  bestPractices: {
    title: 'Proxmox best practices',
    description: 'A best-practice topic: why, how (with commands), common mistakes, and the checks the best_practices tool can run.',
    mimeType: 'text/markdown',
    annotations: { ...audience, priority: 0.4 },
    cacheHint: cacheHints.bestPractices,
  },
} satisfies Record<string, Meta>;

function first(value: string | string[] | undefined): string {
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

function startsWith(prefix: string) {
  const lower = prefix.toLowerCase();
  return (candidate: string) => candidate.toLowerCase().startsWith(lower);
}

interface Prebuilt {
  nodes: ResourceTemplate;
  guests: ResourceTemplate;
  topics: ResourceTemplate;
}

const prebuilt = new WeakMap<Runtime, Prebuilt>();

/**
 * Templates with their list and completion callbacks, once per runtime. Lists and completions name
 * nodes, guests and topics only (what the inventory shows every client); a Proxmox that cannot be
 * reached gives an empty list rather than breaking resources/list as a whole.
 */
function build(runtime: Runtime): Prebuilt {
  const pve = lister(runtime);
  const safely = async <T>(what: string, produce: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await produce();
    } catch (error) {
      runtime.log.warn(`Could not list ${what} for MCP resources`, { error: (error as Error).message });
      return fallback;
    }
  };
  const completeNode = async (value: string) => safely('nodes', async () => (await nodeNames(pve)).filter(startsWith(value)).slice(0, 100), []);
  const guestsOn = async (node?: string) => (await pve.clusterResources('vm')).filter((row) => row.vmid !== undefined && row.node && (!node || row.node === node));

  const nodes = new ResourceTemplate(nodeStatusTemplate, {
    list: async (): Promise<ListResourcesResult> =>
      safely('nodes', async () => ({
        resources: (await nodeNames(pve)).map((node) => ({
          uri: nodeStatusUri(node),
          name: `node-${node}-status`,
          title: `Node ${node} status`,
          description: `Live status of node ${node} and what runs there.`,
          mimeType: 'application/json',
        })),
      }), { resources: [] }),
    complete: { node: completeNode },
  });

  const guests = new ResourceTemplate(guestConfigTemplate, {
    list: async (): Promise<ListResourcesResult> =>
      safely('guests', async () => ({
        resources: (await guestsOn())
          .sort((a, b) => Number(a.vmid) - Number(b.vmid))
          .map((row) => {
            const kind = row.type === 'lxc' ? 'Container' : row.template ? 'VM template' : 'VM';
            return {
              uri: guestConfigUri(String(row.node), Number(row.vmid)),
              name: `guest-${row.vmid}-config`,
              title: `${kind} ${row.vmid}${row.name ? ` ${row.name}` : ''} config`,
              description: `Configuration of ${kind.toLowerCase()} ${row.vmid}${row.name ? ` (${row.name})` : ''} on ${row.node}.`,
              mimeType: 'application/json',
            };
          }),
      }), { resources: [] }),
    complete: {
      node: completeNode,
      vmid: async (value, context) =>
        safely('guests', async () => {
          const node = context?.arguments?.node;
          return (await guestsOn(node || undefined))
            .map((row) => String(row.vmid))
            .filter((id) => id.startsWith(value))
            .sort((a, b) => Number(a) - Number(b))
            .slice(0, 100);
        }, []),
    },
  });

  const topics = new ResourceTemplate(bestPracticesTemplate, {
    list: async (): Promise<ListResourcesResult> => ({
      resources: (runtime.services.knowledge?.topics() ?? []).map((topic) => ({
        uri: bestPracticesUri(topic.id),
        name: `best-practices-${topic.id}`,
        title: `Best practices: ${topic.title}`,
        description: topic.summary,
        mimeType: 'text/markdown',
      })),
    }),
    complete: {
      topic: (value) => (runtime.services.knowledge?.topics() ?? []).map((topic) => topic.id).filter(startsWith(value)),
    },
  });

  return { nodes, guests, topics };
}

function prebuiltFor(runtime: Runtime): Prebuilt {
  let built = prebuilt.get(runtime);
  if (!built) {
    built = build(runtime);
    prebuilt.set(runtime, built);
  }
  return built;
}

/** The resources extension: registers every resource on a per-request server, reads bound to the caller. */
export function registerResources(server: McpServer, runtime: Runtime, caller: Caller | undefined): void {
  const { nodes, guests, topics } = prebuiltFor(runtime);
  const reader = (ctx: ServerContext) => readerFor(runtime, callerOf(ctx, caller));

  server.registerResource('cluster-inventory', inventoryUri, meta.inventory, (uri, ctx) =>
    reading(uri, async () => jsonResource(uri, await readInventory(reader(ctx)))),
  );
  server.registerResource('node-status', nodes, meta.nodeStatus, (uri, variables: Variables, ctx) =>
    reading(uri, async () => jsonResource(uri, await readNodeStatus(reader(ctx), parseNode(first(variables.node))))),
  );
  server.registerResource('guest-config', guests, meta.guestConfig, (uri, variables: Variables, ctx) =>
    reading(uri, async () => {
      const node = parseNode(first(variables.node));
      const vmid = parseVmid(first(variables.vmid));
      return jsonResource(uri, await readGuestConfig(reader(ctx), node, vmid));
    }),
  );
  server.registerResource('my-history', historyUri, meta.history, (uri, ctx) =>
    reading(uri, async () => jsonResource(uri, await readHistory(runtime.store, callerOf(ctx, caller)))),
  );
  server.registerResource('best-practices', topics, meta.bestPractices, (uri, variables: Variables) =>
    reading(uri, async () => markdownResource(uri, readTopic(runtime.services.knowledge, decodeURIComponent(first(variables.topic))))),
  );
  // Metrics charts as PNG (issue 17): a template only, never listed (one per guest, timeframe and metric).
  server.registerResource('metrics-chart', new ResourceTemplate(metricsChartTemplate, { list: undefined }), meta.metricsChart, (uri, variables: Variables, ctx) =>
    reading(uri, async () => readMetricsChart(reader(ctx), String(uri), { kind: first(variables.kind), id: first(variables.id), timeframe: first(variables.timeframe), metric: first(variables.metric) })),
  );
  pageResourceList(server, [
    { uri: inventoryUri, name: 'cluster-inventory', ...meta.inventory },
    { uri: historyUri, name: 'my-history', ...meta.history },
  ], [
    { template: nodes, metadata: meta.nodeStatus },
    { template: topics, metadata: meta.bestPractices },
    { template: guests, metadata: meta.guestConfig },
  ]);
}

/** resources/list pages of this many; a cluster of 2,000 guests lists one page at a time (issue 15). */
export const resourcePageSize = 100;

/**
 * resources/list with a cursor (the SDK's own handler lists everything at once): the fixed resources,
 * then each node, topic and guest, `resourcePageSize` at a time; nextCursor names the next page.
 */
function pageResourceList(server: McpServer, fixed: Record<string, unknown>[], templates: { template: ResourceTemplate; metadata: Record<string, unknown> }[]): void {
  server.server.removeRequestHandler('resources/list');
  server.server.setRequestHandler('resources/list', async (request, ctx) => {
    const cursor = request.params?.cursor;
    const offset = cursor === undefined ? 0 : /^\d{1,9}$/.test(cursor) ? Number(cursor) : Number.NaN;
    if (!Number.isFinite(offset)) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Cursor ${String(cursor).slice(0, 32)} is not one this server gave; list again without a cursor.`);
    const all: Record<string, unknown>[] = [...fixed];
    for (const { template, metadata } of templates) {
      if (all.length > offset + resourcePageSize) break; // the page is full: later lists are not read
      const listed = template.listCallback ? await template.listCallback(ctx) : { resources: [] };
      for (const resource of listed.resources) all.push({ ...metadata, ...resource });
    }
    const page = all.slice(offset, offset + resourcePageSize);
    const more = all.length > offset + resourcePageSize;
    return { resources: page, ...(more ? { nextCursor: String(offset + resourcePageSize) } : {}) } as never;
  });
}
