/**
 * The knowledge base: command descriptions (knowledge/commands/<program>.json) that drive command
 * classification and explanations, and best-practice topics (knowledge/best-practices/<id>.json) with
 * machine-checkable `checks`. Everything is validated with zod at load; a broken file fails loudly with
 * its name. Loaded once per folder and cached.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { projectPath } from './paths.ts';

// -- command descriptions ---------------------------------------------------------------------------

export const LEVELS = ['read', 'write', 'destructive', 'forbidden'] as const;
export type Level = (typeof LEVELS)[number];
export type Risk = 'none' | 'low' | 'medium' | 'high';

/**
 * What an argument stands for, so the classifier can apply the protections to it:
 * userid / userlist / tokenlist (Proxmox users and tokens: root@pam, the service user),
 * unix-user (a Linux account: root), node (cluster node name), api-path (a pvesh path),
 * delete-path / modify-path / write-path / read-path (files: removed, changed in place, written, read),
 * device (a block device), dd-operand (`of=...` style operands), vmid, any.
 */
export const ARG_KINDS = [
  'userid',
  'userlist',
  'tokenlist',
  'unix-user',
  'node',
  'api-path',
  'delete-path',
  'modify-path',
  'write-path',
  'read-path',
  'device',
  'dd-operand',
  'vmid',
  'any',
] as const;
export type ArgKind = (typeof ARG_KINDS)[number];

const levelSchema = z.enum(LEVELS);
const riskSchema = z.enum(['none', 'low', 'medium', 'high']);
const argKindSchema = z.enum(ARG_KINDS);

const regexString = z.string().refine((s) => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

const conditionSchema = z
  .object({
    /** Any of these options is present (`-r` also matches inside `-rf`; `--x` matches `--x=1`). */
    option: z.array(z.string()).optional(),
    /** None of these options is present. */
    noOption: z.array(z.string()).optional(),
    /** Some positional argument matches this regular expression. */
    arg: regexString.optional(),
    /** There is no positional argument (after the subcommand). */
    noArgs: z.boolean().optional(),
    /** One of these options has a value matching `match`. */
    optionValue: z.object({ option: z.array(z.string()), match: regexString }).strict().optional(),
  })
  .strict();

const ruleSchema = z
  .object({
    when: conditionSchema,
    level: levelSchema,
    /** raise (default): the level is at least this. set: the level becomes this (applied before raises). */
    mode: z.enum(['raise', 'set']).optional(),
    reason: z.string().min(1),
    risk: riskSchema.optional(),
    saferAlternative: z.string().optional(),
    /** When the rule matches, path-like positional arguments are treated as this kind. */
    argsBecome: argKindSchema.optional(),
  })
  .strict();

const argSpecSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().min(1),
    kind: argKindSchema.optional(),
    /** Index among the positional arguments after the subcommand; 'rest' = this one and all after; 'last'. */
    position: z.union([z.number().int().min(0), z.literal('rest'), z.literal('last')]).optional(),
  })
  .strict();

export type Condition = z.infer<typeof conditionSchema>;
export type Rule = z.infer<typeof ruleSchema>;
export type ArgSpec = z.infer<typeof argSpecSchema>;

/** What a program or a subcommand does; shared by both levels of the tree. */
export interface CommandDetails {
  explanation: string;
  level: Level;
  risk?: Risk;
  reversible?: boolean;
  undo?: string;
  saferAlternative?: string;
  /** The equivalent Proxmox API call, e.g. `DELETE /nodes/{node}/qemu/{vmid}`. */
  api?: string;
  /** Option -> what it does. */
  options?: Record<string, string>;
  /** Options that take a value (for finding the positional arguments). */
  optionsWithValue?: string[];
  /** Options whose value the protections must look at, e.g. `--users`: userlist. */
  optionKinds?: Record<string, ArgKind>;
  args?: ArgSpec[];
  rules?: Rule[];
  /** Always acts recursively on its path arguments (mv moves whole trees). */
  recursive?: boolean;
  /** Options that make it recursive (`-r`, `-R`, `--recursive`). */
  recursiveOptions?: string[];
}

