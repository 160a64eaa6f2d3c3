/**
 * What an agent's context pays (issue 15): the size in characters of tools/list per role, of help_llm,
 * of every list's default answer and of resources/list and the inventory, at 3 nodes / 12 guests and
 * at 32 nodes / 2,000 guests. Target: every default answer and the admin's tool list at most 40,000
 * characters (Claude Code cuts a tool answer above 25,000 tokens, about 100,000 characters, and warns
 * at 10,000 tokens). Runs the server in-process on the built-in simulator: sizes do not depend on timing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { loadConfig } from '../../lib/config.ts';
import { silentLogger } from '../../lib/log.ts';
import { buildServer } from '../../lib/runtime/start.ts';
import { listen } from '../../lib/runtime/listen.ts';
import { createSimulator } from '../../lib/simulator/index.ts';
import type { Role } from '../../lib/tool.ts';
import type { BenchContext, Row, Scenario, ScenarioResult } from '../lib/scenario.ts';

const adminToken = 'pmcp_bench-context-admin-0123456789abcdefghijklmnop';
const limit = 40_000;

/** The calls measured, with their default arguments (what a new user's agent sends first). */
const calls: { tool: string; args: Record<string, unknown> }[] = [
  { tool: 'help_llm', args: {} },
  { tool: 'list_vms', args: {} },
  { tool: 'list_containers', args: {} },
  { tool: 'guest_backup_list', args: {} },
  { tool: 'guest_backup_list', args: { view: 'guests' } },
  { tool: 'storage_operations', args: { action: 'list' } },
  { tool: 'storage_operations', args: { action: 'content', storage: 'nfs-backup' } },
  { tool: 'task_status', args: { action: 'list' } },
  { tool: 'node_status', args: {} },
  { tool: 'get_system_info', args: {} },
  { tool: 'get_command_history', args: {} },
  { tool: 'get_command_history', args: { sort: '-duration_ms', limit: 100 } },
  { tool: 'user_list', args: { kind: 'token' } },
];

/** The size of an MCP answer as the model sees it: the text blocks (structuredContent goes to programs). */
function textSize(result: { content?: unknown }): number {
  const content = Array.isArray(result.content) ? (result.content as { type: string; text?: string }[]) : [];
  return content.reduce((sum, block) => sum + (block.type === 'text' ? (block.text ?? '').length : 0), 0);
}

async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'proxmox-mcp-bench-context', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } } as never);
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

export async function measureContext(size: { nodes: number; guests: number }, log: (line: string) => void = () => undefined) {
  const dataDir = mkdtempSync(join(tmpdir(), 'pmcp-bench-context-'));
  const simulator = createSimulator({ ...size, taskDurationMs: 5 });
  const config = loadConfig({ MCP_HOST: '127.0.0.1', MCP_DATA_DIR: dataDir, MCP_ADMIN_TOKEN: adminToken, MCP_IN_CONTAINER: '0' }, { envFile: null });
  const server = await buildServer({ config, log: silentLogger, simulator });
  const listening = await listen(server, 0, '127.0.0.1');
  const mcpUrl = `http://127.0.0.1:${listening.port}/mcp`;
  const figures: Record<string, { chars: number; text?: number; count?: number; note?: string }> = {};
  const clients: Client[] = [];
  try {
    // A few calls first, so the history has rows to list.
    const admin = await connect(mcpUrl, adminToken);
    clients.push(admin);
    for (const role of ['admin', 'operator', 'viewer'] as Role[]) {
      const token = role === 'admin' ? adminToken : (await server.store.tokens.create({ name: `bench-${role}`, role })).secret;
      const client = role === 'admin' ? admin : await connect(mcpUrl, token);
      if (client !== admin) clients.push(client);
      const listed = await client.listTools();
      figures[`tools/list (${role})`] = { chars: JSON.stringify(listed).length, count: listed.tools.length };
    }
    for (let i = 0; i < 50; i++) await admin.callTool({ name: 'node_status', arguments: {} }).catch(() => undefined);
    const names = new Set((await admin.listTools()).tools.map((tool) => tool.name));
    for (const call of calls) {
      if (!names.has(call.tool)) {
        figures[`${call.tool} ${JSON.stringify(call.args)}`] = { chars: Number.NaN, note: 'no such tool' };
        continue;
      }
      const result = await admin.callTool({ name: call.tool, arguments: call.args });
      const label = Object.keys(call.args).length ? `${call.tool} ${JSON.stringify(call.args)}` : call.tool;
      figures[label] = { chars: JSON.stringify(result).length, text: textSize(result), ...(result.isError ? { note: 'error' } : {}) };
    }
    // One page, as a client reads it (the official client's listResources() without a cursor follows
    // every nextCursor by itself; cursor "0" is the first page).
    const resources = await admin.listResources({ cursor: '0' });
    figures['resources/list (one page)'] = { chars: JSON.stringify(resources).length, count: resources.resources.length, ...(resources.nextCursor ? { note: `next cursor ${resources.nextCursor}` } : {}) };
    const inventory = await admin.readResource({ uri: 'proxmox://cluster/inventory' });
    figures['inventory resource'] = { chars: JSON.stringify(inventory).length };
    for (const [what, figure] of Object.entries(figures)) log(`${size.nodes}/${size.guests} ${what}: ${figure.chars} chars${figure.text !== undefined ? ` (text ${figure.text})` : ''}${figure.count !== undefined ? `, ${figure.count} items` : ''}${figure.note ? ` [${figure.note}]` : ''}`);
    return figures;
  } finally {
    for (const client of clients) await client.close().catch(() => undefined);
    await listening.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export const context: Scenario = {
  name: 'context',
  description: 'answer sizes an agent pays: tools/list per role, each list and resource at 3/12 and 32/2,000 (<= 40,000 chars)',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const sizes = ctx.smoke ? [{ nodes: 3, guests: 12 }] : [{ nodes: 3, guests: 12 }, { nodes: 32, guests: 2000 }];
    const rows: Row[] = [];
    const details: Record<string, unknown> = {};
    for (const size of sizes) {
      const figures = await measureContext(size, ctx.log);
      details[`${size.nodes}/${size.guests}`] = figures;
      for (const [what, figure] of Object.entries(figures)) {
        rows.push({
          what: `${what} at ${size.nodes} nodes / ${size.guests} guests`,
          target: `<= ${limit} chars`,
          measured: `${figure.chars} chars${figure.text !== undefined ? ` (text block ${figure.text})` : ''}${figure.count !== undefined ? `, ${figure.count} items` : ''}${figure.note ? `; ${figure.note}` : ''}`,
          met: Number.isFinite(figure.chars) ? figure.chars <= limit : null,
        });
      }
    }
    return { rows, details };
  },
};
