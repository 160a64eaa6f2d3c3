/**
 * Learning mode: with it on (per client token, toggle_mode {"learning": true}), every answer carries
 * `learning` = what was done in plain words, the equivalent command on a Proxmox host (qm, pct, pvesh,
 * pvesm, vzdump...), and what to look at next. Off by default.
 *
 * The handlers know their own command best (Plan.cliEquivalent, ToolOutcome.cliEquivalent); this file
 * fills the gaps so the block is always complete:
 * - a command from the plan's API calls (`POST /nodes/pve1/qemu/101/status/start` -> `qm start 101`,
 *   anything else -> `pvesh create /path`), or from the tool's own arguments for a few tools;
 * - for the tools that are proxmox-mcp's own (mode, history, health, updates), no made-up command but
 *   a sentence saying there is none;
 * - next steps from the outcome's suggestions, or the tool's usual next step, or a general one;
 * - and for a call that failed or was refused, why, and what to do about it.
 */
import type { AnyTool, Effect, Plan, ToolOutcome } from './tool.ts';

export interface Learning {
  explanation: string;
  cli_equivalent?: string;
  next: string[];
}

export interface LearningInput {
  tool: Pick<AnyTool, 'name' | 'title' | 'description'>;
  /** The validated arguments. */
  input: Record<string, unknown>;
  /** The effect of this call (effectOfCall). */
  effect: Effect;
  plan?: Plan;
  outcome?: Pick<ToolOutcome<unknown>, 'summary' | 'explanation' | 'suggestions' | 'cliEquivalent' | 'node' | 'vmid' | 'upids'>;
}

export interface LearningErrorInput extends Omit<LearningInput, 'outcome'> {
  error: { code: string; message: string; suggestions?: string[] };
}

// -- the equivalent command -----------------------------------------------------------------------------

const pveshVerb: Record<string, string> = { GET: 'get', POST: 'create', PUT: 'set', DELETE: 'delete' };
const guestPowerActions = new Set(['start', 'stop', 'shutdown', 'reboot', 'reset', 'suspend', 'resume']);

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `--key value` pairs for pvesh; values of keys that carry secrets are left out. */
function options(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([key, value]) => (/pass|secret|token|key$/i.test(key) ? ` --${key} <${key}>` : ` --${key} ${shellQuote(value)}`))
    .join('');
}

/**
 * One API call as a host command. Accepts `METHOD /path`, `METHOD /api2/json/path`, a query string
 * (`?type=vm`) and trailing words (`POST /x with a=b`, which plan texts use).
 */
