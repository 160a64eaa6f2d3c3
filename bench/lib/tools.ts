/**
 * The read tools the targets are about, with the arguments the bench calls them with and the Proxmox
 * request a direct measurement of the simulator uses. Tools not served (yet) are skipped, and the
 * generic proxmox_api GET of the same endpoint stands in for list_vms so the harness runs anyway.
 */
import type { McpLoadClient } from './mcp.ts';
import type { CallSpec } from './load.ts';

export interface ReadTool extends CallSpec {
  /** Proxmox requests allowed per call (the target), and whether they must be issued in parallel. */
  maxRequests?: number;
  parallel?: boolean;
  /** The Proxmox GET its main answer comes from, for direct simulator timing. */
  direct?: string;
}

export const readTools: ReadTool[] = [
  { tool: 'list_vms', args: {}, maxRequests: 1, direct: '/cluster/resources?type=vm' },
  { tool: 'list_containers', args: {}, maxRequests: 1, direct: '/cluster/resources?type=vm' },
  { tool: 'vm_status', args: { vmid: 100 }, maxRequests: 3, direct: '/nodes/pve1/qemu/100/status/current' },
  { tool: 'get_system_info', args: {}, maxRequests: 4, parallel: true },
];

export const standIn: ReadTool = {
  tool: 'proxmox_api',
  args: { method: 'GET', path: '/cluster/resources', params: { type: 'vm' } },
  direct: '/cluster/resources?type=vm',
};

export async function servedTools(client: McpLoadClient): Promise<Set<string>> {
  const result = (await client.rpc('tools/list')) as { tools: { name: string }[] };
  return new Set(result.tools.map((tool) => tool.name));
}

/** The read tools this server has; when list_vms is missing, the stand-in takes its place. */
export function available(served: Set<string>): { tools: ReadTool[]; missing: string[]; primary: ReadTool } {
  const tools = readTools.filter((tool) => served.has(tool.tool));
  const missing = readTools.filter((tool) => !served.has(tool.tool)).map((tool) => tool.tool);
  const primary = tools.find((tool) => tool.tool === 'list_vms') ?? standIn;
  return { tools: tools.length ? tools : [standIn], missing, primary };
}
