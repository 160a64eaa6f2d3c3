/**
 * Per-call role rules for tools that mix reads and changes (the runtime's `roles` is per tool): a viewer
 * token may use the read actions only; some changes are for admins (user_management). Checked first
 * thing in run(), before any Proxmox request.
 */
import { ToolError } from '../errors.ts';
import type { Effect, Role, ToolContext } from '../tool.ts';

export function requireRoleFor(ctx: ToolContext, tool: string, effect: Effect, changeRoles: Role[] = ['admin', 'operator']): void {
  if (effect === 'read') return;
  if (changeRoles.includes(ctx.caller.role)) return;
  throw new ToolError(
    'forbidden',
    `${tool}: this action changes the cluster and needs a client token with role ${changeRoles.join(' or ')}; this one (${ctx.caller.name}) is ${ctx.caller.role}. The read actions stay available.`,
  );
}