export function commandForApiCall(call: string): string | undefined {
  const match = /^\s*(GET|POST|PUT|DELETE)\s+(?:\/api2\/json)?(\/[^\s?]*)(?:\?(\S*))?(?:\s+with\s+(.*))?\s*$/i.exec(call);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(match[3] ?? '')) params[key] = value;
  for (const pair of (match[4] ?? '').split(/\s+/)) {
    const eq = pair.indexOf('=');
    if (eq > 0) params[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return commandForRequest(match[1], match[2], params);
}

/** One request (method, path below /api2/json, parameters) as a host command. */
export function commandForRequest(methodName: string, rawPath: string, params: Record<string, string> = {}): string | undefined {
  const method = methodName.toUpperCase();
  if (!pveshVerb[method]) return undefined;
  const path = rawPath.replace(/^\/api2\/json/, '').replace(/\/+$/, '') || '/';
  const guest = /^\/nodes\/[^/]+\/(qemu|lxc)\/(\d+)(\/.*)?$/.exec(path);
  if (guest) {
    const program = guest[1] === 'qemu' ? 'qm' : 'pct';
    const vmid = guest[2];
    const rest = guest[3] ?? '';
    const action = /^\/status\/([a-z]+)$/.exec(rest)?.[1];
    if (method === 'POST' && action && guestPowerActions.has(action)) return `${program} ${action} ${vmid}`;
    if (method === 'GET' && rest === '/status/current') return `${program} status ${vmid} --verbose`;
    if (method === 'GET' && rest === '/config' && Object.keys(params).length === 0) return `${program} config ${vmid}`;
    if (method === 'GET' && rest === '/pending') return `${program} pending ${vmid}`;
    if (method === 'GET' && rest === '/snapshot') return `${program} listsnapshot ${vmid}`;
    if (method === 'DELETE' && rest === '' && Object.keys(params).length === 0) return `${program} destroy ${vmid}`;
    if (method === 'POST' && rest === '/migrate' && params.target) {
      const { target, ...more } = params;
      return `${program} migrate ${vmid} ${shellQuote(target)}${options(more)}`;
    }
    if (method === 'POST' && rest === '/snapshot' && params.snapname) {
      const { snapname, ...more } = params;
      return `${program} snapshot ${vmid} ${shellQuote(snapname)}${options(more)}`;
    }
    if (method === 'POST' && /^\/snapshot\/[^/]+\/rollback$/.test(rest)) return `${program} rollback ${vmid} ${rest.split('/')[2]}`;
    if (method === 'DELETE' && /^\/snapshot\/[^/]+$/.test(rest)) return `${program} delsnapshot ${vmid} ${rest.split('/')[2]}`;
  }
  if (method === 'POST' && /^\/nodes\/[^/]+\/vzdump$/.test(path) && params.vmid) {
    const { vmid, ...more } = params;
    return `vzdump ${vmid}${options(more)}`;
  }
  if (method === 'GET' && path === '/storage' && Object.keys(params).length === 0) return 'pvesm status';
  return `pvesh ${pveshVerb[method]} ${path}${options(params)}`;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : typeof value === 'number' ? String(value) : undefined;
}

function guestAction(program: 'qm' | 'pct', input: Record<string, unknown>): string | undefined {
  const vmid = str(input.vmid);
  const action = str(input.action);
  if (!vmid || !action) return undefined;
  if (guestPowerActions.has(action)) return `${program} ${action} ${vmid}`;
  if (action === 'delete') return `${program} destroy ${vmid}`;
  if (action === 'migrate' && str(input.target)) return `${program} migrate ${vmid} ${shellQuote(str(input.target)!)}`;
  return undefined;
}

/** Commands for tools whose plans name none, from their arguments. */
const commandByTool: Record<string, (input: Record<string, unknown>) => string | undefined> = {
  list_vms: (input) => (str(input.node) ? `qm list   # on node ${str(input.node)}` : 'pvesh get /cluster/resources --type vm'),
  list_containers: (input) => (str(input.node) ? `pct list   # on node ${str(input.node)}` : 'pvesh get /cluster/resources --type vm'),
  vm_status: (input) => (str(input.vmid) ? `qm status ${str(input.vmid)} --verbose && qm config ${str(input.vmid)}` : undefined),
  container_status: (input) => (str(input.vmid) ? `pct status ${str(input.vmid)} --verbose && pct config ${str(input.vmid)}` : undefined),
  node_status: (input) => (str(input.node) ? `pvesh get /nodes/${str(input.node)}/status` : 'pvesh get /cluster/resources --type node'),
  get_system_info: () => 'pvecm status && pvesh get /cluster/resources && pveversion',
  storage_operations: () => 'pvesm status',
  network_config: (input) => (str(input.node) ? `pvesh get /nodes/${str(input.node)}/network` : 'cat /etc/network/interfaces'),
  user_list: () => 'pveum user list && pveum acl list',
  proxmox_api: (input) => {
    const method = str(input.method)?.toUpperCase();
    const path = str(input.path);
    if (!method || !path) return undefined;
    const [bare, query] = path.split('?', 2);
    const params: Record<string, string> = Object.fromEntries(new URLSearchParams(query ?? ''));
    for (const [key, value] of Object.entries((input.params as Record<string, unknown> | undefined) ?? {})) params[key] = Array.isArray(value) ? value.join(',') : String(value);
    return commandForRequest(method, bare, params);
  },
  vm_action: (input) => guestAction('qm', input),
  container_action: (input) => guestAction('pct', input),
  execute_command: (input) => str(input.command),
  explain_command: (input) => str(input.command),
};

/** proxmox-mcp's own tools: there is no Proxmox command to show, and the explanation says so. */
const ownTools: Record<string, string> = {
  toggle_mode: 'changes a setting of this proxmox-mcp client (its mode or learning mode), stored by this server',
  get_command_history: 'reads the history this server keeps of every call (the closest thing on a host is the task list: pvesh get /cluster/tasks)',
  help_llm: 'returns this server\'s guide to its tools, modes and protections',
  get_mcp_info: 'describes this proxmox-mcp server itself',
  get_changelog: 'reads this server\'s changelog',
  check_updates: 'compares this server\'s version with its newest release',
  self_update: 'updates this proxmox-mcp server',
  backup_config: 'backs up this server\'s own configuration and database',
  restore_config: 'restores this server\'s own configuration and database',
  health_check: 'checks this server and what it depends on (Proxmox API, database, SSH); on a host, `pvecm status` and `systemctl status pveproxy pvedaemon` are the closest checks',
  best_practices: 'compares the cluster with best practices, reading it through the API; there is no single host command for it',
};

/** A fallback plan from the runtime (no explain) says only `<title>: <arguments>`; it explains nothing. */
function isFallbackPlan(plan: Plan | undefined, tool: LearningInput['tool']): boolean {
  return !plan || plan.summary.startsWith(`${tool.title}: `);
}

export function cliEquivalentFor(input: Omit<LearningInput, 'effect'>): string | undefined {
  const { tool, plan, outcome } = input;
  if (outcome?.cliEquivalent) return outcome.cliEquivalent;
  if (plan?.cliEquivalent) return plan.cliEquivalent;
  const fromTool = commandByTool[tool.name]?.(input.input);
  if (fromTool) return fromTool;
  const fromPlan = (plan?.apiCalls ?? [])
    .slice(0, 4)
    .map(commandForApiCall)
    .filter((command): command is string => Boolean(command));
  return fromPlan.length ? fromPlan.join(' && ') : undefined;
}

// -- what to look at next -----------------------------------------------------------------------------

const nextByTool: Record<string, string[]> = {
  list_vms: ['vm_status with a vmid: one VM in detail (config, IP addresses, snapshots, last backup).', 'Read the resource proxmox://guests/<node>/<vmid>/config for a VM\'s configuration.'],
  list_containers: ['container_status with a vmid: one container in detail.', 'Read the resource proxmox://guests/<node>/<vmid>/config for its configuration.'],
  vm_status: ['guest_snapshot and guest_backup list what can be rolled back or restored.', 'vm_action to start, stop or migrate it (confirmed in safe mode).'],
  container_status: ['guest_snapshot and guest_backup list what can be rolled back or restored.', 'container_action to start, stop or migrate it (confirmed in safe mode).'],
  node_status: ['list_vms and list_containers with this node: what runs there.', 'storage_operations: how full this node\'s storages are.', 'The triage_node prompt walks through a slow or failing node.'],
  get_system_info: ['node_status for one node in detail.', 'The resource proxmox://cluster/inventory keeps this overview at hand.'],
  storage_operations: ['storage_operations with one storage shows its content (ISOs, templates, backups).', 'The audit_backups prompt checks every guest has a recent backup.'],
  network_config: ['Pending network changes only take effect when applied; check them before applying (it can cut the connection).'],
  user_change: ['user_list shows the result; the security_review prompt checks tokens, ACLs, the firewall and updates.'],
  vm_action: ['vm_status shows the VM\'s new state.', 'get_command_history shows this change on record.'],
  container_action: ['container_status shows the container\'s new state.', 'get_command_history shows this change on record.'],
  guest_snapshot: ['guest_snapshot_list shows every snapshot; old snapshots slow storage down, remove them when done.'],
  guest_backup: ['guest_backup_list shows the backups and their age.', 'A backup is only proven by a restore test (to a new, unused VMID).'],
  task_status: ['If the task failed, its log says why; fix that and run the action again.'],
  proxmox_api: ['When a typed tool does the same (help_llm lists them), it adds checks, plans and clearer errors.'],
  execute_command: ['explain_command explains any command part by part before you run it.'],
  explain_command: ['execute_command runs it, if this client\'s mode allows it.'],
  toggle_mode: ['get_mcp_info shows the current mode, ceiling and learning setting.', 'Turn learning mode off again with toggle_mode {"learning": false}.'],
  get_command_history: ['The resource proxmox://history/me shows your own calls of the last 24 hours.', 'task_status with a task id (UPID) from an entry shows its Proxmox log.'],
  health_check: ['get_system_info shows the cluster itself: quorum, nodes, guests.'],
  best_practices: ['best_practices with a topic runs its checks; the text is also at proxmox://best-practices/<topic>.'],
  help_llm: ['get_mcp_info shows this client\'s mode.'],
};

function nextFor(input: LearningInput): string[] {
  if (input.outcome?.suggestions?.length) return input.outcome.suggestions;
  const known = nextByTool[input.tool.name];
  if (known) return known;
  if (input.effect === 'read') return ['The resource proxmox://cluster/inventory shows the whole cluster at a glance.'];
  return [
    ...(input.outcome?.upids?.length ? [`task_status with ${input.outcome.upids[0]} shows the Proxmox task log.`] : []),
    'get_command_history shows this change on record.',
  ];
}

// -- the explanation -------------------------------------------------------------------------------------

function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function effectSentence(input: LearningInput): string {
  if (input.effect === 'read') return 'This only read information; nothing in the cluster was changed.';
  const task = input.outcome?.upids?.length ? ` Proxmox ran it as task ${input.outcome.upids[0]}.` : '';
  const undo = input.plan?.undo ? ` To undo it: ${sentence(input.plan.undo)}` : input.plan?.reversible === false ? ' It cannot be undone.' : '';
  const what = input.effect === 'destructive' ? 'This removed or overwrote something.' : 'This changed something.';
  return `${what}${task}${undo} It is on record in this server's history.`;
}

function hostNote(cli: string | undefined, node: string | undefined): string | undefined {
  if (!cli) return undefined;
  if (/^(qm|pct|vzdump)\b/.test(cli)) {
    return `On a Proxmox host, ${cli.split(' ')[0]} acts on the guests of the node it runs on${node ? ` (here ${node})` : ''}; pvesh works the same from any node.`;
  }
  if (/^pvesh\b/.test(cli)) return 'pvesh calls the same REST API this server uses, from a shell on any node.';
  return undefined;
}

export function learningFor(input: LearningInput): Learning {
  const { tool, plan, outcome } = input;
  const own = ownTools[tool.name];
  const what =
    outcome?.explanation ??
    (!own && !isFallbackPlan(plan, tool) ? plan!.summary : undefined) ??
    outcome?.summary ??
    tool.title;
  const cli = cliEquivalentFor(input);
  const parts = [sentence(what)];
  if (outcome?.summary && outcome.summary !== what) parts.push(`Result: ${sentence(outcome.summary)}`);
  parts.push(effectSentence(input));
  if (own) parts.push(`There is no Proxmox command for it: ${tool.name} ${sentence(own)}`);
  const note = hostNote(cli, outcome?.node ?? str(input.input.node));
  if (note) parts.push(note);
  return { explanation: parts.join(' '), ...(cli ? { cli_equivalent: cli } : {}), next: nextFor(input) };
}

// -- when a call did not run ------------------------------------------------------------------------------

const whyByCode: Record<string, string> = {
  confirmation_required: 'Safe mode asks a human before any change. Show the plan to the user; if they agree, repeat the same call with the confirmation_id (or answer the prompt in the client).',
  approval_required: 'This call needs proof that a human approved it: an approver approves on the approval page (approval_url) with an authenticator code, or an admin on the host; nothing the agent sends counts.',
  mode_denied: 'This client is in read-only mode, which lets only reads through. A human can raise the mode with toggle_mode.',
  protected: 'Some things are protected in every mode: root@pam, the main node, this server\'s own Proxmox user and token, and guests with the protection flag.',
  forbidden: 'Either this client token\'s role does not allow the tool, or the Proxmox API token lacks a privilege; the message names which.',
  not_found: 'Something named in the arguments does not exist; list first (list_vms, list_containers, node_status) to find the right name or id.',
  invalid_input: 'The arguments did not fit the tool; the message says which one and what it expects.',
  conflict: 'The object is in a state that does not allow this (locked, already there, running); check its status first.',
  unavailable: 'Proxmox, a node, SSH or the database could not be reached; health_check says which.',
  timeout: 'It took longer than allowed; a Proxmox task may still be running (task_status shows it).',
  task_failed: 'Proxmox ran the task and it failed; the message carries the end of the task log.',
  upstream: 'Proxmox answered something unexpected; the message has what it said.',
  unauthenticated: 'The client token is missing, wrong, expired or revoked.',
  internal: 'A bug in this server; its log has the details under the request id.',
};

/** Codes where nothing was sent to Proxmox: the call was stopped before it ran. */
const stoppedBefore = new Set(['confirmation_required', 'approval_required', 'mode_denied', 'protected', 'forbidden', 'not_found', 'invalid_input', 'unauthenticated']);

const nextByCode: Record<string, string[]> = {
  confirmation_required: ['Show the plan to the user; repeat the same call with the confirmation_id only if they say yes.'],
  mode_denied: ['Use a read tool instead, or ask the user to raise the mode with toggle_mode.'],
  protected: ['Choose another target; this one cannot be changed through this server.'],
  not_found: ['list_vms, list_containers or node_status show the names and ids that exist.'],
  invalid_input: ['Correct the argument the message names and call it again.'],
  unavailable: ['health_check shows what cannot be reached.'],
  timeout: ['task_status shows whether the Proxmox task is still running or has finished.'],
  task_failed: ['Read the task log in the message, fix the cause, then run it again.'],
};

export function learningForError(input: LearningErrorInput): Learning {
  const { tool, plan, error } = input;
  const verb = stoppedBefore.has(error.code) ? 'was stopped before it ran' : 'did not complete';
  const wouldHave = !isFallbackPlan(plan, tool) && !error.message.includes(plan!.summary) ? ` It would have done: ${sentence(plan!.summary)}` : '';
  const explanation = `${tool.name} ${verb}: ${sentence(error.message)}${wouldHave} ${whyByCode[error.code] ?? ''}`.trim();
  const cli = cliEquivalentFor({ tool, input: input.input, plan });
  const next = error.suggestions?.length ? error.suggestions : (nextByCode[error.code] ?? ['Check the message and the arguments, then call it again.']);
  return { explanation, ...(cli ? { cli_equivalent: cli } : {}), next };
}
