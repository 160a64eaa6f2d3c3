/**
 * The one API policy: protections no mode lifts, judged on every Proxmox request after normalisation
 * (normalize.ts), whichever door it came through: the typed tools and proxmox_api (through the client
 * guard, guard.ts) and execute_command (command-guard.ts translates Proxmox CLI lines into the requests
 * they make and calls checkProtections for each).
 *
 * The rules are data: lib/policy/rules/index.ts lists them, one file each (root@pam, this server's own
 * identity, the main node and disks, protected guests, viewers only read, access changes need an admin).
 * Plain GETs are never judged; the few GETs that hand out guest or backup contents are (sensitive-reads.ts). Parameters are
 * judged as Proxmox parses them (split-list.ts, PVE booleans), never after cleaning. When the answer
 * depends on the cluster (is this guest protected? which roles does this server hold?) and the cluster
 * cannot tell, the request is refused rather than waved through.
 */
import type { PveClient } from '../pve/types.ts';
import { requestViews } from './normalize.ts';
import { isSensitiveRead } from './sensitive-reads.ts';
import { apiRules } from './rules/index.ts';
import type { ProtectionContext } from './rules/common.ts';

export { protectedUser, type ProtectionContext, type PolicyRule } from './rules/common.ts';

export async function checkProtections(method: string, path: string, params: Record<string, unknown> | undefined, ctx: ProtectionContext): Promise<void> {
  if (method.toUpperCase() === 'GET' && !isSensitiveRead(path)) return;
  for (const req of requestViews(method, path, params ?? {})) {
    for (const rule of apiRules) await rule.check(req, ctx);
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
