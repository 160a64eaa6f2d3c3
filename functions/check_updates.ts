import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { checkForUpdates, checkForUpdatesViaHost } from '../lib/self/updates.ts';
import { packageInfo } from '../lib/self/context.ts';

export default defineTool({
  name: 'check_updates',
  title: 'Is a newer proxmox-mcp release available?',
  description: 'Is a newer proxmox-mcp release out? Compares the running version with the release tags on the install\'s git remote; says so when the remote cannot be reached. self_update installs one.',
  input: z.object({
    include_prereleases: z.boolean().default(false).describe('Also consider pre-release tags such as v1.2.0-rc.1'),
    wait_seconds: z.number().int().min(1).max(120).default(30).describe('In the container: how long to wait for the host-side updater\'s answer'),
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
  }),
  effect: 'read',
  openWorld: true,
  async run(input, ctx) {
    const current = ctx.services.runtime?.version ?? packageInfo().version;
    const result = ctx.config.container.inside
      ? await checkForUpdatesViaHost(ctx.config.updateDir, current, { includePrereleases: input.include_prereleases, requestedBy: ctx.caller.name, timeoutMs: input.wait_seconds * 1000, signal: ctx.signal })
      : await checkForUpdates(ctx.config.installDir, current, { includePrereleases: input.include_prereleases });
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