export interface SubcommandSpec extends CommandDetails {
  name: string;
  aliases?: string[];
  subcommands?: SubcommandSpec[];
}

export interface CommandSpec extends CommandDetails {
  program: string;
  /** Other program names this file describes (`apt-get`, `mkfs.*`); `*` matches any text. */
  aliases?: string[];
  summary: string;
  /** gnu: -abc clusters and --long[=value]; pve: every -x/--x is an option and takes the next word as value
   *  unless it starts with "-" (Proxmox CLI tools); none: every word is an argument (find, dd). */
  optionStyle?: 'gnu' | 'pve' | 'none';
  subcommands?: SubcommandSpec[];
  /** Level when the first positional is not a known subcommand. Default: write. */
  unknownSubcommandLevel?: Level;
  /** Best-practice topic ids that relate. */
  see?: string[];
}

const detailsShape = {
  explanation: z.string().min(1),
  level: levelSchema,
  risk: riskSchema.optional(),
  reversible: z.boolean().optional(),
  undo: z.string().optional(),
  saferAlternative: z.string().optional(),
  api: z.string().optional(),
  options: z.record(z.string(), z.string()).optional(),
  optionsWithValue: z.array(z.string()).optional(),
  optionKinds: z.record(z.string(), argKindSchema).optional(),
  args: z.array(argSpecSchema).optional(),
  rules: z.array(ruleSchema).optional(),
  recursive: z.boolean().optional(),
  recursiveOptions: z.array(z.string()).optional(),
};

const subcommandSchema: z.ZodType<SubcommandSpec> = z.lazy(() =>
  z
    .object({
      name: z.string().min(1),
      aliases: z.array(z.string()).optional(),
      ...detailsShape,
      subcommands: z.array(subcommandSchema).optional(),
    })
    .strict(),
);

const commandSchema: z.ZodType<CommandSpec> = z
  .object({
    program: z.string().min(1),
    aliases: z.array(z.string()).optional(),
    summary: z.string().min(1),
    optionStyle: z.enum(['gnu', 'pve', 'none']).optional(),
    ...detailsShape,
    subcommands: z.array(subcommandSchema).optional(),
    unknownSubcommandLevel: levelSchema.optional(),
    see: z.array(z.string()).optional(),
  })
  .strict();

// -- best-practice checks -----------------------------------------------------------------------------

/**
 * The fixed list of checks a best-practice topic can ask for. Each can be evaluated against a live
 * cluster through the Proxmox API (the `api` hint says where to look). Parameters are validated here.
 */
