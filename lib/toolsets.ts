/**
 * Toolsets: groups of tools a token enables beyond the everyday 'core' set, so the default tools/list stays
 * within an agent's context budget. A token's toolsets are a setting (`toolsets:<token id>`), changed only on
 * the host: `npm run token -- toolsets NAME ha,metrics` ('all' enables every toolset, 'none' clears).
 * Toolsets decide what tools/list shows and what a token may call through every door (the REST door refuses
 * a tool outside them as MCP does, naming the command that enables it: lib/runtime/invoke.ts); they grant
 * nothing (the role, the mode and the API policy still decide every call).
 */
import type { SettingsRepo } from './store/settings.ts';

export const TOOLSETS = {
  ha: 'High availability: HA status, resources, groups (PVE 8) or rules (PVE 9), and changes through HA',
  metrics: 'Metrics history of nodes and guests (rrddata): summaries and PNG charts',
  firewall: 'Firewall: cluster, node, guest and SDN vnet rules and options, security groups, aliases, IP sets, the firewall log',
  infra: 'Ceph health, OSDs and pools; SDN zones, vnets, subnets and apply; storage replication jobs',
  backups: 'Backups on any backup storage (Proxmox Backup Server included): protect, notes, prune',
} as const;

export type Toolset = keyof typeof TOOLSETS;

export const settingsKeyForToolsets = (tokenId: string) => `toolsets:${tokenId}`;

export function isToolset(name: string): name is Toolset {
  return Object.prototype.hasOwnProperty.call(TOOLSETS, name);
}

/** The toolsets a token enabled (unknown names in the setting are ignored). */
export async function enabledToolsets(settings: SettingsRepo, tokenId: string): Promise<string[]> {
  const value = await settings.get<unknown>(settingsKeyForToolsets(tokenId));
  if (!Array.isArray(value)) return [];
  return value.filter((name): name is string => typeof name === 'string' && (name === 'all' || isToolset(name)));
}

/** Parse the CLI's list: names separated by commas; 'all' or 'none'. Throws with the known names otherwise. */
export function parseToolsetList(text: string): string[] {
  const names = text.split(',').map((name) => name.trim()).filter(Boolean);
  if (names.length === 1 && names[0] === 'none') return [];
  if (names.includes('all')) return ['all'];
  const bad = names.filter((name) => !isToolset(name));
  if (bad.length || !names.length) throw new Error(`unknown toolset ${bad.join(', ') || '(empty)'}; the toolsets are ${Object.keys(TOOLSETS).join(', ')}, all, none`);
  return [...new Set(names)];
}
