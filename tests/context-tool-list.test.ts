/**
 * The tool list an agent pays for (issue 15): each role sees only what it can call, annotations are
 * true for every call a tool accepts, schemas are trimmed, and a snapshot of every tool's name,
 * annotations and schema sizes makes any growth visible in review (`npx vitest run -u` after a
 * deliberate change).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { z } from 'zod';
import { connectClient, startTestServer, type TestServer } from './helpers/server.ts';
import { visibleTo, type AnyTool } from '../lib/tool.ts';
import { trimInputSchema } from '../lib/runtime/schema-trim.ts';
import { inputJsonSchema } from '../lib/runtime/mcp.ts';

let ts: TestServer;
const clients: Client[] = [];
let made = 0;

beforeAll(async () => {
  ts = await startTestServer();
});
afterAll(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  await ts?.close();
});

async function listFor(role: 'admin' | 'operator' | 'viewer', era: 'modern' | 'legacy' = 'modern') {
  const token = role === 'admin' ? ts.adminToken : await ts.createToken({ name: `list-${role}-${era}-${++made}`, role });
  const client = await connectClient(ts.mcpUrl, token, era);
  clients.push(client);
  return (await client.listTools()).tools;
}

describe('tools/list per role', () => {
  it('lists only the tools a role can call, in both eras', async () => {
    for (const era of ['modern', 'legacy'] as const) {
      const admin = (await listFor('admin', era)).map((tool) => tool.name);
      const operator = (await listFor('operator', era)).map((tool) => tool.name);
      const viewer = (await listFor('viewer', era)).map((tool) => tool.name);
      expect(admin).toContain('self_update');
      expect(operator).not.toContain('self_update');
      expect(operator).not.toContain('restore_config');
      expect(operator).toContain('vm_action');
      expect(viewer).not.toContain('vm_action');
      expect(viewer).not.toContain('guest_create');
      expect(viewer).toContain('list_vms');
      expect(operator.length).toBeLessThan(admin.length);
      expect(viewer.length).toBeLessThan(operator.length);
      for (const name of viewer) expect(operator, name).toContain(name);
    }
  });

  it('shows no tool of a toolset the token did not enable (ha, metrics, firewall...)', async () => {
    const tools = [...ts.server.runtime.tools.values()] as AnyTool[];
    const extra = tools.filter((tool) => tool.toolset && tool.toolset !== 'core').map((tool) => tool.name);
    expect(extra.length).toBeGreaterThan(0);
    for (const role of ['admin', 'operator', 'viewer'] as const) {
      const listed = (await listFor(role)).map((tool) => tool.name);
      for (const name of extra) expect(listed, `${role} ${name}`).not.toContain(name);
    }
  });

  it('agrees with what the runtime lets each role call', async () => {
    const tools = [...ts.server.runtime.tools.values()] as AnyTool[];
    const viewer = new Set((await listFor('viewer')).map((tool) => tool.name));
    for (const tool of tools) expect(viewer.has(tool.name), tool.name).toBe(visibleTo(tool, { role: 'viewer', ceiling: 'read-only' }));
  });

  it('a viewer with a higher ceiling sees the tools its role may call, never the admin-only ones', () => {
    const tools = [...ts.server.runtime.tools.values()] as AnyTool[];
    const seen = tools.filter((tool) => visibleTo(tool, { role: 'viewer', ceiling: 'normal' })).map((tool) => tool.name);
    expect(seen).not.toContain('self_update');
    expect(seen).toContain('guest_config');
    expect(seen).not.toContain('vm_action');
  });
});

/** The descriptions the MCP door gives the runtime arguments (taken from a changing tool's full schema). */
const inputJsonSchemaDescriptions = (() => {
  const schema = inputJsonSchema({ effect: 'write', input: z.object({}) } as unknown as AnyTool) as { properties: Record<string, { description: string }> };
  return { confirmation: schema.properties.confirmation_id!.description, wait: schema.properties.wait_seconds!.description };
})();