export const CHECK_DEFINITIONS = {
  guest_backup_age: {
    description: 'Every VM and container has a backup newer than maxDays (vzdump archives on any backup storage or PBS).',
    api: 'GET /cluster/resources?type=vm; GET /nodes/{node}/storage/{storage}/content?content=backup (ctime, vmid)',
    params: z.object({ maxDays: z.number().positive().default(7) }).strict(),
  },
  backup_job_exists: {
    description: 'At least one enabled scheduled backup job exists and every guest is covered by one (all=1, vmid list or pool).',
    api: 'GET /cluster/backup; GET /cluster/backup-info/not-backed-up',
    params: z.object({}).strict(),
  },
  backup_retention_set: {
    description: 'Backup jobs or their target storages define a retention (prune-backups keep-* values), so old backups are pruned.',
    api: 'GET /cluster/backup (prune-backups); GET /storage/{storage} (prune-backups)',
    params: z.object({}).strict(),
  },
  backup_offsite: {
    description: 'Backups go to a Proxmox Backup Server or a shared/remote storage, not only to local disks of the node being backed up.',
    api: 'GET /cluster/backup (storage); GET /storage (type, shared)',
    params: z.object({}).strict(),
  },
  storage_usage: {
    description: 'No active storage is fuller than maxPercent.',
    api: 'GET /cluster/resources?type=storage (disk, maxdisk)',
    params: z.object({ maxPercent: z.number().min(1).max(100).default(85) }).strict(),
  },
  zfs_pool_health: {
    description: 'Every ZFS pool on every node is ONLINE with no errors.',
    api: 'GET /nodes/{node}/disks/zfs; GET /nodes/{node}/disks/zfs/{name}',
    params: z.object({}).strict(),
  },
  zfs_pool_usage: {
    description: 'No ZFS pool is fuller than maxPercent (ZFS slows down and fragments when nearly full).',
    api: 'GET /nodes/{node}/disks/zfs (size, alloc)',
    params: z.object({ maxPercent: z.number().min(1).max(100).default(80) }).strict(),
  },
  disk_health: {
    description: 'Every physical disk reports SMART health PASSED/OK.',
    api: 'GET /nodes/{node}/disks/list (health)',
    params: z.object({}).strict(),
  },
  ceph_health: {
    description: 'Ceph reports HEALTH_OK (HEALTH_WARN and HEALTH_ERR are reported with their checks).',
    api: 'GET /cluster/ceph/status or GET /nodes/{node}/ceph/status',
    params: z.object({}).strict(),
  },
  ceph_pool_replication: {
    description: 'Every replicated Ceph pool has size >= size and min_size >= minSize.',
    api: 'GET /nodes/{node}/ceph/pool (size, min_size)',
    params: z.object({ size: z.number().int().min(1).default(3), minSize: z.number().int().min(1).default(2) }).strict(),
  },
  ceph_mon_count: {
    description: 'At least min Ceph monitors exist (an odd number, on different nodes).',
    api: 'GET /cluster/ceph/status (monmap)',
    params: z.object({ min: z.number().int().min(1).default(3) }).strict(),
  },
  cluster_quorate: {
    description: 'The cluster is quorate and every node is online.',
    api: 'GET /cluster/status (type=cluster quorate; type=node online)',
    params: z.object({}).strict(),
  },
  node_count_quorum: {
    description: 'The cluster can lose one node and keep quorum: at least 3 votes, or 2 nodes plus a QDevice.',
    api: 'GET /cluster/status; GET /cluster/config/qdevice',
    params: z.object({}).strict(),
  },
  corosync_redundant_links: {
    description: 'Every cluster node has at least two corosync links (link0 and link1), ideally on separate networks.',
    api: 'GET /cluster/config/nodes (ring0_addr, ring1_addr / link addresses)',
    params: z.object({}).strict(),
  },
  ha_groups: {
    description: 'HA resources are bound to node groups or node-affinity rules (PVE 9 rules), not left to float anywhere.',
    api: 'GET /cluster/ha/resources; GET /cluster/ha/groups (PVE 8) or GET /cluster/ha/rules (PVE 9)',
    params: z.object({}).strict(),
  },
  ha_fencing_ready: {
    description: 'HA is only used on a quorate cluster of at least 3 votes, so fencing and recovery can work.',
    api: 'GET /cluster/ha/status/current; GET /cluster/status',
    params: z.object({}).strict(),
  },
  token_privsep: {
    description: 'Every API token uses privilege separation (privsep=1) and has its own ACL entries.',
    api: 'GET /access/users?full=1 (tokens[].privsep); GET /access/acl',
    params: z.object({}).strict(),
  },
  no_root_tokens: {
    description: 'No API token belongs to root@pam.',
    api: 'GET /access/users/root@pam/token',
    params: z.object({}).strict(),
  },
  token_expiry: {
    description: 'API tokens have an expiry date no further than maxDays ahead (0 = never expires is reported).',
    api: 'GET /access/users?full=1 (tokens[].expire)',
    params: z.object({ maxDays: z.number().int().positive().default(365) }).strict(),
  },
  root_tfa: {
    description: 'root@pam has a second factor (TOTP, WebAuthn or recovery keys) configured.',
    api: 'GET /access/tfa/root@pam',
    params: z.object({}).strict(),
  },
  admin_acl_scope: {
    description: 'The Administrator role is granted to as few users/tokens as possible (at most maxAdmins besides root@pam).',
    api: 'GET /access/acl (roleid=Administrator)',
    params: z.object({ maxAdmins: z.number().int().min(0).default(2) }).strict(),
  },
  firewall_enabled: {
    description: 'The datacenter firewall is enabled (and the node firewalls are not disabled).',
    api: 'GET /cluster/firewall/options (enable); GET /nodes/{node}/firewall/options',
    params: z.object({}).strict(),
  },
  no_subscription_repo: {
    description: 'A node without a valid subscription does not use the enterprise repository (its updates would fail) and has the no-subscription repository instead; a node with a subscription uses the enterprise repository.',
    api: 'GET /nodes/{node}/subscription; GET /nodes/{node}/apt/repositories',
    params: z.object({}).strict(),
  },
  test_repo_disabled: {
    description: 'The pvetest repository is not enabled on production nodes.',
    api: 'GET /nodes/{node}/apt/repositories',
    params: z.object({}).strict(),
  },
  updates_pending: {
    description: 'Nodes have at most maxCount pending package updates (security updates are always reported).',
    api: 'GET /nodes/{node}/apt/update',
    params: z.object({ maxCount: z.number().int().min(0).default(0) }).strict(),
  },
  node_versions_match: {
    description: 'All nodes run the same pve-manager version.',
    api: 'GET /nodes/{node}/version',
    params: z.object({}).strict(),
  },
  node_resource_usage: {
    description: 'No node uses more than maxCpuPercent CPU or maxMemoryPercent memory.',
    api: 'GET /cluster/resources?type=node (cpu, mem, maxmem)',
    params: z.object({ maxCpuPercent: z.number().min(1).max(100).default(90), maxMemoryPercent: z.number().min(1).max(100).default(90) }).strict(),
  },
  guest_agent_enabled: {
    description: 'Every VM has the QEMU guest agent option enabled (agent: 1) and, when running, the agent answers.',
    api: 'GET /nodes/{node}/qemu/{vmid}/config (agent); GET /nodes/{node}/qemu/{vmid}/agent/ping',
    params: z.object({}).strict(),
  },
  vm_scsi_controller: {
    description: 'VMs use the VirtIO SCSI controller (virtio-scsi-single or virtio-scsi-pci) for their disks.',
    api: 'GET /nodes/{node}/qemu/{vmid}/config (scsihw, disk keys)',
    params: z.object({}).strict(),
  },
  vm_cpu_type: {
    description: 'VMs do not use an outdated CPU model (kvm64/qemu64) unless they need to migrate between mixed CPUs.',
    api: 'GET /nodes/{node}/qemu/{vmid}/config (cpu)',
    params: z.object({ disallow: z.array(z.string()).default(['kvm64', 'qemu64']) }).strict(),
  },
  vm_disk_discard: {
    description: 'VM disks on thin-provisioned storage (ZFS, LVM-thin, Ceph) have discard=on so freed space returns to the pool.',
    api: 'GET /nodes/{node}/qemu/{vmid}/config (scsiN/virtioN discard); GET /storage',
    params: z.object({}).strict(),
  },
  ct_unprivileged: {
    description: 'Containers are unprivileged (unprivileged: 1).',
    api: 'GET /nodes/{node}/lxc/{vmid}/config (unprivileged)',
    params: z.object({}).strict(),
  },
  templates_have_cloudinit: {
    description: 'VM templates have a cloud-init drive (ideCloudinit/scsiN: ...:cloudinit) and a serial console for cloud images.',
    api: 'GET /cluster/resources?type=vm (template=1); GET /nodes/{node}/qemu/{vmid}/config',
    params: z.object({}).strict(),
  },
  snapshots_age: {
    description: 'No guest snapshot is older than maxDays (old snapshots grow and slow storage down).',
    api: 'GET /nodes/{node}/qemu/{vmid}/snapshot; GET /nodes/{node}/lxc/{vmid}/snapshot (snaptime)',
    params: z.object({ maxDays: z.number().positive().default(14) }).strict(),
  },
  snapshots_count: {
    description: 'No guest has more than max snapshots.',
    api: 'GET /nodes/{node}/{qemu|lxc}/{vmid}/snapshot',
    params: z.object({ max: z.number().int().positive().default(5) }).strict(),
  },
  notification_target: {
    description: 'A notification target other than the default mail to root exists, and a matcher routes errors to it (PVE 8.1+).',
    api: 'GET /cluster/notifications/targets; GET /cluster/notifications/matchers',
    params: z.object({}).strict(),
  },
  metric_server: {
    description: 'An external metric server (InfluxDB or Graphite) receives node, guest and storage metrics.',
    api: 'GET /cluster/metrics/server',
    params: z.object({}).strict(),
  },
  node_time_sync: {
    description: "Each node's clock is within maxSkewSeconds of this server's clock (corosync and Ceph need synchronised time).",
    api: 'GET /nodes/{node}/time (time)',
    params: z.object({ maxSkewSeconds: z.number().positive().default(2) }).strict(),
  },
  bridge_vlan_aware: {
    description: 'Bridges that carry guest VLAN tags are VLAN-aware, instead of one bridge per VLAN.',
    api: 'GET /nodes/{node}/network?type=bridge (bridge_vlan_aware); guest netN tag=',
    params: z.object({}).strict(),
  },
} as const;

