import { z } from 'zod';
import { defineTool, type Plan, type PlannedRequest, type ToolContext } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { storageId } from '../lib/schemas.ts';
import { storageEntries } from '../lib/cluster/storage.ts';
import { finishTask, taskResultSchema } from '../lib/task-result.ts';

const actions = ['protect', 'unprotect', 'notes', 'prune'] as const;
type Input = { action: (typeof actions)[number]; storage: string; volume?: string; notes?: string; vmid?: number; keep?: string; dry_run: boolean; wait: boolean };

/** A node that sees the storage (any online one for a shared storage such as PBS). */
async function nodeFor(ctx: ToolContext, storage: string): Promise<string> {
  const entries = (await storageEntries(ctx)).filter((e) => e.storage === storage);
  if (!entries.length) {
    const all = [...new Set((await storageEntries(ctx)).filter((e) => e.content.includes('backup')).map((e) => e.storage))].sort();
    throw new ToolError('not_found', `Storage '${storage}' does not exist. Backup storages: ${all.join(', ') || 'none'}.`);
  }
  const usable = entries.find((e) => e.status === 'available' && e.content.includes('backup'));
  if (!usable) throw new ToolError(entries.some((e) => e.content.includes('backup')) ? 'unavailable' : 'invalid_input', entries.some((e) => e.content.includes('backup')) ? `Storage '${storage}' is not available on any online node.` : `Storage '${storage}' holds no backups (content: ${entries[0].content.join(', ')}).`);
  return usable.node;
}

async function plan(input: Input, ctx: ToolContext): Promise<{ request: PlannedRequest; summary: string; cli: string; node: string }> {
  const node = await nodeFor(ctx, input.storage);
  const base = `/nodes/${encodeURIComponent(node)}/storage/${encodeURIComponent(input.storage)}`;
  if (input.action === 'prune') {
    const params: Record<string, unknown> = { ...(input.keep ? { 'prune-backups': input.keep } : {}), ...(input.vmid !== undefined ? { vmid: input.vmid } : {}) };
    return { request: { method: input.dry_run ? 'GET' : 'DELETE', path: `${base}/prunebackups`, params }, summary: `${input.dry_run ? 'Show what pruning would remove' : 'Prune backups'} on ${input.storage}${input.vmid !== undefined ? ` of guest ${input.vmid}` : ''} with ${input.keep ?? 'the storage\'s retention'} (protected backups are kept)`, cli: `pvesm prune-backups ${input.storage}${input.keep ? ` --prune-backups ${input.keep}` : ''}${input.vmid !== undefined ? ` --vmid ${input.vmid}` : ''}${input.dry_run ? ' --dry-run' : ''}`, node };
  }
  if (!input.volume) throw new ToolError('invalid_input', `${input.action} needs volume (a backup volume id from guest_backup_list).`);
  const volid = input.volume.includes(':') ? input.volume : `${input.storage}:${input.volume}`;
  if (!volid.startsWith(`${input.storage}:`)) throw new ToolError('invalid_input', `Volume ${volid} is not on storage ${input.storage}.`);
  const path = `${base}/content/${encodeURIComponent(volid)}`;
  if (input.action === 'notes') {
    if (input.notes === undefined) throw new ToolError('invalid_input', 'notes needs notes (an empty string clears them).');
    return { request: { method: 'PUT', path, params: { notes: input.notes } }, summary: `Set the notes of ${volid}`, cli: `pvesh set ${base}/content/${volid} --notes '...'`, node };
  }
  const on = input.action === 'protect';
  return { request: { method: 'PUT', path, params: { protected: on ? 1 : 0 } }, summary: `${on ? 'Protect' : 'Unprotect'} backup ${volid}${on ? ' (prune and delete keep it)' : ' (prune and delete may remove it)'}`, cli: `pvesh set ${base}/content/${volid} --protected ${on ? 1 : 0}`, node };
}

