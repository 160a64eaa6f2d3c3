/** get_mcp_info (no secret ever in it) and help_llm (complete, generated from the tools, short) through both doors. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config.ts';
import { helpText, groupTools } from '../lib/self/help.ts';
import type { Caller } from '../lib/tool.ts';
import { callRest, connectClient, startTestServer, type TestServer } from './helpers/server.ts';

const secrets = {
  PROXMOX_TOKEN_SECRET: 'pve-secret-5d1c2b7e-never-show-me',
  DATABASE_AUTH_TOKEN: 'db-auth-token-never-show-me-0123',
};

describe('get_mcp_info', () => {
  let ts: TestServer;
  let install: string;

  beforeAll(async () => {
    install = mkdtempSync(join(tmpdir(), 'pmcp-info-'));
    execFileSync('git', ['init', '-q', install]);
    execFileSync('git', ['-C', install, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-q', '--allow-empty', '-m', 'x']);
    ts = await startTestServer({
      env: {
        MCP_INSTALL_DIR: install,
        PROXMOX_URL: 'https://127.0.0.1:1',
        PROXMOX_TOKEN_ID: 'proxmox-mcp@pve!mcp',
        PROXMOX_TLS_INSECURE: 'true',
        PROXMOX_TIMEOUT_MS: '500',
        ...secrets,
      },
    });
  });
  afterAll(async () => {
    await ts?.close();
    rmSync(install, { recursive: true, force: true });
  });

  it('tells version, commit, paths, runtime, DB, tools and the caller, over REST and MCP, without a secret', async () => {
    const rest = await callRest(ts.url, ts.adminToken, 'get_mcp_info', {});
    expect(rest.status).toBe(200);
    const data = rest.body.data;
    expect(data.version).toBe(ts.server.info.version);
    expect(data.commit).toBe(execFileSync('git', ['-C', install, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim());
    expect(data.install_dir).toBe(install);
    expect(data.runtime).toMatch(/^Node\.js v\d+/);
    expect(data.database).toMatchObject({ kind: 'embedded', path: join(ts.dataDir, 'proxmox-mcp.db') });
    expect(data.database.size_bytes).toBeGreaterThan(0);
    expect(data.tools.find((tool: { name: string }) => tool.name === 'restore_config')).toMatchObject({ effect: 'destructive' });
    expect(data.tools).toHaveLength(ts.server.info.tools.length);
    expect(data.caller).toMatchObject({ name: 'admin-env', role: 'admin', mode: 'safe', ceiling: 'normal' });
    expect(data.uptime_s).toBeGreaterThanOrEqual(0);
    expect(data.simulated).toBe(false);
    expect(data.config.proxmox.tokenSecret).toBe('[set, redacted]');
    expect(data.set_variables).toContain('PROXMOX_TOKEN_SECRET');

    const viewer = await ts.createToken({ role: 'viewer' });
    const client = await connectClient(ts.mcpUrl, viewer);
    let viaMcp: string;
    try {
      const result = await client.callTool({ name: 'get_mcp_info', arguments: {} });
      expect((result.structuredContent as any).data.caller).toMatchObject({ role: 'viewer', mode: 'read-only', ceiling: 'read-only' });
      viaMcp = JSON.stringify(result);
    } finally {
      await client.close();
    }
    for (const text of [JSON.stringify(rest.body), viaMcp]) {
      for (const secret of [...Object.values(secrets), ts.adminToken, viewer]) expect(text).not.toContain(secret);
    }
  });

  it('takes the commit and tag from the image (MCP_GIT_COMMIT, MCP_GIT_TAG) and "in a container" from the config', async () => {
    const notGit = mkdtempSync(join(tmpdir(), 'pmcp-nogit-'));
    const commit = '0123456789abcdef0123456789abcdef01234567';
    const image = await startTestServer({ env: { MCP_INSTALL_DIR: notGit, MCP_IN_CONTAINER: '1', MCP_GIT_COMMIT: commit.toUpperCase(), MCP_GIT_TAG: 'v0.2.0' } });
    try {
      const info = await callRest(image.url, image.adminToken, 'get_mcp_info', {});
      expect(info.body.data).toMatchObject({ commit, git_tag: 'v0.2.0', in_container: true });
    } finally {
      await image.close();
      rmSync(notGit, { recursive: true, force: true });
    }
  });

  it('says "unknown" for the commit outside git', async () => {
    const notGit = mkdtempSync(join(tmpdir(), 'pmcp-nogit-'));
    const plain = await startTestServer({ env: { MCP_INSTALL_DIR: notGit } });
    try {
      const info = await callRest(plain.url, plain.adminToken, 'get_mcp_info', {});
      expect(info.body.data).toMatchObject({ commit: 'unknown', git_tag: null, in_container: false });
    } finally {
      await plain.close();
      rmSync(notGit, { recursive: true, force: true });
    }
  });
});

describe('the container settings in the config (MCP_IN_CONTAINER, MCP_GIT_COMMIT, MCP_GIT_TAG)', () => {
  it('parses them, treats "unknown" as no commit, and refuses a commit that is not a hash', () => {
    expect(loadConfig({ MCP_IN_CONTAINER: 'true', MCP_GIT_COMMIT: 'unknown', MCP_GIT_TAG: '' }, { envFile: null }).container).toEqual({ inside: true });
    expect(loadConfig({ MCP_IN_CONTAINER: '0', MCP_GIT_COMMIT: 'ABCDEF0', MCP_GIT_TAG: 'v1.2.3' }, { envFile: null }).container).toEqual({ inside: false, gitCommit: 'abcdef0', gitTag: 'v1.2.3' });
    expect(() => loadConfig({ MCP_GIT_COMMIT: 'main; rm -rf /' }, { envFile: null })).toThrow(/MCP_GIT_COMMIT: must be a git commit hash/);
    expect(() => loadConfig({ MCP_IN_CONTAINER: 'maybe' }, { envFile: null })).toThrow(/MCP_IN_CONTAINER/);
  });

  it('falls back to the marker files (/.dockerenv) only when MCP_IN_CONTAINER is unset', () => {
    expect(loadConfig({}, { envFile: null }).container.inside).toBe(false); // an explicit environment: no probing
    expect(loadConfig({}, { envFile: null, containerProbe: () => true }).container.inside).toBe(true);
    expect(loadConfig({ MCP_IN_CONTAINER: 'false' }, { envFile: null, containerProbe: () => true }).container.inside).toBe(false);
  });
});

describe('help_llm', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer();
  });
  afterAll(async () => {
    await ts?.close();
  });

  it('covers every tool, modes, protections, limits and examples, in under 12 KB, through both doors', async () => {
    const rest = await callRest(ts.url, ts.adminToken, 'help_llm', {});
    expect(rest.status).toBe(200);
    const text: string = rest.body.data.text;
    expect(new TextEncoder().encode(text).length).toBeLessThan(12 * 1024);
    for (const tool of ts.server.info.tools) expect(text).toContain(`- ${tool.name} [${tool.effect}]`);
    for (const heading of ['## Tools by task', '## Modes and confirmations', '## Protections', '## Limits', '## Worked examples']) expect(text).toContain(heading);
    expect(text).toMatch(/in SAFE mode \(ceiling normal\)/);
    expect(text).toMatch(/Server health: ok/);
    expect(text).toMatch(/SIMULATED/);
    expect(text).toMatch(/confirmation_id/);
    expect(text).toMatch(/root@pam/);
    // Examples only name tools that exist.
    const examples = text.slice(text.indexOf('## Worked examples'));
    const named = [...examples.matchAll(/\b([a-z]+(?:_[a-z]+)+) \{/g)].map((match) => match[1]);
    expect(named.length).toBeGreaterThan(0);
    const served = new Set(ts.server.info.tools.map((tool) => tool.name));
    for (const name of named) expect(served.has(name)).toBe(true);

    const viewer = await ts.createToken({ role: 'viewer' });
    const client = await connectClient(ts.mcpUrl, viewer);
    try {
      const result = await client.callTool({ name: 'help_llm', arguments: { topic: 'modes' } });
      const data = (result.structuredContent as any).data;
      expect(data.mode).toBe('read-only');
      expect(data.text).toMatch(/READ-ONLY mode/);
      expect(data.text).toContain('## Modes and confirmations');
      expect(data.text).not.toContain('## Tools by task');
    } finally {
      await client.close();
    }
  });

  it('groups tools by task from their names, whatever tools exist, and stays short with many', () => {
    const tools = [
      'list_vms', 'vm_status', 'vm_action', 'container_action', 'create_vm', 'vm_config', 'snapshot_vm', 'storage_operations', 'network_config',
      'user_management', 'proxmox_api', 'execute_command', 'explain_command', 'guest_exec', 'task_status', 'health_check', 'self_update', 'something_new',
    ].map((name) => ({ name, title: `Title of ${name}`, effect: 'read' as const, description: '' }));
    const groups = Object.fromEntries(groupTools(tools).map((group) => [group.title, group.tools.map((tool) => tool.name)]));
    expect(groups['Power and lifecycle (start, stop, reboot, ...)']).toEqual(['container_action', 'vm_action']);
    expect(groups['Snapshots and backups']).toEqual(['snapshot_vm']);
    expect(groups['Storage']).toEqual(['storage_operations']);
    expect(groups['Network']).toEqual(['network_config']);
    expect(groups['Users, groups, roles, ACLs, API tokens']).toEqual(['user_management']);
    expect(groups['Raw Proxmox API (any endpoint; same protections)']).toEqual(['proxmox_api']);
    expect(groups['Commands: on hosts over SSH, in guests through the agent']).toEqual(['execute_command', 'explain_command', 'guest_exec']);
    expect(groups['Guest configuration (create, clone, change, migrate, delete)']).toEqual(['create_vm', 'vm_config']);
    expect(groups['Inventory, status and tasks']).toEqual(['list_vms', 'task_status', 'vm_status']);
    expect(groups['Other']).toEqual(['something_new']);

    const caller: Caller = { tokenId: 't', name: 'c', role: 'operator', mode: 'normal', ceiling: 'normal', learning: false, door: 'mcp', requestId: 'r', canElicit: false };
    const many = Array.from({ length: 60 }, (_, i) => ({ name: `tool_number_${i}`, title: 'A reasonably descriptive tool title here', effect: 'write' as const, description: '' }));
    const text = helpText({ name: 'proxmox-mcp', version: '1.0.0', simulated: false, tools: [...tools, ...many], caller, historyDays: 7, backupKeep: 10, topic: 'all' });
    expect(new TextEncoder().encode(text).length).toBeLessThan(12 * 1024);
    expect(text).toMatch(/vm_action \{"vmid": 101, "action": "reboot"\}/);
  });
});