describe('schemas', () => {
  it('input schemas keep what an agent writes a call with, and drop what it never needs', () => {
    const trimmed = trimInputSchema({
      type: 'object',
      additionalProperties: false,
      properties: {
        action: { type: 'string', enum: ['list', 'create'], description: 'list | create' },
        vmid: { type: 'integer', minimum: -9007199254740991, maximum: 9007199254740991, description: 'Guest id' },
        name: { type: 'string', pattern: '^[a-z]+$', maxLength: 63, description: 'Name' },
        nets: { type: 'array', items: { type: 'object', additionalProperties: false, properties: { index: { type: 'integer', description: 'NIC number' } } } },
        users: { type: 'array', description: 'acl', items: { type: 'string', description: 'User id, name@realm' } },
        newid: { type: 'integer', minimum: 100, maximum: 999999999, description: 'Default: next free' },
        vlan: { type: 'integer', minimum: 1, maximum: 4094 },
        node: { type: 'string', description: 'Node' },
        confirmation_id: { type: 'string', description: inputJsonSchemaDescriptions.confirmation },
        wait_seconds: { type: 'number', description: inputJsonSchemaDescriptions.wait },
      },
      required: ['action'],
    });
    expect(trimmed).toEqual({
      type: 'object',
      additionalProperties: false,
      properties: {
        action: { type: 'string', enum: ['list', 'create'] },
        vmid: { type: 'integer', description: 'Guest id' },
        name: { type: 'string' },
        nets: { type: 'array', items: { type: 'object', properties: { index: { type: 'integer' } } } },
        users: { type: 'array', description: 'acl', items: { type: 'string' } },
        newid: { type: 'integer', description: 'Default: next free' },
        vlan: { type: 'integer', minimum: 1, maximum: 4094 },
        node: { type: 'string' },
      },
      required: ['action'],
    });
  });

  it('the runtime arguments are not listed, and still work on every changing tool', async () => {
    const tools = await listFor('admin');
    for (const tool of tools) {
      expect(Object.keys(tool.inputSchema.properties ?? {}), tool.name).not.toContain('confirmation_id');
      // self_update and check_updates take a wait_seconds of their own (the host updater), which stays
      if (!['self_update', 'check_updates'].includes(tool.name)) expect(Object.keys(tool.inputSchema.properties ?? {}), tool.name).not.toContain('wait_seconds');
    }
    // A changing tool still takes them (strict input would refuse an unknown name): an unknown approval id
    // is an error about the approval, not about the argument's name.
    const client = await connectClient(ts.mcpUrl, await ts.createToken({ name: 'runtime-args', role: 'operator', mode: 'normal', ceiling: 'normal' }), 'modern');
    clients.push(client);
    const result = await client.callTool({ name: 'vm_action', arguments: { vmid: 100, action: 'start', confirmation_id: 'nonexistent-id', wait_seconds: 0 } });
    const text = JSON.stringify(result.content);
    expect(text).not.toMatch(/unknown argument|did you mean/i);
    // The REST door's OpenAPI still describes them.
    const openapi = (await (await fetch(`${ts.url}/v1/openapi.json`)).json()) as Record<string, any>;
    expect(JSON.stringify(openapi)).toContain('confirmation_id');
  });

  it('snapshot: every tool with its annotations and schema sizes, and the list size per role', async () => {
    const admin = await listFor('admin');
    const rows = admin.map((tool) => ({
      name: tool.name,
      annotations: `${tool.annotations?.readOnlyHint ? 'read' : tool.annotations?.destructiveHint ? 'destructive' : 'write'}${tool.annotations?.idempotentHint ? ',idempotent' : ''}${tool.annotations?.openWorldHint ? ',open-world' : ''}`,
      description: tool.description?.length ?? 0,
      input: JSON.stringify(tool.inputSchema).length,
      output: tool.outputSchema ? JSON.stringify(tool.outputSchema).length : 0,
    }));
    const sizes = {
      admin: JSON.stringify({ tools: admin }).length,
      operator: JSON.stringify({ tools: await listFor('operator') }).length,
      viewer: JSON.stringify({ tools: await listFor('viewer') }).length,
    };
    expect(admin.length).toBeLessThanOrEqual(40);
    expect({ tools: rows.map((row) => `${row.name} [${row.annotations}] description ${row.description}, input ${row.input}, output ${row.output}`), sizes }).toMatchSnapshot();
  });
});
