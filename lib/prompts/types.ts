/**
 * A prompt (an MCP slash command): a name, its arguments (strings, as MCP prompts take them), and the
 * text that tells the agent exactly which tools to use, in which order and in which mode.
 */
import type { z } from 'zod';
import type { Knowledge } from '../knowledge.ts';

/** Completion sources the argument schemas may use (built once per runtime). */
export interface Completers {
  node: (value: string) => Promise<string[]>;
  template: (value: string) => Promise<string[]>;
  storage: (value: string) => Promise<string[]>;
}

export interface PromptContext {
  knowledge?: Knowledge;
}

export interface PromptDefinition<Args extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  args: (complete: Completers) => Args;
  text: (args: z.output<Args>, context: PromptContext) => string;
}

export function definePrompt<Args extends z.ZodObject>(prompt: PromptDefinition<Args>): PromptDefinition<Args> {
  return prompt;
}

/** The mode rules, worded once so every prompt says the same thing. */
export const modes = {
  readOnly:
    'Mode: this is read-only work. Use only read tools and read-only commands; it works in read-only mode, and nothing in it changes the cluster. ' +
    'Call get_mcp_info first to see this client\'s mode (and whether learning mode is on). Do not raise the mode. ' +
    'If you find something to fix, propose it at the end as the exact tool call, and let the user decide.',
  safeChanges:
    'Mode: reading runs in any mode; every change below must run in safe mode, so the user confirms each one in the client (or you get a confirmation_id: show the plan to the user and repeat the call with it only after they say yes). ' +
    'Call get_mcp_info first to see the mode. Never raise the mode yourself; if the client is read-only, stop after the plan and ask the user to raise it. ' +
    'If the client is in normal mode, ask the user before each change anyway.',
};

/** Ids of best-practice topics that run any of these checks, for pointing the agent at the right ones. */
export function topicsWith(knowledge: Knowledge | undefined, checks: string[]): string[] {
  if (!knowledge) return [];
  return knowledge
    .topics()
    .filter((topic) => topic.checks.some((check) => checks.includes(check)))
    .map((topic) => topic.id);
}

export function bestPracticesLine(knowledge: Knowledge | undefined, checks: string[], about: string): string {
  const ids = topicsWith(knowledge, checks);
  return ids.length
    ? `best_practices for topic${ids.length > 1 ? 's' : ''} ${ids.map((id) => `"${id}"`).join(', ')} (run their checks against the cluster; the text is also at ${ids.map((id) => `proxmox://best-practices/${id}`).join(', ')})`
    : `best_practices on ${about} (call it without a topic to see the list, then run the checks of the fitting topics)`;
}

export function numbered(steps: string[]): string {
  return steps.map((step, index) => `${index + 1}. ${step}`).join('\n');
}
