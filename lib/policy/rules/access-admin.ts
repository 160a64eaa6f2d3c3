/**
 * Who may change access control: any request under /access that is not a read (users, groups, roles,
 * ACLs, tokens, realms, second factors, passwords, tickets), and realm-sync jobs under /cluster/jobs,
 * need an admin client token, whichever tool
 * sends it (user_change, proxmox_api, or a pveum/pvesh line that execute_command translates). When the
 * caller is not known the request is refused.
 */
import { ToolError } from '../../errors.ts';
import { currentCaller } from '../caller-scope.ts';
import type { NormalizedRequest } from '../normalize.ts';
import type { PolicyRule, ProtectionContext } from './common.ts';

function check(req: NormalizedRequest, ctx: ProtectionContext): void {
  // Realm-sync jobs create, change and remove users and groups (remove-vanished), like /access/domains/{realm}/sync.
  const realmSyncJob = req.segments[0] === 'cluster' && req.segments[1] === 'jobs' && req.segments[2] === 'realm-sync';
  if ((req.segments[0] !== 'access' && !realmSyncJob) || req.method === 'GET') return;
  const caller = ctx.caller ?? currentCaller();
  if (caller?.role === 'admin') return;
  throw new ToolError(
    'forbidden',
    caller
      ? `${req.method} /${req.segments.join('/')} changes users, groups, roles, tokens or permissions and needs an admin client token; this one (${caller.name}) is ${caller.role}. Nothing was sent.`
      : `${req.method} /${req.segments.join('/')} changes access control and needs an admin client token, and the caller of this request is not known; nothing was sent.`,
    { suggestions: ['Ask an admin to make the change, or use an admin client token.'] },
  );
}

export const accessAdminRule: PolicyRule = { name: 'access needs admin', check };
