/**
 * Protections no mode lifts, judged on every Proxmox request after normalisation (normalize.ts), so they
 * hold for the typed tools and for proxmox_api alike:
 *  - root@pam cannot be modified, disabled, deleted, or have its password, second factors, tokens,
 *    group membership or ACLs changed;
 *  - the main node cannot be removed from the cluster;
 *  - the server's own Proxmox user and token cannot be deleted, disabled, given an expiry or stripped of
 *    their ACLs;
 *  - guests with the Proxmox `protection` flag are not destroyed (nor overwritten by a forced restore),
 *    and the flag is not removed.
 * Every request is judged on each reading of its path (normalize.ts requestViews). When the answer
 * depends on the cluster (is this guest protected?) and the cluster cannot tell us, the request is
 * refused rather than waved through.
 */
import { ToolError } from '../errors.ts';
import type { ClusterResource, PveClient } from '../pve/types.ts';
import { isFalse, isTrue, requestViews, type NormalizedRequest } from './normalize.ts';

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

const listItems = (value: string) => value.split(/[,;\s]+/).filter(Boolean);
const mentions = (values: string[] | undefined, needle: string) =>
  (values ?? []).some((value) => listItems(value).some((part) => part === needle || part.startsWith(needle + '!')));

function checkRootPam(req: NormalizedRequest): void {
  const [first, second, third] = req.segments;
  if (first !== 'access') return;
  if (second === 'users' && third === protectedUser) refuse('root@pam is protected: it cannot be modified, disabled, deleted, or have its tokens changed through this server.');
  if (second === 'users' && !third && mentions(req.params.userid, protectedUser)) refuse('root@pam is protected and cannot be (re)created or changed through this server.');
  if (second === 'password' && mentions(req.params.userid, protectedUser)) refuse('The password of root@pam is protected and cannot be changed through this server.');
  if (second === 'tfa' && (third === protectedUser || mentions(req.params.userid, protectedUser))) refuse('The second factors of root@pam are protected.');
  if (second === 'acl' && (mentions(req.params.users, protectedUser) || mentions(req.params.tokens, protectedUser))) {
    refuse('ACLs of root@pam (and its tokens) are protected and cannot be changed through this server.');
  }
  if (second === 'groups' && mentions(req.params.users, protectedUser)) refuse('Group membership of root@pam is protected.');
}

async function checkMainNode(req: NormalizedRequest, ctx: ProtectionContext): Promise<void> {
  const [first, second, third, node] = req.segments;
  if (first === 'cluster' && second === 'config' && third === 'nodes' && node && req.method === 'DELETE') {
    const main = (await ctx.mainNode())?.toLowerCase();
    if (!main || node === main) {
      refuse(
        main
          ? `Node ${node} is the main node of this cluster (the one this server runs on) and cannot be removed from the cluster.`
          : `Node ${node} may be the main node of this cluster (the server could not tell which node is main), so it is not removed. Set MCP_MAIN_NODE to allow removing other nodes.`,
      );
    }
  }
}

function checkServiceIdentity(req: NormalizedRequest, ctx: ProtectionContext): void {
  const tokenId = ctx.serviceTokenId.toLowerCase();
  const [user, tokenName] = tokenId.split('!');
  const [first, second, third, fourth, fifth] = req.segments;
  if (first !== 'access') return;
  if (second === 'users' && third === user) {
    if (req.method === 'DELETE' && !fourth) refuse(`${user} is this server's own Proxmox user; deleting it would cut the server off. Uninstall with ./setup.sh --uninstall instead.`);
    if (req.method === 'PUT' && !fourth && (req.params.enable?.some(isFalse) || req.params.expire !== undefined)) {
      refuse(`${user} is this server's own Proxmox user and cannot be disabled or given an expiry through it.`);
    }
    if (fourth === 'token' && (fifth === tokenName || !fifth) && req.method !== 'GET') refuse(`${tokenId} is the token this server uses; it cannot be deleted or changed through the server itself.`);
  }
  if (second === 'acl' && (mentions(req.params.tokens, tokenId) || mentions(req.params.users, user))) {
    if (req.params.delete?.some(isTrue)) refuse(`Removing ACLs of ${tokenId} would strip this server of its own access; change them on the host if that is meant.`);
    if (req.params.roles?.some((value) => listItems(value).includes('noaccess'))) refuse(`Granting NoAccess to ${tokenId} would strip this server of its own access.`);
  }
}

const guestPath = /^\/nodes\/[^/]+\/(qemu|lxc)\/([^/]+)(\/config)?$/;
const createPath = /^\/nodes\/[^/]+\/(qemu|lxc)$/;

/** Where a guest really is (by id, whatever node the path names), read fresh from the cluster. */
async function guestProtection(vmid: number, ctx: ProtectionContext): Promise<{ exists: false } | { exists: true; protectedFlag: boolean; node: string; type: string }> {
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
  const flag = config?.protection;
  return { exists: true, protectedFlag: flag === 1 || flag === true || (typeof flag === 'string' && isTrue(flag)), node: found.node, type: String(found.type) };
}

async function checkProtectedGuest(req: NormalizedRequest, ctx: ProtectionContext): Promise<void> {
  const match = guestPath.exec(req.path);
  if (match) {
    const [, type, vmidText, configPart] = match;
    if (!/^\d+$/.test(vmidText)) return;
    const vmid = Number(vmidText);
    const destroying = req.method === 'DELETE' && !configPart;
    const clearing =
      configPart !== undefined &&
      (req.method === 'PUT' || req.method === 'POST') &&
      (req.params.protection?.some((value) => !isTrue(value)) || req.params.delete?.some((value) => listItems(value).includes('protection')) || req.params.revert?.some((value) => listItems(value).includes('protection')));
    if (!destroying && !clearing) return;
    const guest = await guestProtection(vmid, ctx);
    if (guest.exists && guest.protectedFlag) {
      refuse(
        destroying
          ? `Guest ${vmid} has the Proxmox protection flag set and will not be destroyed. If it really must go, clear the flag on the host first (\`${type === 'lxc' ? 'pct' : 'qm'} set ${vmid} --protection 0\`).`
          : `Guest ${vmid} is protected; its protection flag cannot be removed through this server.`,
      );
    }
    return;
  }
  // A forced restore (POST /nodes/{node}/qemu with vmid, archive and force=1) overwrites the guest.
  if (req.method === 'POST' && createPath.test(req.path) && req.params.force?.some(isTrue)) {
    for (const text of req.params.vmid ?? []) {
      if (!/^\d+$/.test(text)) continue;
      const guest = await guestProtection(Number(text), ctx);
      if (guest.exists && guest.protectedFlag) refuse(`Guest ${text} is protected; a forced restore would overwrite it, so it is not sent.`);
    }
  }
}

export async function checkProtections(method: string, path: string, params: Record<string, unknown> | undefined, ctx: ProtectionContext): Promise<void> {
  if (method.toUpperCase() === 'GET') return;
  for (const req of requestViews(method, path, params ?? {})) {
    checkRootPam(req);
    checkServiceIdentity(req, ctx);
    await checkMainNode(req, ctx);
    await checkProtectedGuest(req, ctx);
  }
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
