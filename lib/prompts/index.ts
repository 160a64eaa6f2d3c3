/**
 * The MCP prompts (slash commands in Claude Code): triage_node, plan_node_maintenance, provision_vm,
 * audit_backups, security_review. Each tells the agent which tools to use, in which order, and in
 * which mode. Their argument schemas (with completion of node, template and storage names) and
 * callbacks are built once per runtime; a request only registers them on its fresh McpServer.
 */
import type { GetPromptResult, McpServer } from '@modelcontextprotocol/server';
import type { z } from 'zod';
import type { Runtime } from '../runtime/runtime.ts';
import type { Caller } from '../tool.ts';
import { lister, nodeNames } from '../resources/common.ts';
import type { Completers, PromptDefinition } from './types.ts';
import triageNode from './triage-node.ts';
import planNodeMaintenance from './plan-node-maintenance.ts';
import provisionVm from './provision-vm.ts';
import auditBackups from './audit-backups.ts';
import securityReview from './security-review.ts';

export const prompts: PromptDefinition[] = [triageNode, planNodeMaintenance, provisionVm, auditBackups, securityReview] as unknown as PromptDefinition[];

interface Built {
  name: string;
  config: { title: string; description: string; argsSchema: z.ZodObject };
  callback: (args: Record<string, unknown>) => GetPromptResult;
}

function startsWith(value: string) {
  const lower = value.toLowerCase();
  return (candidate: string) => candidate.toLowerCase().startsWith(lower);
}

/** Completions list names only (what the inventory shows every client); failures complete nothing. */
function completersFor(runtime: Runtime): Completers {
  const pve = lister(runtime);
  const safely = async (produce: () => Promise<string[]>) => {
    try {
      return (await produce()).slice(0, 100);
    } catch {
      return [];
    }
  };
  return {
    node: (value) => safely(async () => (await nodeNames(pve)).filter(startsWith(value))),
    template: (value) =>
      safely(async () => {
        const templates = (await pve.clusterResources('vm')).filter((row) => row.template && row.vmid !== undefined);
        const ids = templates.map((row) => String(row.vmid));
        const names = templates.map((row) => row.name).filter((name): name is string => typeof name === 'string');
        return [...new Set([...ids, ...names])].filter(startsWith(value)).sort();
      }),
    storage: (value) =>
      safely(async () => {
        const storages = (await pve.clusterResources('storage')).map((row) => String(row.storage ?? ''));
        return [...new Set(storages)].filter((id) => id && startsWith(value)(id)).sort();
      }),
  };
}

const built = new WeakMap<Runtime, Built[]>();

function build(runtime: Runtime): Built[] {
  const completers = completersFor(runtime);
  return prompts.map((prompt) => ({
    name: prompt.name,
    config: { title: prompt.title, description: prompt.description, argsSchema: prompt.args(completers) },
    callback: (args) => ({
      description: prompt.description,
      messages: [{ role: 'user', content: { type: 'text', text: prompt.text(args as never, { knowledge: runtime.services.knowledge }) } }],
    }),
  }));
}

/** The prompts extension: every prompt on a per-request server. Prompts are the same for every caller. */
export function registerPrompts(server: McpServer, runtime: Runtime, _caller: Caller | undefined): void {
  let entries = built.get(runtime);
  if (!entries) {
    entries = build(runtime);
    built.set(runtime, entries);
  }
  for (const entry of entries) server.registerPrompt(entry.name, entry.config, entry.callback as never);
}
