/**
 * Guest listings from ONE /cluster/resources?type=vm call, whatever the cluster size (never one call per
 * node): filters, a sort, pages and field selection, rows shaped for people and agents, and offline
 * nodes reported as warnings (their guests show status `unknown`), never as an error. A node or pool
 * filter that names nothing in the cluster is an error listing the real ones, not an empty success.
 */
import { z } from 'zod';
import { ToolError } from '../errors.ts';
import { nodeName } from '../schemas.ts';
import type { ClusterResource, GuestType, PveClient } from '../pve/types.ts';
import { closestNames } from '../runtime/strict-input.ts';
import { pageLine, pageShape, paginate } from '../cluster/paging.ts';
import { splitTags, tagMatcher, textMatcher } from './props.ts';
import type { GuestKind } from './kinds.ts';

const columns = ['vmid', 'name', 'node', 'status', 'cpu_percent', 'maxcpu', 'mem', 'maxmem', 'disk', 'maxdisk', 'uptime', 'tags', 'pool', 'template', 'lock', 'hastate'];
const sortable = columns.filter((column) => column !== 'tags');
const sortAliases: Record<string, string> = { cpu: 'cpu_percent', memory: 'mem', ram: 'mem', id: 'vmid', cores: 'maxcpu', ha: 'hastate' };

export const listInput = z.object({
  node: nodeName.optional().describe('Only this node'),
  status: z.enum(['running', 'stopped', 'unknown']).optional().describe('unknown: node offline'),
  name: z.string().min(1).max(128).optional().describe('Substring or glob'),
  tag: z.string().min(1).max(128).optional().describe('Tag or glob'),
  pool: z.string().min(1).max(128).optional(),
  templates: z.enum(['include', 'exclude', 'only']).default('include'),
  ...pageShape({ defaultLimit: 100, maxLimit: 10000, sortable: ['vmid', 'name', 'node', 'status', 'cpu', 'mem', 'maxmem', 'disk', 'maxdisk', 'uptime', 'pool'], defaultSort: 'vmid' }),
});

export type ListInput = z.output<typeof listInput>;

export const guestRowSchema = z.object({
  vmid: z.number(),
  name: z.string().optional(),
  node: z.string(),
  status: z.string(),
  cpu_percent: z.number().optional().describe('CPU use in percent of the guest\'s cores'),
  maxcpu: z.number().optional(),
  mem: z.number().optional().describe('bytes'),
  maxmem: z.number().optional().describe('bytes'),
  disk: z.number().optional().describe('bytes'),
  maxdisk: z.number().optional().describe('bytes'),
  uptime: z.number().optional().describe('seconds'),
  tags: z.array(z.string()),
  pool: z.string().optional(),
  template: z.boolean(),
  lock: z.string().optional(),
  hastate: z.string().optional(),
});

export type GuestRow = z.output<typeof guestRowSchema>;

export const listOutput = z.object({
  total: z.number().describe('How many guests matched the filters'),
  returned: z.number(),
  truncated: z.boolean().describe('More pages follow'),
  next_cursor: z.string().nullable().describe('cursor for the next page; null on the last'),
  counts: z.object({ running: z.number(), stopped: z.number(), other: z.number(), templates: z.number() }),
  offline_nodes: z.array(z.string()).describe('Nodes that did not answer; their guests have status unknown'),
  guests: z.array(guestRowSchema.partial().extend({ vmid: z.number() })).describe('The page, sorted; only the fields asked for (vmid always)'),
});

export type ListOutput = z.output<typeof listOutput>;

function rowOf(resource: ClusterResource): GuestRow {
  const round = (value: number) => Math.round(value * 10) / 10;
  const status = typeof resource.status === 'string' ? resource.status : 'unknown';
  const row: GuestRow = {
    vmid: Number(resource.vmid),
    name: typeof resource.name === 'string' && resource.name !== '' ? resource.name : undefined,
    node: String(resource.node ?? ''),
    status,
    tags: splitTags(resource.tags),
    template: resource.template === true,
  };
  if (status !== 'unknown') {
    if (typeof resource.cpu === 'number') row.cpu_percent = round(resource.cpu * 100);
    if (typeof resource.maxcpu === 'number') row.maxcpu = resource.maxcpu;
    if (typeof resource.mem === 'number') row.mem = resource.mem;
    if (typeof resource.maxmem === 'number') row.maxmem = resource.maxmem;
    if (typeof resource.disk === 'number') row.disk = resource.disk;
    if (typeof resource.maxdisk === 'number') row.maxdisk = resource.maxdisk;
    if (typeof resource.uptime === 'number') row.uptime = resource.uptime;
  }
  if (typeof resource.pool === 'string' && resource.pool) row.pool = resource.pool;
  if (typeof resource.lock === 'string' && resource.lock) row.lock = resource.lock;
  if (typeof resource.hastate === 'string' && resource.hastate) row.hastate = resource.hastate;
  return row;
}

