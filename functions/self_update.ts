import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { runSelfUpdate } from '../lib/self/update-service.ts';

const status = z.enum(['ok', 'rolled_back', 'failed', 'pending', 'up_to_date']);

export default defineTool({
  name: 'self_update',
  title: 'Update proxmox-mcp (admin)',
  description: 'Install a proxmox-mcp release (default the newest): backup, tag check, rebuild, restart, rollback when unhealthy. Needs an approver.',
  input: z.object({
    action: z.enum(['update'], { error: (issue) => (issue.input === 'status' ? 'status is check_updates now (a read): it reports the last update in last_update' : undefined) }).default('update'),
    target_tag: z.string().regex(/^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'must be a release tag such as v0.2.0').optional().describe('Default: the newest'),
    include_prereleases: z.boolean().default(false),
    allow_downgrade: z.boolean().default(false),
    wait_seconds: z.number().int().min(0).max(840).optional().describe('Container: wait for the host updater (default 600)'),
    backup_passphrase: z.string().min(12).max(1024).optional().describe('Back up the env file too, encrypted'),
  }),
  output: z.object({
    action: z.enum(['update']),
    status: status.nullable(),
    mode: z.enum(['container', 'local']),
    previous_version: z.string().optional(),
    target_tag: z.string().optional(),
    version: z.string().optional(),
    backup_file: z.string().optional(),
    request_id: z.string().optional(),
    restarting: z.boolean(),
    message: z.string(),
    steps: z.array(z.string()),
    pending_request: z.unknown().nullable(),
    last_result: z.unknown().nullable(),
  }),
  effect: 'destructive',
  idempotent: false,
  openWorld: true,
  roles: ['admin'],
  confirmation: () => 'always',
  explain: (input, ctx) => ({
    summary: `Update proxmox-mcp ${ctx.services.runtime?.version ?? ''} in ${ctx.config.installDir} to ${input.target_tag ?? 'the newest release tag'}${
      ctx.config.container.inside ? ' through the host-side updater (the container is rebuilt and restarted)' : ' (build, health check on a spare port, restart; roll back when unhealthy)'
    }; a configuration backup is taken first. Calls in flight are cut off by the restart.`,
    risk: 'high',
    reversible: true,
    undo: `self_update with target_tag "v${ctx.services.runtime?.version ?? '<previous>'}" and allow_downgrade true, or restore_config with the pre-update backup`,
    warnings: ['The server restarts: every client reconnects, and calls running at that moment are cut off.'],
  }),
  async run(input, ctx) {
    const mode = ctx.config.container.inside ? ('container' as const) : ('local' as const);
    const outcome = await runSelfUpdate(ctx, {
      targetTag: input.target_tag,
      includePrereleases: input.include_prereleases,
      allowDowngrade: input.allow_downgrade,
      waitSeconds: input.wait_seconds,
      backupPassphrase: input.backup_passphrase,
    });
    const bad = outcome.status === 'rolled_back' || outcome.status === 'failed';
    return {
      data: { action: 'update' as const, ...outcome, pending_request: null, last_result: null },
      summary: outcome.message,
      warnings: bad ? [outcome.message] : [],
      suggestions:
        outcome.status === 'ok'
          ? ['After the restart: health_check, and get_changelog with since the previous version.']
          : outcome.status === 'pending'
            ? ['Call check_updates in a minute: last_update says how it went.']
            : [],
    };
  },
});
