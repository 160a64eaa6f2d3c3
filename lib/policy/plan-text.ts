/**
 * A plan in words, for the people who must say yes: the confirmation prompt (MCP elicitation), the
 * `explanation` of a refused-until-confirmed call, and explain_command.
 */
import type { Plan } from '../tool.ts';

export function planText(plan: Plan): string {
  const lines = [plan.summary.replace(/\.?$/, '.')];
  lines.push(`Risk: ${plan.risk}. ${plan.reversible ? `Can be undone${plan.undo ? `: ${plan.undo}` : '.'}` : 'Cannot be undone.'}`);
  if (plan.apiCalls?.length) lines.push(`Proxmox calls: ${plan.apiCalls.join(', ')}`);
  if (plan.cliEquivalent) lines.push(`Same as on the host: ${plan.cliEquivalent}`);
  if (plan.warnings?.length) lines.push(`Warnings: ${plan.warnings.join(' ')}`);
  return lines.join('\n');
}

/** Warnings a change carries in normal mode (where nobody is asked first). */
export function normalModeWarnings(plan: Plan | undefined, effect: 'read' | 'write' | 'destructive'): string[] {
  if (!plan || effect === 'read') return [];
  const warnings = [...(plan.warnings ?? [])];
  if (effect === 'destructive' && !plan.reversible && warnings.length === 0) warnings.push(`${plan.summary}: this cannot be undone.`);
  return warnings;
}
