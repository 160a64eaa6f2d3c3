/**
 * Node lookups the cluster tools share: which nodes exist (from the cached /cluster/resources), and an
 * early, friendly refusal for a node name that is not in the cluster or is offline, instead of
 * Proxmox's "hostname lookup failed" or "595 No route to host".
 */
import { ToolError } from '../errors.ts';
import type { ToolContext } from '../tool.ts';

export interface NodeSummary {
  node: string;
  status: string;
}

/** The cluster's nodes (online or not), sorted by name; empty when the token may not see them. */
export async function clusterNodes(ctx: ToolContext): Promise<NodeSummary[]> {
  const rows = await ctx.pve.clusterResources('node', { signal: ctx.signal });
  return rows
    .filter((row) => row.type === 'node')
    .map((row) => ({ node: String(row.node ?? row.id.replace(/^node\//, '')), status: String(row.status ?? 'unknown') }))
    .sort((a, b) => a.node.localeCompare(b.node, undefined, { numeric: true }));
}

/**
 * The node must be a member of the cluster (and, with `online`, reachable). When the token cannot list
 * nodes at all, the name is let through and Proxmox judges it.
 */
export async function requireNode(ctx: ToolContext, node: string, options: { online?: boolean } = {}): Promise<NodeSummary> {
  const nodes = await clusterNodes(ctx);
  if (nodes.length === 0) return { node, status: 'unknown' };
  const found = nodes.find((entry) => entry.node === node) ?? nodes.find((entry) => entry.node.toLowerCase() === node.toLowerCase());
  if (!found) {
    throw new ToolError('not_found', `Node '${node}' is not a member of this cluster. Nodes: ${nodes.map((entry) => `${entry.node} (${entry.status})`).join(', ')}.`, {
      details: { node, nodes: nodes.map((entry) => entry.node) },
      suggestions: ['Use one of the listed node names (node_status shows them all).'],
    });
  }
  if (options.online && found.status !== 'online') {
    throw new ToolError('unavailable', `Node '${found.node}' is ${found.status}, so it cannot answer. Bring it back (check \`pvecm status\` on another node) or use another node.`, {
      details: { node: found.node, status: found.status },
      suggestions: ['node_status shows which nodes are online.'],
    });
  }
  return found;
}

/** The node to act on: the one given, or the first online node (for cluster-wide objects). */
export async function pickNode(ctx: ToolContext, node: string | undefined): Promise<string> {
  if (node) return (await requireNode(ctx, node, { online: true })).node;
  const nodes = await clusterNodes(ctx);
  const online = nodes.find((entry) => entry.status === 'online');
  if (online) return online.node;
  if (nodes.length === 0) {
    throw new ToolError('invalid_input', 'Name the node (argument node): this token cannot list the cluster nodes.');
  }
  throw new ToolError('unavailable', `No node of the cluster is online (${nodes.map((entry) => `${entry.node}: ${entry.status}`).join(', ')}).`);
}