export type CheckId = keyof typeof CHECK_DEFINITIONS;
export const CHECK_IDS = Object.keys(CHECK_DEFINITIONS) as CheckId[];

export interface CheckDefinition {
  id: CheckId;
  description: string;
  api: string;
  /** Parameter names with their defaults. */
  defaults: Record<string, unknown>;
}

// -- best-practice topics -----------------------------------------------------------------------------

const practiceSchema = z
  .object({
    title: z.string().min(1),
    why: z.string().min(1),
    /** Concrete steps; commands in backticks. */
    how: z.array(z.string().min(1)).min(1),
    /** Commands that apply or verify it. */
    commands: z.array(z.string()).optional(),
    /** Proxmox API calls that apply or verify it. */
    api: z.array(z.string()).optional(),
  })
  .strict();

const topicCheckSchema = z
  .object({
    id: z.string(),
    params: z.record(z.string(), z.unknown()).optional(),
    /** Why this check matters for this topic (shown with its result). */
    why: z.string().optional(),
  })
  .strict();

const topicSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
    title: z.string().min(1),
    aliases: z.array(z.string()).optional(),
    appliesTo: z.string().min(1),
    summary: z.string().min(1),
    practices: z.array(practiceSchema).min(1),
    mistakes: z.array(z.string().min(1)).min(1),
    checks: z.array(topicCheckSchema),
    related: z.array(z.string()).optional(),
  })
  .strict();

