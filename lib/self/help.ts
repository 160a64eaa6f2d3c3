/**
 * The text of help_llm: one plain-text guide an agent reads whole (kept well under 12 KB). The tool
 * list is generated from the tools the server actually serves, grouped by task, so it never drifts;
 * a worked example is only shown when every tool it uses exists.
 */
import type { Caller, ToolSummary } from '../tool.ts';

export const helpTopics = ['all', 'tools', 'modes', 'protections', 'limits', 'examples'] as const;
export type HelpTopic = (typeof helpTopics)[number];

interface Category {
  title: string;
  match: (name: string) => boolean;
}

const selfTools = new Set([
  'health_check', 'get_mcp_info', 'help_llm', 'get_changelog', 'check_updates', 'self_update', 'backup_config', 'restore_config',
  'toggle_mode', 'get_command_history', 'best_practices',
]);

const has = (...parts: string[]) => (name: string) => parts.some((part) => name.includes(part));

/** Checked in order; the first match wins. */
export const categories: Category[] = [
  { title: 'Self-management, modes, history and guidance', match: (name) => selfTools.has(name) },
  { title: 'Raw Proxmox API (any endpoint; same protections)', match: has('proxmox_api') },
  { title: 'Commands: on hosts over SSH, in guests through the agent', match: has('command', 'shell', 'ssh', 'exec') },
  { title: 'Users, groups, roles, ACLs, API tokens', match: has('user', 'group', 'role', 'acl', 'permission', 'token') },
  { title: 'Network', match: has('network', 'firewall', 'sdn', 'bridge', 'vlan') },
  { title: 'Storage', match: has('storage', 'disk', 'volume', 'iso', 'upload', 'download') },
  { title: 'Snapshots and backups', match: has('snapshot', 'backup', 'restore', 'vzdump') },
  { title: 'Power and lifecycle (start, stop, reboot, ...)', match: has('action', 'power', 'start', 'stop', 'shutdown', 'reboot', 'suspend', 'resume') },
  { title: 'Guest configuration (create, clone, change, migrate, delete)', match: has('config', 'create', 'clone', 'resize', 'migrate', 'delete', 'destroy', 'template') },
  { title: 'Inventory, status and tasks', match: (name) => name.startsWith('list_') || name.startsWith('get_') || name.endsWith('_status') || name.endsWith('_info') || name.includes('task') },
];

export function groupTools(tools: ToolSummary[]): { title: string; tools: ToolSummary[] }[] {
  const groups = new Map<string, ToolSummary[]>();
  for (const tool of [...tools].sort((a, b) => a.name.localeCompare(b.name))) {
    const title = categories.find((category) => category.match(tool.name))?.title ?? 'Other';
    groups.set(title, [...(groups.get(title) ?? []), tool]);
  }
  const order = [...categories.map((category) => category.title), 'Other'];
  return order.filter((title) => groups.has(title)).map((title) => ({ title, tools: groups.get(title)! }));
}

interface Example {
  uses: string[];
  text: string;
}

const examples: Example[] = [
  {
    uses: ['list_vms', 'vm_status'],
    text: 'Find a guest and look at it: list_vms {} -> pick the vmid -> vm_status {"vmid": 101}. Never guess the node: the server finds it.',
  },
  {
    uses: ['vm_action'],
    text:
      'Restart a VM in safe mode: vm_action {"vmid": 101, "action": "reboot"}. A client that can ask shows the user the plan; otherwise the answer is "approval_required" with a link. ' +
      'Give the user the link (approval_url); then repeat the same call with "confirmation_id": "<approval_id>" and "wait_seconds": 60 to wait for their decision.',
  },
  {
    uses: ['explain_command', 'execute_command'],
    text: 'Run a host command: explain_command {"command": "zpool status"} first (risk, safer alternatives), then execute_command {"node": "pve1", "command": "zpool status"}.',
  },
  {
    uses: ['proxmox_api'],
    text: 'Anything without a typed tool: proxmox_api {"method": "GET", "path": "/cluster/ha/status/current"}. The same modes and protections apply.',
  },
  {
    uses: ['check_updates', 'get_changelog', 'self_update'],
    text: 'Keep the server current (admin): check_updates {} -> get_changelog {"since": "<current_version>"} -> self_update {} (always confirmed; takes a backup first, rolls back when the new version is unhealthy); check_updates shows how the last update went (last_update).',
  },
  {
    uses: ['get_command_history'],
    text: 'What happened overnight: get_command_history {"since": "12h", "outcome": "error"}.',
  },
  {
    uses: ['backup_config', 'restore_config'],
    text: 'Before a risky change to this server (admin): backup_config {"include_history": true}; to go back: restore_config {"file": "latest", "dry_run": true} to see what changes, then without dry_run.',
  },
  {
    uses: ['user_list'],
    text: 'Who may do what: user_list {"kind": "acl"} and user_list {"kind": "token"} (a token with privilege separation whose user holds no rights is named dead); changes through user_change (admin).',
  },
];

export interface HelpInput {
  name: string;
  version: string;
  simulated: boolean;
  tools: ToolSummary[];
  caller: Caller;
  health?: { status: string; problems: string[] };
  historyDays: number;
  backupKeep: number;
  topic: HelpTopic;
}

