import { z } from 'zod';
import { defineTool } from '../lib/tool.ts';
import { helpText, helpTopics } from '../lib/self/help.ts';
import { identity } from '../lib/self/context.ts';
import { TOOLSETS } from '../lib/toolsets.ts';

/** How every list answers (issue 15): the same four arguments everywhere. */
const listsGuide = [
  '## Lists: pages, sort, fields',
  '- Every list (list_vms, list_containers, guest_backup_list, storage_operations content, task_status list, get_command_history) answers one page: total says how many matched, next_cursor how to get the next page (pass it as cursor; null on the last page).',
  '- sort: a field, - for descending, commas for several: {"sort": "-mem"} for the VMs using the most memory, {"sort": "-cpu,name"}. Ask for the top N with sort and limit instead of reading every page.',
  '- fields picks the columns ({"fields": ["name", "mem"]}); the id column always stays. The text answer is a table; structuredContent has the same rows as JSON.',
  '- get_command_history is newest first by default and pages by id; sort it by duration_ms, tool, client, outcome, node or vmid ({"sort": "-duration_ms"} for the slowest calls). A page stops early when its entries grow long; follow next_cursor.',
  '- Unknown argument names are refused with the closest real name; a node, pool, storage or bridge that does not exist is refused with the real ones listed.',
  '- Changing tools also take confirmation_id and wait_seconds (not listed in their schemas): only to repeat a call that answered approval_required, as that answer says.',
].join('\n');

/** Toolsets (issue 17): tools beyond the everyday list, shown to tokens that enabled them. */
function toolsetsGuide(enabled: string[] | undefined, tools: { name: string; toolset?: string }[]): string {
  const on = (name: string) => Boolean(enabled?.includes(name) || enabled?.includes('all'));
  return [
    '## Toolsets beyond the everyday tools',
    '- An admin enables them per client token on the host: npm run token -- toolsets NAME ha,metrics,firewall,infra,backups (all, none). Your tool list shows the enabled ones; REST refuses the others too.',
    ...Object.entries(TOOLSETS).map(([name, what]) => `- ${name}${on(name) ? ' (enabled for you)' : ''}: ${what}. Tools: ${tools.filter((tool) => tool.toolset === name).map((tool) => tool.name).join(', ') || 'none'}.`),
    '- "Why was VM 101 slow last night": metrics_history {"vmid": 101, "timeframe": "day"} (peak, when, and whether its node was busy then; chart: "cpu" adds a PNG). "Busiest node this week": metrics_history {"timeframe": "week"}.',
    '- firewall_change refuses any change that would cut this server\'s API (8006) or SSH (22) access to the main node, or corosync/SSH between nodes, and names the rule or policy that would do it.',
  ].join('\n');
}

export default defineTool({
  name: 'help_llm',
  title: 'Guide for agents',
  description: 'How to use this server: tools by task, modes and approvals, paging and sorting, limits, examples. Call once at the start.',
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
    const withLists = input.topic === 'all' || input.topic === 'limits' ? `${text}\n\n${listsGuide}` : text;
    const catalog = [...(ctx.services.tools?.values() ?? [])];
    const full = input.topic === 'all' || input.topic === 'tools' ? `${withLists}\n\n${toolsetsGuide(ctx.caller.toolsets, catalog)}` : withLists;
    return {
      data: { text: full, topic: input.topic, version: me.version, mode: ctx.caller.mode, health: health?.status ?? 'unknown', tool_count: tools.length },
      summary: full,
    };
  },
});
