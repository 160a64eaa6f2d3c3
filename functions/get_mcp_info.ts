import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { redactedConfig } from '../lib/config.ts';
import { backupsInfo, databaseInfo, identity, updateState } from '../lib/self/context.ts';

const effect = z.enum(['read', 'write', 'destructive']);
const mode = z.enum(['read-only', 'safe', 'normal']);

export default defineTool({
  name: 'get_mcp_info',
  title: 'About this server',
  description: 'This server\'s own setup: version, runtime, configuration (secrets masked), database, backups, your role, mode and learning mode.',
  input: z.object({}),
  output: z.object({
    name: z.string(),
    version: z.string(),
    commit: z.string(),
    git_tag: z.string().nullable(),
    install_dir: z.string(),
    code_dir: z.string(),
    runtime: z.string(),
    in_container: z.boolean(),
    simulated: z.boolean(),
    started_at: z.string().nullable(),
    uptime_s: z.number().nullable(),
    config: z.record(z.string(), z.unknown()),
    set_variables: z.array(z.string()),
    database: z.object({ url: z.string(), kind: z.enum(['embedded', 'server']), path: z.string().nullable(), size_bytes: z.number().nullable() }),
    backups: z.object({ dir: z.string(), keep: z.number(), count: z.number(), newest: z.string().nullable() }),
    update: z.object({ dir: z.string(), pending_request: z.unknown().nullable(), last_result: z.unknown().nullable() }),
    tools: z.array(z.object({ name: z.string(), title: z.string(), effect })),
    caller: z.object({ name: z.string(), role: z.enum(['admin', 'operator', 'viewer']), mode, ceiling: mode, learning: z.boolean(), door: z.string() }),
  }),
  effect: 'read',
  async run(_input, ctx) {
    const runtime = ctx.services.runtime;
    const me = await identity(ctx);
    const { setVariables, ...config } = redactedConfig(ctx.config) as Record<string, unknown> & { setVariables: string[] };
    const uptime = runtime ? Math.round((Date.now() - runtime.startedAt.getTime()) / 1000) : null;
    const data = {
      name: me.name,
      version: me.version,
      commit: me.commit ?? 'unknown',
      git_tag: me.tag,
      install_dir: ctx.config.installDir,
      code_dir: me.root,
      runtime: runtime?.runtime ?? 'unknown',
      in_container: ctx.config.container.inside,
      simulated: runtime?.simulated ?? !ctx.config.proxmox.url,
      started_at: runtime?.startedAt.toISOString() ?? null,
      uptime_s: uptime,
      config,
      set_variables: setVariables,
      database: databaseInfo(ctx),
      backups: backupsInfo(ctx),
      update: { dir: ctx.config.updateDir, ...updateState(ctx) },
      tools: (runtime?.tools ?? []).map((tool) => ({ name: tool.name, title: tool.title, effect: tool.effect })),
      caller: { name: ctx.caller.name, role: ctx.caller.role, mode: ctx.caller.mode, ceiling: ctx.caller.ceiling, learning: ctx.caller.learning, door: ctx.caller.door },
    };
    return {
      data,
      summary: `${data.name} ${data.version} (${data.commit === 'unknown' ? 'commit unknown' : data.commit.slice(0, 12)}) on ${data.runtime}${data.simulated ? ', SIMULATED cluster' : ''}; ${data.tools.length} tools; you are ${data.caller.name} (${data.caller.role}, ${data.caller.mode} mode)`,
      warnings: data.simulated ? ['This server runs against the built-in simulated cluster: nothing is real.'] : [],
    };
  },
});