export type Practice = z.infer<typeof practiceSchema>;

export interface TopicCheck {
  id: CheckId;
  /** Validated parameters with defaults filled in. */
  params: Record<string, unknown>;
  why?: string;
}

export interface Topic extends Omit<z.infer<typeof topicSchema>, 'checks'> {
  checks: TopicCheck[];
}

export interface TopicSummary {
  id: string;
  title: string;
  summary: string;
  checks: CheckId[];
}

// -- the loaded knowledge -------------------------------------------------------------------------------

export interface Knowledge {
  /** The folder it was loaded from. */
  readonly dir: string;
  /** The description of a program (by name, alias or path: `/usr/sbin/qm` -> qm), if known. */
  command(program: string): CommandSpec | undefined;
  commands(): CommandSpec[];
  topics(): TopicSummary[];
  /** A topic by id or alias (case-insensitive). */
  topic(id: string): Topic | undefined;
  /** The fixed list of check ids topics may use. */
  checks(): CheckDefinition[];
}

export class KnowledgeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KnowledgeError';
  }
}

const cache = new Map<string, Knowledge>();

/** Loads (once per folder) and validates the knowledge base. Throws KnowledgeError naming every broken file. */
export function loadKnowledge(dir: string = projectPath('knowledge')): Knowledge {
  const hit = cache.get(dir);
  if (hit) return hit;
  const knowledge = readKnowledge(dir);
  cache.set(dir, knowledge);
  return knowledge;
}

/** Forgets cached knowledge (tests, reload after an update). */
export function clearKnowledgeCache(): void {
  cache.clear();
}

function jsonFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new KnowledgeError(`Cannot read the knowledge folder ${dir}: ${(error as Error).message}`);
  }
  return names.filter((n) => n.endsWith('.json')).sort().map((n) => join(dir, n));
}

function readJson(file: string, problems: string[]): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    problems.push(`${file}: not valid JSON (${(error as Error).message})`);
    return undefined;
  }
}

