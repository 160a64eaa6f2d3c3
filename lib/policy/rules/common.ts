/** What every API rule shares: the refusal, the context, and the cluster look-ups that fail closed. */
import { ToolError } from '../../errors.ts';
import type { ClusterResource, PveClient } from '../../pve/types.ts';
import type { PolicyCaller } from '../caller-scope.ts';
import type { ServiceIdentity } from '../identity.ts';
import { isTrue, type NormalizedRequest } from '../normalize.ts';

export const protectedUser = 'root@pam';

export interface ProtectionContext {
  /** Resolved lazily: MCP_MAIN_NODE or the node /cluster/status marks `local`. */
  mainNode: () => Promise<string | undefined>;
  /** e.g. proxmox-mcp@pve!mcp */
  serviceTokenId: string;
  /** Reads the cluster for the rules (guest configs, snapshots, ACLs). */
  pve: PveClient;
  /** Who sends the request; when absent, the caller of the running tool call (caller-scope.ts). */
  caller?: PolicyCaller;
  /** This server's identity in Proxmox; when absent, learned through `pve` (identity.ts). */
  identity?: () => Promise<ServiceIdentity>;
}

export interface PolicyRule {
  /** Short name, used in tests and docs. */
  name: string;
  /** Throws a `protected` (or `forbidden`) ToolError to refuse; returns to let the request through. */
  check(req: NormalizedRequest, ctx: ProtectionContext): void | Promise<void>;
}

export function refuse(message: string): never {
  throw new ToolError('protected', message, { suggestions: ['This protection holds in every mode; do it by hand on the host if it is really meant.'] });
}

/** A guest id as Proxmox would read it from a path segment or parameter, or undefined if it is none. */
export function vmidOf(text: string): number | undefined {
  const match = /^\s*\+?0*(\d{1,12})\s*$/.exec(text);
  return match ? Number(match[1]) : undefined;
}

export type GuestProtection = { exists: false } | { exists: true; protectedFlag: boolean; node: string; type: string };

/** Where a guest really is (by id, whatever node the path names) and its protection flag, read fresh. */
export async function guestProtection(vmid: number, ctx: ProtectionContext): Promise<GuestProtection> {
  let resources: ClusterResource[];
  try {
    resources = await ctx.pve.clusterResources('vm', { fresh: true });
  } catch (error) {
    refuse(`Could not check whether guest ${vmid} is protected (${(error as Error).message}); nothing was sent. Try again when the cluster answers.`);
  }
  const found = resources.find((row) => (row.type === 'qemu' || row.type === 'lxc') && Number(row.vmid) === vmid);
  if (!found || !found.node) return { exists: false };
  let config: Record<string, unknown>;
  try {
    config = await ctx.pve.get<Record<string, unknown>>(`/nodes/${found.node}/${found.type}/${vmid}/config`);
  } catch (error) {
    refuse(`Could not read the configuration of guest ${vmid} to check its protection flag (${(error as Error).message}); nothing was sent.`);
  }
  return { exists: true, protectedFlag: flagSet(config?.protection), node: found.node, type: String(found.type) };
}

export function flagSet(flag: unknown): boolean {
  return flag === 1 || flag === true || (typeof flag === 'string' && isTrue(flag));
}

/** True unless every reading of a boolean parameter is clearly false (absent: false). */
export function maybeTrue(readings: string[]): boolean {
  return readings.some((value) => !['0', 'false', 'no', 'off'].includes(value));
}