export default defineTool({
  name: 'backup_manage',
  title: 'Backups: protect, notes, prune',
  description: 'Manage backups on any backup storage (Proxmox Backup Server included): protect or unprotect one, set its notes, or prune by retention (dry_run first, the default; protected backups are always kept). Listing: guest_backup_list.',
  toolset: 'backups',
  input: z.object({
    action: z.enum(actions).describe('protect | unprotect | notes | prune'),
    storage: storageId.describe('The backup storage'),
    volume: z.string().min(3).max(512).optional().describe('protect, unprotect, notes: the backup volume id'),
    notes: z.string().max(4096).optional().describe('notes: the text (empty clears)'),
    vmid: z.coerce.number().int().min(100).max(999999999).optional().describe('prune: only this guest\'s backups'),
    keep: z.string().regex(/^(keep-(all|last|hourly|daily|weekly|monthly|yearly)=\d{1,4})(,keep-(all|last|hourly|daily|weekly|monthly|yearly)=\d{1,4})*$/).optional().describe('prune: retention such as keep-daily=7,keep-weekly=4 (default: the storage\'s)'),
    dry_run: z.boolean().default(true).describe('prune: only show the marks (default true)'),
    wait: z.boolean().default(true).describe('prune: wait for the task'),
  }),
  output: z.object({
    action: z.enum(actions),
    sent: z.string(),
    marks: z.array(z.object({ volid: z.string(), mark: z.string(), vmid: z.number().optional(), ctime: z.number().optional() })).optional().describe('prune: keep, remove or protected per backup'),
    task: taskResultSchema.optional(),
  }),
  effect: 'destructive',
  effectOf: (input) => (input.action === 'prune' ? (input.dry_run ? 'read' : 'destructive') : input.action === 'unprotect' ? 'destructive' : 'write'),
  idempotent: false,
  roles: ['admin', 'operator', 'viewer'],
  changeRoles: ['admin', 'operator'],
  privileges: (input) => [{ path: `/storage/${input.storage}`, privileges: input.action === 'prune' && input.dry_run ? ['Datastore.Audit'] : ['Datastore.Allocate'] }],
  async explain(input, ctx): Promise<Plan> {
    const p = await plan(input as Input, ctx);
    return {
      summary: p.summary,
      ...(p.request.method === 'GET' ? {} : { requests: [p.request] }),
      apiCalls: [`${p.request.method} ${p.request.path}`],
      cliEquivalent: p.cli,
      privileges: [{ path: `/storage/${input.storage}`, privileges: input.action === 'prune' && input.dry_run ? ['Datastore.Audit'] : ['Datastore.Allocate'] }],
      risk: input.action === 'prune' && !input.dry_run ? 'high' : input.action === 'unprotect' ? 'medium' : input.action === 'prune' ? 'none' : 'low',
      reversible: !(input.action === 'prune' && !input.dry_run),
      ...(input.action === 'prune' && !input.dry_run ? { warnings: ['Pruned backups are gone for good; run with dry_run first to see the marks.'] } : {}),
    };
  },
  async run(input, ctx) {
    const p = await plan(input as Input, ctx);
    const answer = await ctx.pve.request(p.request.method, p.request.path, p.request.params as never, { signal: ctx.signal });
    const sent = `${p.request.method} ${p.request.path}`;
    if (input.action === 'prune' && input.dry_run) {
      const marks = ((answer ?? []) as { volid: string; mark: string; vmid?: number; ctime?: number }[]).map((m) => ({ volid: m.volid, mark: m.mark, ...(m.vmid !== undefined ? { vmid: Number(m.vmid) } : {}), ...(m.ctime !== undefined ? { ctime: Number(m.ctime) } : {}) }));
      const count = (mark: string) => marks.filter((m) => m.mark === mark).length;
      return { data: { action: input.action, sent, marks }, summary: `Prune dry run on ${input.storage}: ${count('remove')} would be removed, ${count('keep')} kept, ${count('protected')} protected`, cliEquivalent: p.cli };
    }
    if (input.action === 'prune') {
      const task = await finishTask(ctx, String(answer), { wait: input.wait, timeoutSeconds: 300, what: 'prune' });
      return { data: { action: input.action, sent, task }, summary: `${p.summary}: ${task.status === 'running' ? 'task running' : 'done'}`, cliEquivalent: p.cli, upids: [String(answer)] };
    }
    return { data: { action: input.action, sent }, summary: `${p.summary}: done`, cliEquivalent: p.cli };
  },
});
