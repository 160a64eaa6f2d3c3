/**
 * Protections no mode lifts, judged on every Proxmox request after normalisation (normalize.ts), so they
 * hold for the typed tools and for proxmox_api alike:
 *  - root@pam cannot be modified, disabled, deleted, or have its password, tokens or ACLs changed;
 *  - the main node cannot be removed from the cluster;
 *  - the server's own Proxmox user and token cannot be deleted, disabled or stripped of their ACLs;
 *  - guests with the Proxmox `protection` flag are not destroyed, and the flag is not removed.
 */
import { ToolError } from '../errors.ts';
import type { PveClient } from '../pve/types.ts';
import { normalizeRequest, type NormalizedRequest } from './normalize.ts';

export const protectedUser = 'root@pam';

export interface ProtectionContext {
  /** Resolved lazily: MCP_MAIN_NODE or the node /cluster/status marks `local`. */
  mainNode: () => Promise<string | undefined>;
  /** e.g. proxmox-mcp@pve!mcp */
  serviceTokenId: string;
  /** Reads guest config to see the protection flag (the unguarded client). */
  pve: PveClient;
}

function refuse(message: string): never {
  throw new ToolError('protected', message, { suggestions: ['This protection holds in every mode; do it by hand on the host if it is really meant.'] });
}

const mentions = (values: string[] | undefined, needle: string) => (values ?? []).some((value) => value.split(/[,;\s]+/).some((part) => part === needle || part.startsWith(needle + '!')));

function checkRootPam(req: NormalizedRequest): void {
  const [first, second, third] = req.segments;
  if (first !== 'access') return;
  if (second === 'users' && third === protectedUser) refuse('root@pam is protected: it cannot be modified, disabled, deleted, or have its tokens changed through this server.');
  if (second === 'password' && mentions(req.params.userid, protectedUser)) refuse('The password of root@pam is protected and cannot be changed through this server.');
  if (second === 'tfa' && third === protectedUser) refuse('The second factors of root@pam are protected.');
  if (second === 'acl' && (mentions(req.params.users, protectedUser) || mentions(req.params.tokens, protectedUser))) {
    refuse('ACLs of root@pam (and its tokens) are protected and cannot be changed through this server.');
  }
  if (second === 'groups' && mentions(req.params.users, protectedUser)) refuse('Group membership of root@pam is protected.');
}

async function checkMainNode(req: NormalizedRequest, ctx: ProtectionContext): Promise<void> {
  const [first, second, third, node] = req.segments;
  if (first === 'cluster' && second === 'config' && third === 'nodes' && node && req.method === 'DELETE') {
    const main = (await ctx.mainNode())?.toLowerCase();
    if (!main || node === main) refuse(`Node ${node} is the main node of this cluster (the one this server runs on) and cannot be removed from the cluster.`);
  }
}

function checkServiceIdentity(req: NormalizedRequest, ctx: ProtectionContext): void {
  const tokenId = ctx.serviceTokenId.toLowerCase();
  const [user, tokenName] = tokenId.split('!');
  const [first, second, third, fourth, fifth] = req.segments;
  if (first !== 'access') return;
  if (second === 'users' && third === user) {
    if (req.method === 'DELETE' && !fourth) refuse(`${user} is this server's own Proxmox user; deleting it would cut the server off. Uninstall with ./setup.sh --uninstall instead.`);
    if (req.method === 'PUT' && !fourth && (req.params.enable?.includes('0') || req.params.expire !== undefined)) refuse(`${user} is this server's own Proxmox user and cannot be disabled or given an expiry through it.`);
    if (fourth === 'token' && fifth === tokenName && req.method !== 'GET') refuse(`${tokenId} is the token this server uses; it cannot be deleted or changed through the server itself.`);
  }
  if (second === 'acl' && req.params.delete?.some((value) => value === '1' || value === 'true') && (mentions(req.params.tokens, tokenId) || mentions(req.params.users, user))) {
    refuse(`Removing ACLs of ${tokenId} would strip this server of its own access; change them on the host if that is meant.`);
  }
}

const guestPath = /^\/nodes\/[^/]+\/(qemu|lxc)\/(\d+)(\/config)?$/;

async function checkProtectedGuest(req: NormalizedRequest, ctx: ProtectionContext): Promise<void> {
  const match = guestPath.exec(req.path);
  if (!match) return;
  const [, , vmidText, configPart] = match;
  const vmid = Number(vmidText);
  const destroying = req.method === 'DELETE' && !configPart;
  const clearing =
    configPart !== undefined && (req.method === 'PUT' || req.method === 'POST') &&
    (req.params.protection?.some((value) => value === '0' || value === 'false') || req.params.delete?.some((value) => value.split(/[,;\s]+/).includes('protection')));
  if (!destroying && !clearing) return;
  const segments = req.path.split('/');
  const config = await ctx.pve.get<Record<string, unknown>>(`/nodes/${segments[2]}/${segments[3]}/${vmid}/config`).catch(() => undefined);
  const flag = config?.protection;
  if (flag === 1 || flag === '1' || flag === true) {
    refuse(
      destroying
        ? `Guest ${vmid} has the Proxmox protection flag set and will not be destroyed. If it really must go, clear the flag on the host first (\`qm set ${vmid} --protection 0\`).`
        : `Guest ${vmid} is protected; its protection flag cannot be removed through this server.`,
    );
  }
}

export async function checkProtections(method: string, path: string, params: Record<string, unknown> | undefined, ctx: ProtectionContext): Promise<void> {
  const req = normalizeRequest(method, path, params ?? {});
  if (req.method === 'GET') return;
  checkRootPam(req);
  checkServiceIdentity(req, ctx);
  await checkMainNode(req, ctx);
  await checkProtectedGuest(req, ctx);
}

/** The main node: MCP_MAIN_NODE, else the node /cluster/status marks as local, looked up once. */
export function mainNodeResolver(pve: PveClient, configured?: string): () => Promise<string | undefined> {
  let cached: Promise<string | undefined> | undefined = configured ? Promise.resolve(configured) : undefined;
  return () => {
    cached ??= pve
      .get<{ type: string; name?: string; local?: number | string }[]>('/cluster/status')
      .then((entries) => entries.find((entry) => entry.type === 'node' && Number(entry.local) === 1)?.name)
      .catch(() => {
        cached = undefined;
        return undefined;
      });
    return cached;
  };
}