export function helpText(input: HelpInput): string {
  const names = new Set(input.tools.map((tool) => tool.name));
  const parts: string[] = [];
  const want = (topic: HelpTopic) => input.topic === 'all' || input.topic === topic;
  const { caller } = input;

  parts.push(
    `# ${input.name} ${input.version}: working with this Proxmox VE server`,
    input.simulated ? 'NOTE: this instance runs against a SIMULATED cluster; nothing you do here is real.' : 'This instance manages a real Proxmox VE cluster.',
    `You are client '${caller.name}' (role ${caller.role}), in ${caller.mode.toUpperCase()} mode (ceiling ${caller.ceiling})${caller.learning ? ', learning mode on' : ''}.`,
    input.health
      ? `Server health: ${input.health.status}${input.health.problems.length ? ` (${input.health.problems.join('; ')}); details: health_check` : ''}.`
      : 'Server health: not checked; call health_check.',
  );

  if (want('tools')) {
    parts.push('', '## Tools by task (effect: read = changes nothing, write = changes something, destructive = can lose data)');
    for (const group of groupTools(input.tools)) {
      parts.push(`${group.title}:`);
      for (const tool of group.tools) parts.push(`- ${tool.name} [${tool.effect}]: ${tool.title}`);
    }
    parts.push('Every tool answers with: success, data, warnings, suggestions, mode, execution_time (and error on failure). Read the warnings and suggestions.');
  }

  if (want('modes')) {
    parts.push(
      '',
      '## Modes and confirmations',
      '- read-only: only read tools run; nothing is sent to Proxmox that could change it.',
      '- safe: every change needs a human yes. Two strengths: "ask" (the client shows the user the plan and they answer; only where the client supports it) and "proof" (an approver approves on this server\'s approval page with their authenticator code, or an admin runs `npm run approve -- yes ID` on the host). Destructive calls need proof; other changes need ask, or proof where the client cannot ask.',
      '- When proof is needed you get "approval_required" with approval_url and approval_id (30 minutes, only for this client, this tool and these exact arguments). Give the user the link and what it will do; then repeat the identical call with "confirmation_id": "<approval_id>" (add "wait_seconds": up to 120 to wait for the decision). Clients that support URL elicitation open the page themselves.',
      '- Nothing you can send is proof: an id you pass back runs only after a human approved it, and if the target changed since (its config digest), the approval is void and the human is asked again.',
      '- normal: changes run at once, with warnings, unless an admin chose proof for this client\'s destructive calls (or all changes).',
      '- toggle_mode lowers the mode at any time. Raising it needs proof, whatever your role, and never goes above the ceiling. An admin can also set modes with `npm run token -- mode NAME MODE` or on the approval page.',
      '- self_update, restore_config and risky shell features need proof in every mode. Use explain or dry_run where a tool has it to preview.',
      `- Right now you are in ${caller.mode} mode: ${caller.mode === 'read-only' ? 'ask the user to raise it if a change is needed.' : caller.mode === 'safe' ? 'expect a yes (ask or proof) before every change.' : 'changes run without asking; be deliberate.'}`,
    );
  }

  if (want('protections')) {
    parts.push(
      '',
      '## Protections (no mode lifts them)',
      '- root@pam cannot be modified, disabled, deleted, or have its password, tokens or ACLs changed.',
      '- The main node cannot be removed from the cluster.',
      '- This server\'s own Proxmox user and token cannot be deleted or stripped of privileges.',
      '- Guests with the Proxmox "protection" flag are not destroyed.',
      '- They hold for the typed tools, proxmox_api (paths are normalised first) and execute_command (the command line is parsed). A refusal says which protection applied; do not try to work around it.',
    );
  }

  if (want('limits')) {
    parts.push(
      '',
      '## Limits',
      '- A call may run up to 15 minutes; long Proxmox tasks are waited for (with progress) and a failed task returns the end of its log.',
      '- Host commands: 60 s by default, at most 1 MiB of stdout and of stderr kept; no interactive commands.',
      `- History: every call is kept ${input.historyDays} days (get_command_history; pages of at most 500). Admins see every client, others their own calls.`,
      `- Configuration backups: the newest ${input.backupKeep} bundles are kept.`,
      '- Your role limits the tools: viewer = read tools; operator = guests, storage, network; admin = everything, including self-management.',
      '- Errors say what to do next: 400 arguments, 401 token, 403 role/mode/privilege/protection, 404 not found, 409 conflict/locked, 428 confirmation or approval needed, 502-504 Proxmox trouble.',
    );
  }

  if (want('examples')) {
    const usable = examples.filter((example) => example.uses.every((name) => names.has(name))).slice(0, 5);
    if (usable.length > 0) {
      parts.push('', '## Worked examples');
      usable.forEach((example, index) => parts.push(`${index + 1}. ${example.text}`));
    }
  }

  parts.push('', 'More: best_practices for guidance by topic, explain_command before host commands, get_mcp_info for this server\'s setup.');
  return parts.filter((line, index, all) => !(line === '' && all[index - 1] === '')).join('\n');
}
