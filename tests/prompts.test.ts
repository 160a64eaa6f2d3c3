/**
 * MCP prompts (slash commands) end to end through the official client, in both protocol eras: list with
 * arguments, get with arguments, completions, and that every tool a prompt names exists (or is one of
 * the documented tool names), with the mode each prompt asks for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectClient, startTestServer, type TestServer } from './helpers/server.ts';

let ts: TestServer;

/** The tool names of the requirements (some are still being written); prompts may name only these. */
const toolNames = [
  'list_vms', 'vm_status', 'vm_action', 'list_containers', 'container_status', 'container_action', 'node_status', 'get_system_info',
  'storage_operations', 'network_config', 'user_list', 'user_change', 'guest_snapshot', 'guest_backup', 'guest_config', 'guest_create',
  'guest_exec', 'task_status', 'proxmox_api', 'execute_command', 'explain_command', 'best_practices', 'get_command_history',
  'toggle_mode', 'health_check', 'help_llm', 'get_mcp_info',
];
const toolLike = /\b(?:list|vm|container|node|get|storage|network|user|guest|task|proxmox|execute|explain|best|toggle|health|help)_[a-z_]+\b/g;

const prompts: Record<string, { args: Record<string, string>; mode: RegExp; tools: string[]; mentions: string[] }> = {
  triage_node: {
    args: { node: 'pve2', symptom: 'VMs slow since 10:00' },
    mode: /read-only work/,
    tools: ['get_system_info', 'node_status', 'list_vms', 'list_containers', 'storage_operations', 'execute_command', 'get_command_history', 'health_check'],
    mentions: ['pve2', 'VMs slow since 10:00', 'proxmox://nodes/pve2/status', '"path":"/nodes/pve2/tasks"'],
  },
  plan_node_maintenance: {
    args: { node: 'pve2', reason: 'kernel update' },
    mode: /must run in safe mode/,
    tools: ['get_system_info', 'node_status', 'list_vms', 'list_containers', 'guest_config', 'guest_backup', 'task_status', 'vm_action', 'container_action', 'guest_snapshot', 'get_command_history'],
    mentions: ['pve2', 'kernel update', 'Phase 3: backups first', 'Phase 6: move back', 'reverse order'],
  },
  provision_vm: {
    args: { name: 'web03', template: '102', node: 'pve1', cores: '4', memory: '4096', disk: '32G', ip: '192.168.1.50/24', gateway: '192.168.1.1', user: 'debian' },
    mode: /must run in safe mode/,
    tools: ['list_vms', 'guest_config', 'node_status', 'storage_operations', 'proxmox_api', 'guest_create', 'vm_action', 'vm_status', 'guest_exec'],
    mentions: ['web03', 'template: 102', 'ipconfig0 ip=192.168.1.50/24,gw=192.168.1.1', 'cores 4', 'memory 4096', '32G', 'ciuser debian'],
  },
  audit_backups: {
    args: { max_age_days: '3' },
    mode: /read-only work/,
    tools: ['list_vms', 'list_containers', 'proxmox_api', 'storage_operations', 'task_status', 'best_practices', 'guest_backup'],
    mentions: ['older than 3 days', '"path":"/cluster/backup"', 'typefilter'],
  },
  security_review: {
    args: {},
    mode: /read-only work/,
    tools: ['user_list', 'proxmox_api', 'execute_command', 'node_status', 'get_mcp_info', 'get_command_history', 'health_check', 'best_practices'],
    mentions: ['privsep', 'root@pam', 'firewall', 'apt/update', 'pvetest', 'severity'],
  },
};

beforeAll(async () => {
  ts = await startTestServer();
});
afterAll(async () => {
  await ts?.close();
});

function textOf(result: { messages: Array<{ role: string; content: { type: string; text?: string } }> }): string {
  expect(result.messages).toHaveLength(1);
  expect(result.messages[0].role).toBe('user');
  expect(result.messages[0].content.type).toBe('text');
  return result.messages[0].content.text ?? '';
}