export interface Listing {
  data: ListOutput;
  warnings: string[];
  /** Which rows this page shows and how to get the next one. */
  page: string;
}

function notFound(what: 'Node' | 'Pool', name: string, known: string[]): ToolError {
  const near = closestNames(name, known);
  return new ToolError('not_found', `${what} '${name}' does not exist in this cluster${near.length ? ` (did you mean ${near.map((entry) => `'${entry}'`).join(' or ')}?)` : ''}. ${what}s: ${known.join(', ') || 'none'}.`, {
    details: { [what.toLowerCase()]: name, [`${what.toLowerCase()}s`]: known },
  });
}

/**
 * A node or pool filter must name something that exists: asked only when no guest matched it, so a
 * normal listing stays one request.
 */
async function checkFilters(pve: PveClient, resources: ClusterResource[], input: ListInput, signal?: AbortSignal): Promise<void> {
  if (input.node && !resources.some((resource) => resource.node === input.node)) {
    const nodes = (await pve.clusterResources('node', { signal }))
      .filter((row) => row.type === 'node')
      .map((row) => String(row.node ?? row.id.replace(/^node\//, '')))
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    if (nodes.length && !nodes.includes(input.node)) throw notFound('Node', input.node, nodes);
  }
  if (input.pool && !resources.some((resource) => resource.pool === input.pool)) {
    let pools: string[] = [];
    try {
      const rows = await pve.get<{ poolid: string }[]>('/pools', undefined, { signal });
      pools = rows.map((row) => row.poolid).sort();
    } catch {
      return; // the token may not list pools: an empty answer is then all we can say
    }
    if (!pools.includes(input.pool)) throw notFound('Pool', input.pool, pools);
  }
}

/** One request: GET /cluster/resources?type=vm (shared, briefly cached by the client). */
export async function listGuests(pve: PveClient, type: GuestType, kind: GuestKind, input: ListInput, signal?: AbortSignal): Promise<Listing> {
  const resources = await pve.clusterResources('vm', { signal });
  await checkFilters(pve, resources, input, signal);
  const all = resources.filter((resource) => resource.type === type && typeof resource.vmid === 'number');

  const offline = [...new Set(all.filter((resource) => resource.status === 'unknown').map((resource) => String(resource.node)))].sort();
  const nameMatches = input.name ? textMatcher(input.name) : undefined;
  const tagMatches = input.tag ? tagMatcher(input.tag) : undefined;

  const rows = all
    .map(rowOf)
    .filter((row) => !input.node || row.node === input.node)
    .filter((row) => !input.status || row.status === input.status)
    .filter((row) => !nameMatches || nameMatches(row.name))
    .filter((row) => !tagMatches || tagMatches(row.tags))
    .filter((row) => !input.pool || row.pool === input.pool)
    .filter((row) => (input.templates === 'include' ? true : input.templates === 'only' ? row.template : !row.template));

  const counts = { running: 0, stopped: 0, other: 0, templates: 0 };
  for (const row of rows) {
    if (row.template) counts.templates++;
    else if (row.status === 'running') counts.running++;
    else if (row.status === 'stopped') counts.stopped++;
    else counts.other++;
  }
  const page = paginate(rows, input, { sortable, tieBreak: ['vmid'], columns, key: ['vmid'], aliases: sortAliases });
  const warnings: string[] = [];
  for (const node of offline) {
    const affected = all.filter((resource) => resource.node === node).length;
    warnings.push(`Node ${node} is offline or unreachable: the state of its ${affected} ${affected === 1 ? kind.noun : `${kind.noun}s`} is unknown (status "unknown").`);
  }
  return {
    data: { total: page.total, returned: page.returned, truncated: page.next_cursor !== null, next_cursor: page.next_cursor, counts, offline_nodes: offline, guests: page.rows as ListOutput['guests'] },
    warnings,
    page: pageLine(page, input.cursor, input.sort, `${kind.noun}s`),
  };
}

export function listSummary(kind: GuestKind, data: ListOutput, page?: string): string {
  const plural = `${kind.noun}s`;
  const parts = [`${data.total} ${data.total === 1 ? kind.noun : plural}`];
  parts.push(`${data.counts.running} running, ${data.counts.stopped} stopped${data.counts.templates ? `, ${data.counts.templates} templates` : ''}${data.counts.other ? `, ${data.counts.other} unknown` : ''}`);
  if (data.offline_nodes.length) parts.push(`offline: ${data.offline_nodes.join(', ')}`);
  if (page) parts.push(page);
  return parts.join('; ');
}