function describeIssues(file: string, error: z.ZodError): string {
  return error.issues
    .slice(0, 8)
    .map((i) => `${file}: ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('\n');
}

function readKnowledge(dir: string): Knowledge {
  const problems: string[] = [];
  const commands = new Map<string, CommandSpec>();
  const aliasPatterns: { pattern: RegExp; spec: CommandSpec }[] = [];

  for (const file of jsonFiles(join(dir, 'commands'))) {
    const raw = readJson(file, problems);
    if (raw === undefined) continue;
    const parsed = commandSchema.safeParse(raw);
    if (!parsed.success) {
      problems.push(describeIssues(file, parsed.error));
      continue;
    }
    const spec = parsed.data;
    if (basename(file, '.json') !== spec.program) {
      problems.push(`${file}: program is "${spec.program}" but the file must be named ${spec.program}.json`);
      continue;
    }
    for (const name of [spec.program, ...(spec.aliases ?? [])]) {
      if (name.includes('*')) {
        const re = new RegExp('^' + name.split('*').map(escapeRegex).join('.*') + '$');
        aliasPatterns.push({ pattern: re, spec });
        continue;
      }
      const other = commands.get(name);
      if (other) problems.push(`${file}: "${name}" is already described by ${other.program}.json`);
      else commands.set(name, spec);
    }
  }

  const topics = new Map<string, Topic>();
  const topicAliases = new Map<string, Topic>();
  for (const file of jsonFiles(join(dir, 'best-practices'))) {
    const raw = readJson(file, problems);
    if (raw === undefined) continue;
    const parsed = topicSchema.safeParse(raw);
    if (!parsed.success) {
      problems.push(describeIssues(file, parsed.error));
      continue;
    }
    const t = parsed.data;
    if (basename(file, '.json') !== t.id) {
      problems.push(`${file}: id is "${t.id}" but the file must be named ${t.id}.json`);
      continue;
    }
    const checks: TopicCheck[] = [];
    for (const [index, c] of t.checks.entries()) {
      const def = (CHECK_DEFINITIONS as Record<string, (typeof CHECK_DEFINITIONS)[CheckId]>)[c.id];
      if (!def) {
        problems.push(`${file}: checks.${index}: unknown check id "${c.id}" (known: ${CHECK_IDS.join(', ')})`);
        continue;
      }
      const params = def.params.safeParse(c.params ?? {});
      if (!params.success) {
        problems.push(describeIssues(`${file} checks.${index} (${c.id})`, params.error));
        continue;
      }
      checks.push({ id: c.id as CheckId, params: params.data as Record<string, unknown>, ...(c.why ? { why: c.why } : {}) });
    }
    const topic: Topic = { ...t, checks };
    topics.set(t.id, topic);
    for (const a of t.aliases ?? []) topicAliases.set(a.toLowerCase(), topic);
  }

  if (problems.length > 0) {
    throw new KnowledgeError(`The knowledge base in ${dir} has errors:\n${problems.join('\n')}`);
  }

  const uniqueCommands = [...new Set(commands.values()), ...aliasPatterns.map((a) => a.spec)];
  const allCommands = [...new Set(uniqueCommands)].sort((a, b) => a.program.localeCompare(b.program));
  const checkDefs: CheckDefinition[] = CHECK_IDS.map((id) => ({
    id,
    description: CHECK_DEFINITIONS[id].description,
    api: CHECK_DEFINITIONS[id].api,
    defaults: CHECK_DEFINITIONS[id].params.parse({}) as Record<string, unknown>,
  }));

  return {
    dir,
    command(program: string) {
      const name = program.includes('/') ? program.slice(program.lastIndexOf('/') + 1) : program;
      return commands.get(name) ?? aliasPatterns.find((a) => a.pattern.test(name))?.spec;
    },
    commands: () => allCommands,
    topics: () =>
      [...topics.values()]
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((t) => ({ id: t.id, title: t.title, summary: t.summary, checks: t.checks.map((c) => c.id) })),
    topic(id: string) {
      const key = id.trim().toLowerCase();
      return topics.get(key) ?? topicAliases.get(key);
    },
    checks: () => checkDefs,
  };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