describe.each(['legacy', 'modern', 'auto'] as const)('prompts (%s era)', (era) => {
  let client: Client;
  beforeAll(async () => {
    client = await connectClient(ts.mcpUrl, ts.adminToken, era);
  });
  afterAll(async () => {
    await client?.close();
  });

  it('lists the five prompts with titles, descriptions and arguments', async () => {
    const { prompts: listed } = await client.listPrompts(undefined, { cacheMode: 'bypass' });
    expect(listed.map((prompt) => prompt.name).sort()).toEqual(Object.keys(prompts).sort());
    for (const prompt of listed) {
      expect(prompt.title).toBeTruthy();
      expect(prompt.description!.length).toBeGreaterThan(40);
    }
    const triage = listed.find((prompt) => prompt.name === 'triage_node')!;
    expect(triage.arguments).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'node', required: true }), expect.objectContaining({ name: 'symptom', required: false })]),
    );
    const provision = listed.find((prompt) => prompt.name === 'provision_vm')!;
    expect(provision.arguments!.filter((argument) => argument.required).map((argument) => argument.name)).toEqual(['name']);
  });

  it.each(Object.entries(prompts))('gets %s: its tools, its mode and its arguments in the text', async (name, expected) => {
    const text = textOf(await client.getPrompt({ name, arguments: expected.args }));
    expect(text).toMatch(expected.mode);
    for (const tool of expected.tools) expect(text).toContain(tool);
    for (const mention of expected.mentions) expect(text).toContain(mention);
    const named = new Set(text.match(toolLike) ?? []);
    for (const tool of named) expect(toolNames, `${name} names "${tool}"`).toContain(tool);
  });

  it('refuses a prompt without its required argument, saying which', async () => {
    await expect(client.getPrompt({ name: 'triage_node', arguments: {} })).rejects.toThrow(/node/);
  });

  it('completes node names and template ids for prompt arguments', async () => {
    const nodes = await client.complete({ ref: { type: 'ref/prompt', name: 'plan_node_maintenance' }, argument: { name: 'node', value: 'pve' } });
    expect(nodes.completion.values).toEqual(['pve1', 'pve2', 'pve3']);
    const templates = await client.complete({ ref: { type: 'ref/prompt', name: 'provision_vm' }, argument: { name: 'template', value: '' } });
    expect(templates.completion.values).toContain('102');
    expect(templates.completion.values).toContain('debian-12-template');
    expect(templates.completion.values).not.toContain('100');
    const storages = await client.complete({ ref: { type: 'ref/prompt', name: 'provision_vm' }, argument: { name: 'storage', value: 'loc' } });
    expect(storages.completion.values).toEqual(['local', 'local-lvm']);
  });
});

describe('prompt details', () => {
  it('security_review narrows to one area when asked', async () => {
    const client = await connectClient(ts.mcpUrl, ts.adminToken, 'auto');
    try {
      const text = textOf(await client.getPrompt({ name: 'security_review', arguments: { focus: 'updates' } }));
      expect(text).toContain('area: updates');
      expect(text).toContain('apt/update');
      expect(text).not.toContain('/access/acl');
    } finally {
      await client.close();
    }
  });

  it('defaults fill in when optional arguments are left out', async () => {
    const client = await connectClient(ts.mcpUrl, ts.adminToken, 'legacy');
    try {
      const provision = textOf(await client.getPrompt({ name: 'provision_vm', arguments: { name: 'app01' } }));
      expect(provision).toContain('2 cores, 2048 MiB memory');
      expect(provision).toContain('ip=dhcp');
      expect(provision).toContain('pick the templates (template: true)');
      const audit = textOf(await client.getPrompt({ name: 'audit_backups', arguments: {} }));
      expect(audit).toContain('older than 7 days');
      expect(audit).toContain('every guest in the cluster');
    } finally {
      await client.close();
    }
  });

  it('a viewer token gets the prompts too', async () => {
    const token = await ts.createToken({ name: 'viewer-prompts', role: 'viewer', mode: 'read-only', ceiling: 'read-only' });
    const client = await connectClient(ts.mcpUrl, token, 'modern');
    try {
      const { prompts: listed } = await client.listPrompts(undefined, { cacheMode: 'bypass' });
      expect(listed).toHaveLength(5);
      expect(textOf(await client.getPrompt({ name: 'audit_backups', arguments: {} }))).toContain('Audit the backups');
    } finally {
      await client.close();
    }
  });
});
