/**
 * Which strength of yes a call needs (issue 13). Two strengths:
 *  - ask: a form elicitation the client shows its user (stops a model acting alone; an agent with the
 *    client token and a shell can answer it itself, so it is never proof);
 *  - proof: an approver's TOTP code on this server's approval page, or `npm run approve -- yes` on the
 *    host. Nothing the client token can send counts as proof.
 *
 * Defaults: safe mode: a change needs ask (proof when the client cannot ask), a destructive call proof;
 * normal mode: changes run with warnings; every mode: what a tool marks 'always'/'human' (raising a
 * mode, self_update, restore_config, risky shell features) needs proof. Per token, an admin may choose
 * more from the host CLI (`npm run token -- proof NAME destructive|changes`), never through a tool call.
 */
import type { ConfirmationPolicy, Effect, Mode } from '../tool.ts';

export type Strength = 'none' | 'ask' | 'proof';
export type ProofSetting = 'default' | 'destructive' | 'changes';
export const proofSettings: readonly ProofSetting[] = ['default', 'destructive', 'changes'];

export interface StrengthInput {
  policy: ConfirmationPolicy;
  effect: Effect;
  mode: Mode;
  proof: ProofSetting;
  /** The client can show its user a form elicitation now (current revision, advertised). */
  canAsk: boolean;
}

export interface StrengthDecision {
  strength: Strength;
  /** Why, in words for the person asked. */
  reason: string;
}

export function requiredStrength(input: StrengthInput): StrengthDecision {
  const { policy, effect, mode, proof, canAsk } = input;
  if (policy === 'none') return { strength: 'none', reason: 'no confirmation for this call' };
  if (policy === 'always' || policy === 'human') {
    return { strength: 'proof', reason: 'this action needs an approver\'s proof in every mode' };
  }
  if (effect === 'read') return { strength: 'none', reason: 'reads need no yes' };
  if (proof === 'changes') return { strength: 'proof', reason: 'an admin chose proof for every change of this client' };
  if (effect === 'destructive' && (mode === 'safe' || proof === 'destructive')) {
    return { strength: 'proof', reason: mode === 'safe' ? 'destructive calls need proof in safe mode' : 'an admin chose proof for destructive calls of this client' };
  }
  if (mode === 'safe') {
    return canAsk
      ? { strength: 'ask', reason: 'changes need the user\'s yes in safe mode' }
      : { strength: 'proof', reason: 'changes need a human yes in safe mode, and this client cannot ask its user' };
  }
  return { strength: 'none', reason: 'normal mode: changes run with warnings' };
}
