import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { backupFromContext } from '../lib/self/context.ts';

export default defineTool({
  name: 'backup_config',
  title: 'Back up this server\'s configuration',
  description: 'Back up this server\'s own configuration (settings, hashed tokens; history, a cluster snapshot or the encrypted env file on request).',
  input: z.object({
    include_secrets: z.boolean().default(false).describe('The env file too; needs passphrase'),
    passphrase: z.string().min(12, 'must be at least 12 characters').max(1024).optional().describe('Cannot be recovered'),
    include_history: z.boolean().default(false),
    include_cluster: z.boolean().default(true).describe('A read-only cluster snapshot'),
  }),
  output: z.object({
    file: z.string(),
    path: z.string(),
    bytes: z.number(),
    encrypted: z.boolean(),
    created_at: z.string(),
    server_version: z.string(),
    entries: z.array(z.object({ name: z.string(), sha256: z.string(), bytes: z.number() })),
    counts: z.object({ settings: z.number(), client_tokens: z.number(), history: z.number().optional(), guests: z.number().optional() }),
    env_source: z.enum(['file', 'rendered']).optional(),
    cluster_errors: z.array(z.object({ path: z.string(), error: z.string() })),
    removed: z.array(z.string()),
  }),
  effect: 'write',
  roles: ['admin'],
  explain: (input, ctx) => ({
    summary: `Write a configuration backup bundle to ${ctx.config.backupDir}${input.include_secrets ? ' with the env file (secrets), encrypted with the passphrase' : input.passphrase ? ', encrypted' : ''}${input.include_history ? ', with the command history' : ''}; keep the newest ${ctx.config.backupKeep}`,
    risk: 'low',
    reversible: true,
    undo: 'Delete the bundle file from the backup directory.',
  }),
  async run(input, ctx) {
    if (input.include_secrets && !input.passphrase) {
      throw new ToolError('invalid_input', 'include_secrets needs a passphrase: a bundle with secrets is always encrypted. Give passphrase (12+ characters) and keep it safe.');
    }
    const result = await backupFromContext(ctx, {
      includeSecrets: input.include_secrets,
      passphrase: input.passphrase,
      includeHistory: input.include_history,
      includeCluster: input.include_cluster,
    });
    const file = result.file.split(/[\\/]/).pop() as string;
    const warnings = [
      ...result.cluster_errors.slice(0, 5).map((problem) => `cluster snapshot: ${problem.path}: ${problem.error}`),
      ...(result.cluster_errors.length > 5 ? [`cluster snapshot: ${result.cluster_errors.length - 5} more endpoints could not be read`] : []),
      ...(result.env_source === 'rendered' ? ['No .env file in the install directory (container): the env entry was rendered from the running configuration.'] : []),
    ];
    return {
      data: {
        file,
        path: result.file,
        bytes: result.bytes,
        encrypted: result.encrypted,
        created_at: result.manifest.created_at,
        server_version: result.manifest.server.version,
        entries: result.manifest.entries,
        counts: result.counts,
        ...(result.env_source ? { env_source: result.env_source } : {}),
        cluster_errors: result.cluster_errors,
        removed: result.removed,
      },
      summary: `Backup ${file} (${Math.round(result.bytes / 1024)} KiB${result.encrypted ? ', encrypted' : ''}): ${result.counts.client_tokens} tokens, ${result.counts.settings} settings${result.counts.history !== undefined ? `, ${result.counts.history} history rows` : ''}${result.counts.guests !== undefined ? `, ${result.counts.guests} guest configs` : ''}`,
      warnings,
      suggestions: [`restore_config {"file": "${file}", "dry_run": true} shows what restoring it would change.`],
    };
  },
});
