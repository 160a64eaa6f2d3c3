/**
 * A viewer client token only reads, whichever tool sends the request: no change and no GET that hands
 * out guest or backup contents (sensitive-reads.ts) reaches Proxmox for it.
 */
import { ToolError } from '../../errors.ts';
import { currentCaller } from '../caller-scope.ts';
import type { NormalizedRequest } from '../normalize.ts';
import type { PolicyRule, ProtectionContext } from './common.ts';

function check(req: NormalizedRequest, ctx: ProtectionContext): void {
  const caller = ctx.caller ?? currentCaller();
  if (caller?.role !== 'viewer') return;
  throw new ToolError('forbidden', `${req.method} /${req.segments.join('/')} is not a plain read, and this client token (${caller.name}) is a viewer, which only reads. Nothing was sent.`, {
    suggestions: ['Use an operator or admin client token for changes.'],
  });
}

export const viewerReadsRule: PolicyRule = { name: 'viewers only read', check };
