/**
 * The guard every Proxmox request of a call passes before it leaves the client: the caller's mode
 * (read-only sends no change at all, whatever the tool claims) and the API policy (protections.ts),
 * judged for this caller.
 */
import type { Config } from '../config.ts';
import { ToolError } from '../errors.ts';
import type { PveClient, PveRequestGuard } from '../pve/types.ts';
import type { Caller, Effect, ToolContext } from '../tool.ts';
import { serviceIdentity } from './identity.ts';
import { isSensitiveRead } from './sensitive-reads.ts';
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
      if ((request.method !== 'GET' || isSensitiveRead(request.path)) && caller.mode === 'read-only') {
        throw new ToolError('mode_denied', `Read-only mode: ${request.method} ${request.path} was not sent. Nothing was changed.`);
      }
      await checkProtections(request.method, request.path, request.params as Record<string, unknown> | undefined, context);
    };
  };
}

/**
 * The policy context for a handler that judges its requests early (before a confirmation is asked),
 * with the same rules the guard applies when they are sent.
 */
export function policyContextFor(ctx: Pick<ToolContext, 'pve' | 'config' | 'caller'>): ProtectionContext {
  return { mainNode: mainNodeResolver(ctx.pve, ctx.config.mainNode), serviceTokenId: ctx.pve.tokenId, pve: ctx.pve, caller: { role: ctx.caller.role, name: ctx.caller.name } };
}

/** Judge one request a handler is about to send; throws the policy's refusal. */
export async function judgeRequest(ctx: Pick<ToolContext, 'pve' | 'config' | 'caller'>, method: string, path: string, params?: Record<string, unknown>): Promise<void> {
  await checkProtections(method, path, params, policyContextFor(ctx));
}
