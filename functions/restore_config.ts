import { z } from 'zod';
import { defineTool, type ToolContext } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';
import { BundleError } from '../lib/self/bundle.ts';
import { backupFromContext, packageInfo, runningInContainer } from '../lib/self/context.ts';
import { applyRestore, loadVerifiedBundle, planRestore, resolveBundlePath, type RestorePlan } from '../lib/self/restore.ts';
import { bootstrapAdminToken } from '../lib/auth/bootstrap.ts';

const change = z.enum(['added', 'removed', 'changed']);
const planSchema = z.object({
  bundle: z.object({
    file: z.string(),
    created_at: z.string(),
    server_version: z.string(),
    encrypted: z.boolean(),
    contents: z.object({ secrets: z.boolean(), history: z.boolean(), cluster: z.boolean() }),
  }),
  bundle_tokens: z.array(z.object({ name: z.string(), role: z.string(), mode: z.string(), ceiling: z.string(), state: z.enum(['active', 'revoked', 'expired']), change: z.enum(['added', 'changed', 'unchanged']) })),
  rows: z.object({ settings: z.number(), client_tokens: z.number(), history: z.number().nullable() }),
  tokens: z.array(z.object({ name: z.string(), change, fields: z.array(z.string()).optional() })),
  settings: z.array(z.object({ key: z.string(), change })),
  history: z.object({ in_bundle: z.number(), would_add: z.number() }).nullable(),
  env: z.object({ in_bundle: z.boolean(), will_restore: z.boolean(), changed_variables: z.array(z.string()), target: z.string().optional() }),
  warnings: z.array(z.string()),
  changes: z.number(),
});

const input = z.object({
  file: z.string().min(1).max(200).default('latest').describe('As backup_config named it'),
  passphrase: z.string().max(1024).optional(),
  dry_run: z.boolean().default(false).describe('Only show what would change'),
  restore_env: z.boolean().default(false).describe('Write the env file too'),
});
type Input = z.output<typeof input>;

function bundleProblem(error: unknown): never {
  if (error instanceof BundleError) {
    throw new ToolError(error.problem === 'not_a_bundle' && /^No bundle|There is no/.test(error.message) ? 'not_found' : 'invalid_input', `Restore refused, nothing was changed: ${error.message}`, {
      details: { problem: error.problem },
      suggestions: error.problem === 'wrong_passphrase_or_tampered' ? ['Check the passphrase; if it is right, the file was changed: use another bundle.'] : ['Use another bundle (the backup directory keeps several).'],
    });
  }
  throw error;
}

async function prepare(args: Input, ctx: ToolContext): Promise<{ plan: RestorePlan; contents: Awaited<ReturnType<typeof loadVerifiedBundle>> }> {
  try {
    const path = await resolveBundlePath(ctx.config, args.file);
    const version = ctx.services.runtime?.version ?? packageInfo().version;
    const contents = await loadVerifiedBundle(ctx.services.store, ctx.config, path, args.passphrase, version);
    if (args.restore_env && !contents.entries.has('env')) {
      throw new ToolError('invalid_input', 'restore_env was asked for, but this bundle has no env file (it was made without include_secrets). Nothing was changed.');
    }
    const plan = await planRestore(ctx.services.store, ctx.config, path, contents, { restoreEnv: args.restore_env, inContainer: runningInContainer(ctx.config), callerTokenId: ctx.caller.tokenId });
    return { plan, contents };
  } catch (error) {
    bundleProblem(error);
  }
}

function describe(plan: RestorePlan): string {
  const tokens = plan.tokens.map((token) => `${token.name} ${token.change}${token.fields ? ` (${token.fields.join(', ')})` : ''}`);
  const settings = plan.settings.map((setting) => `${setting.key} ${setting.change}`);
  const all = plan.bundle_tokens.map((token) => `${token.name} (${token.role}, mode ${token.mode}, ceiling ${token.ceiling}${token.state === 'active' ? '' : `, ${token.state}`}${token.change === 'unchanged' ? '' : `, ${token.change}`})`);
  const parts = [
    `tokens afterwards: ${all.length ? all.join(', ') : 'none'}`,
    tokens.length ? `token changes: ${tokens.join(', ')}` : 'tokens unchanged',
    `rows in the bundle: ${plan.rows.settings} settings, ${plan.rows.client_tokens} tokens, ${plan.rows.history === null ? 'no' : plan.rows.history} history`,
    settings.length ? `settings: ${settings.join(', ')}` : 'settings unchanged',
    plan.history ? `${plan.history.would_add} history rows added` : 'history untouched',
    plan.env.will_restore ? `env file written (${plan.env.changed_variables.length} variables differ)` : plan.env.in_bundle ? 'env file not restored (restore_env false)' : '',
  ].filter(Boolean);
  return parts.join('; ');
}

export default defineTool({
  name: 'restore_config',
  title: 'Restore this server\'s configuration',
  description: 'Restore a backup_config bundle (tokens, settings, history; the env file with restore_env); dry_run shows the changes. Needs an approver.',
  input,
  output: z.object({
    dry_run: z.boolean(),
    restored: z.boolean(),
    plan: planSchema,
    pre_restore_backup: z.string().nullable(),
    history_added: z.number().nullable(),
    env_written: z.string().nullable(),
  }),
  effect: 'destructive',
  effectOf: (args) => (args.dry_run ? 'read' : 'destructive'),
  roles: ['admin'],
  confirmation: (args) => (args.dry_run ? 'none' : 'always'),
  async explain(args, ctx) {
    const { plan } = await prepare(args, ctx);
    return {
      summary: `Restore ${plan.bundle.file} (made ${plan.bundle.created_at} by ${plan.bundle.server_version}): ${describe(plan)}; a backup of the current state is taken first`,
      risk: 'high',
      reversible: true,
      undo: 'restore_config with the pre-restore bundle this call reports',
      warnings: plan.warnings,
    };
  },
  async run(args, ctx) {
    const { plan, contents } = await prepare(args, ctx);
    if (args.dry_run) {
      return {
        data: { dry_run: true, restored: false, plan, pre_restore_backup: null, history_added: null, env_written: null },
        summary: `Dry run, nothing changed. Restoring ${plan.bundle.file} would change: ${describe(plan)}`,
        warnings: plan.warnings,
      };
    }
    const before = await backupFromContext(ctx, {
      includeHistory: true,
      includeCluster: false,
      ...(args.restore_env && args.passphrase ? { includeSecrets: true, passphrase: args.passphrase } : {}),
    });
    const applied = await applyRestore(ctx.services.store, ctx.config, contents, { restoreEnv: args.restore_env, inContainer: runningInContainer(ctx.config) });
    if (ctx.config.adminToken) await bootstrapAdminToken(ctx.services.store, ctx.config, ctx.log);
    const preRestore = before.file.split(/[\\/]/).pop() as string;
    return {
      data: { dry_run: false, restored: true, plan, pre_restore_backup: preRestore, history_added: applied.historyAdded, env_written: applied.envWritten ?? null },
      summary: `Restored ${plan.bundle.file}: ${describe(plan)}. The state before is in ${preRestore}.`,
      warnings: plan.warnings,
      suggestions: [`To undo: restore_config {"file": "${preRestore}"}.`],
    };
  },
});
