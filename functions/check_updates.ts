import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { checkForUpdates } from '../lib/self/updates.ts';
import { packageInfo } from '../lib/self/context.ts';

export default defineTool({
  name: 'check_updates',
  title: 'Is a newer proxmox-mcp release available?',
  description:
    'Compares the running version with the newest release tag (vX.Y.Z, semantic versioning) on the install\'s git remote (origin). ' +
    'Pre-releases (v1.2.0-rc.1) are ignored unless include_prereleases is true. Works offline: when the remote cannot be reached the answer says so ' +
    '(reachable: false, with the reason) instead of failing. Changes nothing; self_update installs an update (admin).',
  input: z.object({
    include_prereleases: z.boolean().default(false).describe('Also consider pre-release tags such as v1.2.0-rc.1'),
  }),
  output: z.object({
    current_version: z.string(),
    reachable: z.boolean(),
    reason: z.string().optional(),
    remote: z.string().optional(),
    latest_tag: z.string().optional(),
    latest_version: z.string().optional(),
    update_available: z.boolean(),
    newer: z.array(z.string()),
    tags: z.array(z.string()),
  }),
  effect: 'read',
  openWorld: true,
  async run(input, ctx) {
    const current = ctx.services.runtime?.version ?? packageInfo().version;
    const result = await checkForUpdates(ctx.config.installDir, current, { includePrereleases: input.include_prereleases });
    if (!result.reachable) {
      return {
        data: result,
        summary: `Cannot reach the remote; running ${current}`,
        warnings: [result.reason ?? 'The remote cannot be reached.'],
        suggestions: ['Check the network and the remote URL (git -C <install dir> remote -v), then try again.'],
      };
    }
    return {
      data: result,
      summary: result.update_available ? `Update available: ${result.latest_tag} (running ${current})` : `Up to date: ${current}${result.latest_tag ? ` (newest release ${result.latest_tag})` : ' (the remote has no release tags)'}`,
      suggestions: result.update_available ? [`get_changelog with since "${current}" shows what changed; self_update (admin) installs ${result.latest_tag}.`] : [],
    };
  },
});
