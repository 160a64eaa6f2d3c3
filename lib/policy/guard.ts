/**
 * The guard every Proxmox request of a call passes before it leaves the client: the caller's mode
 * (read-only sends no change at all, whatever the tool claims) and the API policy (protections.ts),
 * judged for this caller.
 */
import type { Config } from '../config.ts';
import { ToolError } from '../errors.ts';
import type { PveClient, PveRequestGuard } from '../pve/types.ts';
import type { Caller, Effect } from '../tool.ts';
import { serviceIdentity } from './identity.ts';
import { checkProtections, mainNodeResolver, type ProtectionContext } from './protections.ts';

export function createGuardFactory(deps: { config: Config; pve: PveClient }) {
  const mainNode = mainNodeResolver(deps.pve, deps.config.mainNode);
  const identity = () => serviceIdentity(deps.pve);
  // Learn the server's own roles and groups now, so the first /access change does not wait for it.
  identity().catch(() => undefined);
  const base: ProtectionContext = { mainNode, serviceTokenId: deps.pve.tokenId, pve: deps.pve, identity };
  return (caller: Caller, _effect: Effect): PveRequestGuard => {
    const context: ProtectionContext = { ...base, caller: { role: caller.role, name: caller.name } };
    return async (request) => {
      if (request.method !== 'GET' && caller.mode === 'read-only') {
        throw new ToolError('mode_denied', `Read-only mode: ${request.method} ${request.path} was not sent. Nothing was changed.`);
      }
      await checkProtections(request.method, request.path, request.params as Record<string, unknown> | undefined, context);
    };
  };
}
