import { z } from 'zod';
import { defineTool, type Mode } from '../lib/tool.ts';
import { ToolError } from '../lib/errors.ts';

const modes = ['read-only', 'safe', 'normal'] as const;
const rank: Record<Mode, number> = { 'read-only': 0, safe: 1, normal: 2 };

export default defineTool({
  name: 'toggle_mode',
  title: 'Mode and learning mode',
  description: 'Set this client\'s mode (read-only, safe, normal) or learning mode; raising needs an approver\'s proof. Give mode, learning or both; get_mcp_info reports the current settings.',
  // A call that sets nothing is refused (issue 15): this tool's write annotations must be true for every
  // call it accepts, and reading the settings is get_mcp_info's job.
  input: z
    .object({
      mode: z.enum(modes).optional().describe('The mode to switch to (mode or learning is required)'),
      learning: z.boolean().optional().describe('Turn learning mode on or off (mode or learning is required)'),
    })
    .refine((input) => input.mode !== undefined || input.learning !== undefined, {
      message: 'toggle_mode sets something: give mode (read-only, safe, normal), learning (true or false) or both. To read the current mode and learning mode, call get_mcp_info.',
    }),
  output: z.object({
    mode: z.enum(modes),
    previous_mode: z.enum(modes),
    ceiling: z.enum(modes),
    learning: z.boolean(),
    changed: z.boolean(),
  }),
  effect: 'write',
  // It changes this server's view of the client, never the cluster: read-only callers may still lower.
  effectOf: () => 'read',
  idempotent: true,
  // Raising needs proof for every role (issue 13): an admin token in an agent's hands is still the agent.
  confirmation: (input, ctx) => {
    const raising = input.mode !== undefined && rank[input.mode] > rank[ctx.caller.mode];
    // Above the ceiling it is refused by run() at once; nobody is asked for something that cannot happen.
    return raising && rank[input.mode!] <= rank[ctx.caller.ceiling] ? 'always' : 'none';
  },
  explain: (input, ctx) => ({
    summary: input.mode
      ? `Switch client '${ctx.caller.name}' from ${ctx.caller.mode} to ${input.mode} mode`
      : `Turn learning mode ${input.learning ? 'on' : 'off'} for client '${ctx.caller.name}'`,
    risk: input.mode === 'normal' ? 'medium' : 'low',
    reversible: true,
    undo: `toggle_mode with mode ${ctx.caller.mode}`,
    warnings: input.mode === 'normal' ? ['In normal mode changes run without asking; destructive ones still carry warnings.'] : [],
  }),
  async run(input, ctx) {
    const { caller } = ctx;
    const store = ctx.services.store;
    const previous = caller.mode;
    let mode = previous;
    if (input.mode !== undefined && input.mode !== previous) {
      if (rank[input.mode] > rank[caller.ceiling]) {
        throw new ToolError('forbidden', `This client's token has the ceiling ${caller.ceiling}; it cannot be put in ${input.mode} mode. An admin can create a token with a higher ceiling.`);
      }
      // The mode this call was judged against was read when the request came in. If it changed since
      // (an admin lowered it from the host CLI or the page), what was a lowering then may be a raise now,
      // and a raise was approved for the mode the approver saw: either way, judge it again.
      const stored = await store.tokens.byId(caller.tokenId);
      const now: Mode = stored ? (rank[stored.mode] <= rank[caller.ceiling] ? stored.mode : caller.ceiling) : previous;
      if (now !== previous) {
        throw new ToolError('conflict', `This client's mode changed to ${now} while the call was on its way (it was ${previous}); nothing was changed. Call toggle_mode again: raising from ${now} needs an approver's proof.`);
      }
      await store.tokens.setMode(caller.tokenId, input.mode);
      mode = input.mode;
    }
    let learning = caller.learning;
    if (input.learning !== undefined && input.learning !== caller.learning) {
      await store.tokens.setLearning(caller.tokenId, input.learning);
      learning = input.learning;
    }
    const changed = mode !== previous || learning !== caller.learning;
    return {
      data: { mode, previous_mode: previous, ceiling: caller.ceiling, learning, changed },
      summary: changed ? `Mode ${mode}${learning ? ', learning on' : ''} (was ${previous})` : `Mode is ${mode}${learning ? ', learning on' : ''}; nothing changed`,
      suggestions: mode === 'read-only' ? ['Read tools still work: list_vms, node_status, get_system_info.'] : [],
    };
  },
});
