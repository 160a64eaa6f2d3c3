import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { helpText, helpTopics } from '../lib/self/help.ts';
import { identity } from '../lib/self/context.ts';

export default defineTool({
  name: 'help_llm',
  title: 'Guide for agents: how to work with this server',
  description: 'How to use this server well: tools by task, modes and confirmations, paging and sorting lists, your mode, health, limits, examples. Call once at the start; topic narrows it.',
  input: z.object({
    topic: z.enum(helpTopics).default('all').describe('all, tools, modes, protections, limits or examples'),
  }),
  output: z.object({
    text: z.string(),
    topic: z.enum(helpTopics),
    version: z.string(),
    mode: z.enum(['read-only', 'safe', 'normal']),
    health: z.string(),
    tool_count: z.number(),
  }),
  effect: 'read',
  async run(input, ctx) {
    const runtime = ctx.services.runtime;
    const me = await identity(ctx);
    let health: { status: string; problems: string[] } | undefined;
    if (runtime) {
      try {
        const report = (await runtime.health()) as { status: string; checks: { name: string; status: string }[] };
        health = { status: report.status, problems: report.checks.filter((check) => check.status === 'fail' || check.status === 'warn').map((check) => `${check.name} ${check.status}`) };
      } catch (error) {
        health = { status: 'unknown', problems: [(error as Error).message] };
      }
    }
    const tools = runtime?.tools ?? [];
    const text = helpText({
      name: me.name,
      version: me.version,
      simulated: runtime?.simulated ?? !ctx.config.proxmox.url,
      tools,
      caller: ctx.caller,
      health,
      historyDays: ctx.config.historyDays,
      backupKeep: ctx.config.backupKeep,
      topic: input.topic,
    });
    return {
      data: { text, topic: input.topic, version: me.version, mode: ctx.caller.mode, health: health?.status ?? 'unknown', tool_count: tools.length },
      summary: text,
    };
  },
});
