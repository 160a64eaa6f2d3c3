import { z } from 'zod';
import { defineTool, type ToolContext } from '../lib/tool.ts';
import { checkForUpdates, checkForUpdatesViaHost } from '../lib/self/updates.ts';
import { packageInfo, updateState } from '../lib/self/context.ts';

/** The last self_update as the update files record it (the host-side updater's answer in a container). */
function lastUpdate(ctx: ToolContext) {
  const state = updateState(ctx);
  const last = state.last_result;
  return {
    mode: ctx.config.container.inside ? ('container' as const) : ('local' as const),
    status: last?.status ?? null,
    ...(last ? { version: last.version } : {}),
    message: state.pending_request
      ? `Update to ${state.pending_request.target_tag} requested at ${state.pending_request.requested_at}; no answer from the host yet.`
      : last
        ? `Last update (${last.id}) finished ${last.finished_at}: ${last.status}: ${last.message}`
        : 'No update has been requested here.',
    pending_request: state.pending_request,
    last_result: last,
  };
}

export default defineTool({
  name: 'check_updates',
  title: 'Newer release available?',
  description: 'Is a newer proxmox-mcp release out, and how did the last self_update go?',
  input: z.object({
    include_prereleases: z.boolean().default(false).describe('e.g. v1.2.0-rc.1'),
    wait_seconds: z.number().int().min(1).max(120).default(30).describe('Container: wait for the host updater'),
  }),
  output: z.object({
    current_version: z.string(),
    source: z.enum(['git', 'host']),
    reachable: z.boolean(),
    reason: z.string().optional(),
    remote: z.string().optional(),
    latest_tag: z.string().optional(),
    latest_version: z.string().optional(),
    update_available: z.boolean(),
    newer: z.array(z.string()),
    tags: z.array(z.string()),
    host_checkout: z.object({ tag: z.string().nullable(), commit: z.string().nullable() }).optional(),
    // What self_update last did (a read, so it lives here and not in the destructive self_update).
    last_update: z.object({
      mode: z.enum(['container', 'local']),
      status: z.enum(['ok', 'rolled_back', 'failed', 'pending', 'up_to_date']).nullable(),
      version: z.string().optional(),
      message: z.string(),
      pending_request: z.unknown().nullable(),
      last_result: z.unknown().nullable(),
    }),
  }),
  effect: 'read',
  openWorld: true,
  async run(input, ctx) {
    const current = ctx.services.runtime?.version ?? packageInfo().version;
    const found = ctx.config.container.inside
      ? await checkForUpdatesViaHost(ctx.config.updateDir, current, { includePrereleases: input.include_prereleases, requestedBy: ctx.caller.name, timeoutMs: input.wait_seconds * 1000, signal: ctx.signal })
      : await checkForUpdates(ctx.config.installDir, current, { includePrereleases: input.include_prereleases });
    const result = { ...found, last_update: lastUpdate(ctx) };
    if (!result.reachable) {
      return {
        data: result,
        summary: result.source === 'host' ? `No release list from the host-side updater; running ${current}` : `Cannot reach the remote; running ${current}`,
        warnings: [result.reason ?? 'The remote cannot be reached.'],
        suggestions:
          result.source === 'host'
            ? ['On the host: systemctl status proxmox-mcp-update.path proxmox-mcp-update.service, and journalctl -u proxmox-mcp-update.service.']
            : ['Check the network and the remote URL (git -C <install dir> remote -v), then try again.'],
      };
    }
    return {
      data: result,
      summary: result.update_available ? `Update available: ${result.latest_tag} (running ${current})` : `Up to date: ${current}${result.latest_tag ? ` (newest release ${result.latest_tag})` : ' (the remote has no release tags)'}`,
      suggestions: result.update_available ? [`get_changelog with since "${current}" shows what changed; self_update (admin) installs ${result.latest_tag}.`] : [],
    };
  },
});
