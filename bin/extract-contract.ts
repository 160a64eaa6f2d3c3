/**
 * Writes lib/pve/api-contract.json: for every Proxmox VE endpoint this project calls (and the simulator
 * serves), the facts from the official API schema that a client or a validator needs. Facts only: method,
 * path template, parameters (type, format, enum, bounds, pattern, length, optional, default), whether the
 * call returns a UPID, allowtoken and the permission check.
 *
 * Usage: node dist/bin/extract-contract.js [path/to/pve-api]   (default ../shared/pve-api)
 * One contract for both versions the simulator speaks. The 9.1 schema is the source; what differs in 8.4 is
 * marked: an endpoint or parameter missing from 8.4 carries `since: "9"`, one that 9.1 removed carries
 * `until: "8"` (its facts then come from 8.4), and facts that changed (permissions, enum, format, default,
 * bounds) are kept under the endpoint's `"8.4"` key as a patch: `{ permissions?, params?: { name: {...} } }`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { projectRoot } from '../lib/paths.ts';

/** The endpoints we use. Adding one here and re-running the script is how the contract grows. */
export const CONTRACT_ENDPOINTS: readonly string[] = [
  'GET /version',
  'GET /cluster/status',
  'GET /cluster/resources',
  'GET /cluster/nextid',
  'GET /cluster/tasks',
  'GET /cluster/ha/status/current',
  'GET /cluster/ha/resources',
  // HA groups (PVE 8; on 9 they answer "ha groups have been migrated to rules") and HA rules (PVE 9 only)
  'GET /cluster/ha/groups',
  'POST /cluster/ha/groups',
  'GET /cluster/ha/groups/{group}',
  'DELETE /cluster/ha/groups/{group}',
  'GET /cluster/ha/rules',
  'POST /cluster/ha/rules',
  'GET /cluster/ha/rules/{rule}',
  'DELETE /cluster/ha/rules/{rule}',
  // HA resources: add, change, remove, migrate/relocate through HA (issue 17)
  'POST /cluster/ha/resources',
  'GET /cluster/ha/resources/{sid}',
  'PUT /cluster/ha/resources/{sid}',
  'DELETE /cluster/ha/resources/{sid}',
  'POST /cluster/ha/resources/{sid}/migrate',
  'POST /cluster/ha/resources/{sid}/relocate',
  // metrics history (issue 17)
  'GET /nodes/{node}/rrddata',
  'GET /nodes/{node}/qemu/{vmid}/rrddata',
  'GET /nodes/{node}/lxc/{vmid}/rrddata',
  'GET /nodes/{node}/storage/{storage}/rrddata',
  // firewall: cluster, node and guest rules and options, security groups, aliases, IP sets (issue 17)
  'GET /cluster/firewall/options',
  'PUT /cluster/firewall/options',
  'GET /cluster/firewall/rules',
  'POST /cluster/firewall/rules',
  'GET /cluster/firewall/rules/{pos}',
  'PUT /cluster/firewall/rules/{pos}',
  'DELETE /cluster/firewall/rules/{pos}',
  'GET /cluster/firewall/groups',
  'POST /cluster/firewall/groups',
  'GET /cluster/firewall/groups/{group}',
  'POST /cluster/firewall/groups/{group}',
  'DELETE /cluster/firewall/groups/{group}',
  'PUT /cluster/firewall/groups/{group}/{pos}',
  'DELETE /cluster/firewall/groups/{group}/{pos}',
  'GET /cluster/firewall/aliases',
  'POST /cluster/firewall/aliases',
  'PUT /cluster/firewall/aliases/{name}',
  'DELETE /cluster/firewall/aliases/{name}',
  'GET /cluster/firewall/ipset',
  'POST /cluster/firewall/ipset',
  'GET /cluster/firewall/ipset/{name}',
  'POST /cluster/firewall/ipset/{name}',
  'DELETE /cluster/firewall/ipset/{name}',
  'DELETE /cluster/firewall/ipset/{name}/{cidr}',
  'GET /nodes/{node}/firewall/options',
  'PUT /nodes/{node}/firewall/options',
  'GET /nodes/{node}/firewall/rules',
  'POST /nodes/{node}/firewall/rules',
  'PUT /nodes/{node}/firewall/rules/{pos}',
  'DELETE /nodes/{node}/firewall/rules/{pos}',
  'GET /nodes/{node}/qemu/{vmid}/firewall/options',
  'PUT /nodes/{node}/qemu/{vmid}/firewall/options',
  'GET /nodes/{node}/qemu/{vmid}/firewall/rules',
  'POST /nodes/{node}/qemu/{vmid}/firewall/rules',
  'PUT /nodes/{node}/qemu/{vmid}/firewall/rules/{pos}',
  'DELETE /nodes/{node}/qemu/{vmid}/firewall/rules/{pos}',
  'GET /nodes/{node}/lxc/{vmid}/firewall/options',
  'PUT /nodes/{node}/lxc/{vmid}/firewall/options',
  'GET /nodes/{node}/lxc/{vmid}/firewall/rules',
  'POST /nodes/{node}/lxc/{vmid}/firewall/rules',
  'PUT /nodes/{node}/lxc/{vmid}/firewall/rules/{pos}',
  'DELETE /nodes/{node}/lxc/{vmid}/firewall/rules/{pos}',
  // guest aliases and IP sets, the firewall log (node, guest), the SDN vnet firewall (issue 17 follow-up)
  'GET /nodes/{node}/firewall/log',
  'GET /nodes/{node}/qemu/{vmid}/firewall/aliases',
  'POST /nodes/{node}/qemu/{vmid}/firewall/aliases',
  'PUT /nodes/{node}/qemu/{vmid}/firewall/aliases/{name}',
  'DELETE /nodes/{node}/qemu/{vmid}/firewall/aliases/{name}',
  'GET /nodes/{node}/qemu/{vmid}/firewall/ipset',
  'POST /nodes/{node}/qemu/{vmid}/firewall/ipset',
  'GET /nodes/{node}/qemu/{vmid}/firewall/ipset/{name}',
  'POST /nodes/{node}/qemu/{vmid}/firewall/ipset/{name}',
  'DELETE /nodes/{node}/qemu/{vmid}/firewall/ipset/{name}',
  'DELETE /nodes/{node}/qemu/{vmid}/firewall/ipset/{name}/{cidr}',
  'GET /nodes/{node}/qemu/{vmid}/firewall/log',
  'GET /nodes/{node}/lxc/{vmid}/firewall/aliases',
  'POST /nodes/{node}/lxc/{vmid}/firewall/aliases',
  'PUT /nodes/{node}/lxc/{vmid}/firewall/aliases/{name}',
  'DELETE /nodes/{node}/lxc/{vmid}/firewall/aliases/{name}',
  'GET /nodes/{node}/lxc/{vmid}/firewall/ipset',
  'POST /nodes/{node}/lxc/{vmid}/firewall/ipset',
  'GET /nodes/{node}/lxc/{vmid}/firewall/ipset/{name}',
  'POST /nodes/{node}/lxc/{vmid}/firewall/ipset/{name}',
  'DELETE /nodes/{node}/lxc/{vmid}/firewall/ipset/{name}',
  'DELETE /nodes/{node}/lxc/{vmid}/firewall/ipset/{name}/{cidr}',
  'GET /nodes/{node}/lxc/{vmid}/firewall/log',
  'GET /cluster/sdn/vnets/{vnet}/firewall/options',
  'PUT /cluster/sdn/vnets/{vnet}/firewall/options',
  'GET /cluster/sdn/vnets/{vnet}/firewall/rules',
  'POST /cluster/sdn/vnets/{vnet}/firewall/rules',
  'PUT /cluster/sdn/vnets/{vnet}/firewall/rules/{pos}',
  'DELETE /cluster/sdn/vnets/{vnet}/firewall/rules/{pos}',
  // backup volumes: notes, protection, prune (issue 17; any backup storage, PBS included)
  'PUT /nodes/{node}/storage/{storage}/content/{volume}',
  'GET /nodes/{node}/storage/{storage}/prunebackups',
  'DELETE /nodes/{node}/storage/{storage}/prunebackups',
  // Ceph, SDN and replication (issue 17)
  'GET /cluster/ceph/status',
  'GET /nodes/{node}/ceph/osd',
  'GET /nodes/{node}/ceph/pool',
  'GET /cluster/sdn/zones',
  'GET /cluster/sdn/vnets',
  'GET /cluster/sdn/vnets/{vnet}/subnets',
  'PUT /cluster/sdn',
  'GET /cluster/replication',
  'GET /nodes/{node}/replication',
  'GET /cluster/backup',
  'GET /cluster/config/nodes',
  'DELETE /cluster/config/nodes/{node}',
  'GET /pools',
  'GET /nodes',
  'GET /nodes/{node}/status',
  'GET /nodes/{node}/version',
  'GET /nodes/{node}/tasks',
  'GET /nodes/{node}/tasks/{upid}/status',
  'GET /nodes/{node}/tasks/{upid}/log',
  'DELETE /nodes/{node}/tasks/{upid}',
  'GET /nodes/{node}/apt/update',
  'POST /nodes/{node}/vzdump',
  // QEMU
  'GET /nodes/{node}/qemu',
  'POST /nodes/{node}/qemu',
  'DELETE /nodes/{node}/qemu/{vmid}',
  'GET /nodes/{node}/qemu/{vmid}/status/current',
  'POST /nodes/{node}/qemu/{vmid}/status/start',
  'POST /nodes/{node}/qemu/{vmid}/status/stop',
  'POST /nodes/{node}/qemu/{vmid}/status/shutdown',
  'POST /nodes/{node}/qemu/{vmid}/status/reboot',
  'POST /nodes/{node}/qemu/{vmid}/status/reset',
  'POST /nodes/{node}/qemu/{vmid}/status/suspend',
  'POST /nodes/{node}/qemu/{vmid}/status/resume',
  'GET /nodes/{node}/qemu/{vmid}/config',
  'PUT /nodes/{node}/qemu/{vmid}/config',
  'POST /nodes/{node}/qemu/{vmid}/config',
  'GET /nodes/{node}/qemu/{vmid}/pending',
  'GET /nodes/{node}/qemu/{vmid}/snapshot',
  'POST /nodes/{node}/qemu/{vmid}/snapshot',
  'DELETE /nodes/{node}/qemu/{vmid}/snapshot/{snapname}',
  'GET /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config',
  'POST /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback',
  'POST /nodes/{node}/qemu/{vmid}/clone',
  'GET /nodes/{node}/qemu/{vmid}/migrate',
  'POST /nodes/{node}/qemu/{vmid}/migrate',
  'POST /nodes/{node}/qemu/{vmid}/template',
  'PUT /nodes/{node}/qemu/{vmid}/resize',
  'GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces',
  'GET /nodes/{node}/qemu/{vmid}/agent/get-osinfo',
  'POST /nodes/{node}/qemu/{vmid}/agent/ping',
  'POST /nodes/{node}/qemu/{vmid}/agent/exec',
  'GET /nodes/{node}/qemu/{vmid}/agent/exec-status',
  // LXC
  'GET /nodes/{node}/lxc',
  'POST /nodes/{node}/lxc',
  'DELETE /nodes/{node}/lxc/{vmid}',
  'GET /nodes/{node}/lxc/{vmid}/status/current',
  'POST /nodes/{node}/lxc/{vmid}/status/start',
  'POST /nodes/{node}/lxc/{vmid}/status/stop',
  'POST /nodes/{node}/lxc/{vmid}/status/shutdown',
  'POST /nodes/{node}/lxc/{vmid}/status/reboot',
  'POST /nodes/{node}/lxc/{vmid}/status/suspend',
  'POST /nodes/{node}/lxc/{vmid}/status/resume',
  'GET /nodes/{node}/lxc/{vmid}/config',
  'PUT /nodes/{node}/lxc/{vmid}/config',
  'GET /nodes/{node}/lxc/{vmid}/pending',
  'GET /nodes/{node}/lxc/{vmid}/snapshot',
  'POST /nodes/{node}/lxc/{vmid}/snapshot',
  'DELETE /nodes/{node}/lxc/{vmid}/snapshot/{snapname}',
  'GET /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config',
  'POST /nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback',
  'POST /nodes/{node}/lxc/{vmid}/clone',
  'POST /nodes/{node}/lxc/{vmid}/migrate',
  'POST /nodes/{node}/lxc/{vmid}/template',
  'PUT /nodes/{node}/lxc/{vmid}/resize',
  'GET /nodes/{node}/lxc/{vmid}/interfaces',
  // Storage
  'GET /storage',
  'GET /storage/{storage}',
  'GET /nodes/{node}/storage',
  'GET /nodes/{node}/storage/{storage}/status',
  'GET /nodes/{node}/storage/{storage}/content',
  'GET /nodes/{node}/storage/{storage}/content/{volume}',
  'DELETE /nodes/{node}/storage/{storage}/content/{volume}',
  'POST /nodes/{node}/storage/{storage}/download-url',
  // Network
  'GET /nodes/{node}/network',
  'POST /nodes/{node}/network',
  'PUT /nodes/{node}/network',
  'DELETE /nodes/{node}/network',
  'GET /nodes/{node}/network/{iface}',
  'PUT /nodes/{node}/network/{iface}',
  'DELETE /nodes/{node}/network/{iface}',
  // Access control
  'GET /access/users',
  'POST /access/users',
  'GET /access/users/{userid}',
  'PUT /access/users/{userid}',
  'DELETE /access/users/{userid}',
  'GET /access/users/{userid}/token',
  'GET /access/users/{userid}/token/{tokenid}',
  'POST /access/users/{userid}/token/{tokenid}',
  'PUT /access/users/{userid}/token/{tokenid}',
  'DELETE /access/users/{userid}/token/{tokenid}',
  'GET /access/groups',
  'POST /access/groups',
  'GET /access/groups/{groupid}',
  'PUT /access/groups/{groupid}',
  'DELETE /access/groups/{groupid}',
  'GET /access/roles',
  'POST /access/roles',
  'GET /access/roles/{roleid}',
  'PUT /access/roles/{roleid}',
  'DELETE /access/roles/{roleid}',
  'GET /access/acl',
  'PUT /access/acl',
  'GET /access/permissions',
  'PUT /access/password',
];

interface SchemaNode {
  path: string;
  info?: Record<string, SchemaMethod>;
  children?: SchemaNode[];
}
interface SchemaMethod {
  allowtoken?: number;
  parameters?: { properties?: Record<string, Record<string, unknown>> };
  permissions?: Record<string, unknown> | null;
  returns?: Record<string, unknown>;
  protected?: number;
}

export function indexSchema(tree: SchemaNode[]): Map<string, SchemaMethod> {
  const out = new Map<string, SchemaMethod>();
  const visit = (node: SchemaNode) => {
    for (const [method, info] of Object.entries(node.info ?? {})) out.set(`${method} ${node.path}`, info);
    for (const child of node.children ?? []) visit(child);
  };
  for (const root of tree) visit(root);
  return out;
}

const KEPT_KEYS = ['type', 'enum', 'minimum', 'maximum', 'pattern', 'maxLength', 'minLength', 'default'] as const;

function indexedCategory(path: string): string | undefined {
  if (path.startsWith('/nodes/{node}/qemu')) return 'qemu';
  if (path.startsWith('/nodes/{node}/lxc')) return 'lxc';
  return undefined;
}

function main(): void {
  const apiDir = resolve(process.argv[2] ?? join(projectRoot, '..', 'shared', 'pve-api'));
  const s91 = indexSchema(JSON.parse(readFileSync(join(apiDir, 'schema-9.1.json'), 'utf8')));
  const s84 = indexSchema(JSON.parse(readFileSync(join(apiDir, 'schema-8.4.json'), 'utf8')));
  const indexed = JSON.parse(readFileSync(join(apiDir, 'indexed-params.json'), 'utf8')) as Record<string, Record<string, [number, number]>>;
  const upidColumn = new Map<string, string>();
  for (const file of ['endpoints-8.4.tsv', 'endpoints-9.1.tsv']) {
    for (const line of readFileSync(join(apiDir, file), 'utf8').split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const [method, path, returnsUpid] = line.split('\t');
      upidColumn.set(`${method} ${path}`, returnsUpid);
    }
  }

  const endpoints: Record<string, unknown> = {};
  for (const key of CONTRACT_ENDPOINTS) {
    const info = s91.get(key);
    const old = s84.get(key);
    if (!info && !old) throw new Error(`${key} is in neither the PVE 9.1 nor the PVE 8.4 schema`);
    const path = key.slice(key.indexOf(' ') + 1);
    const category = indexedCategory(path);
    const props91 = info?.parameters?.properties ?? {};
    const props84 = old?.parameters?.properties ?? {};
    const params: Record<string, Record<string, unknown>> = {};
    const patch84: Record<string, Record<string, unknown>> = {};
    const names = [...new Set([...Object.keys(info ? props91 : props84), ...Object.keys(info && old ? props84 : {})])].sort((a, b) => a.localeCompare(b));
    for (const name of names) {
      const in91 = info ? props91[name] : undefined;
      const in84 = old ? props84[name] : undefined;
      const p = paramFacts(name, (in91 ?? in84)!, key, category, indexed);
      if (info && old && !in84) p.since = '9';
      if (info && old && !in91) p.until = '8';
      params[name] = p;
      if (in91 && in84) {
        const p84 = paramFacts(name, in84, key, category, indexed);
        const diff: Record<string, unknown> = {};
        for (const k of new Set([...Object.keys(p), ...Object.keys(p84)])) {
          if (k === 'since' || k === 'until') continue;
          if (JSON.stringify(p[k]) !== JSON.stringify(p84[k])) diff[k] = p84[k] ?? null;
        }
        if (Object.keys(diff).length) patch84[name] = diff;
      }
    }
    const returnsUpid = upidColumn.get(key) ?? 'no';
    const perm91 = info?.permissions ? compactPermissions(info.permissions) : null;
    const perm84 = old?.permissions ? compactPermissions(old.permissions) : null;
    const v84: Record<string, unknown> = {};
    if (info && old && JSON.stringify(perm91) !== JSON.stringify(perm84)) v84.permissions = perm84;
    if (Object.keys(patch84).length) v84.params = patch84;
    const src = (info ?? old)!;
    endpoints[key] = {
      returns_upid: returnsUpid === 'yes' ? true : returnsUpid === 'no' ? false : returnsUpid,
      returns: src.returns?.type ?? null,
      ...(src.allowtoken === 0 ? { allowtoken: 0 } : {}),
      permissions: info ? perm91 : perm84,
      ...(old ? {} : { since: '9' }),
      ...(info ? {} : { until: '8' }),
      params,
      ...(Object.keys(v84).length ? { '8.4': v84 } : {}),
    };
  }
  const contract = {
    _about:
      'Proxmox VE API endpoints proxmox-mcp calls, with facts from the official schemas (pve-docs api-viewer apidata.js, PVE 9.1 and 8.4). Facts are 9.1 unless marked: since:"9" = absent in 8.4, until:"8" = removed in 9.x, an endpoint\'s "8.4" key patches permissions and parameter facts for 8.4. Generated by bin/extract-contract.ts; do not edit by hand. Indexed params like net[n] carry their inclusive index range.',
    endpoints,
  };
  const target = join(projectRoot, 'lib', 'pve', 'api-contract.json');
  // One endpoint per line: compact, and a diff shows which endpoint changed.
  const lines = Object.entries(endpoints).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  writeFileSync(target, `{\n "_about": ${JSON.stringify(contract._about)},\n "endpoints": {\n${lines.join(',\n')}\n }\n}\n`);
  console.log(`wrote ${Object.keys(endpoints).length} endpoints to ${target}`);
}

function paramFacts(
  name: string,
  spec: Record<string, unknown>,
  key: string,
  category: string | undefined,
  indexed: Record<string, Record<string, [number, number]>>,
): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  for (const k of KEPT_KEYS) if (spec[k] !== undefined) p[k] = spec[k];
  if (typeof spec.format === 'string') p.format = spec.format;
  else if (spec.format && typeof spec.format === 'object') p.format = 'property-string';
  if (spec.type === 'array' && spec.items && typeof spec.items === 'object') {
    const items = spec.items as Record<string, unknown>;
    p.items = { type: items.type ?? 'string', ...(typeof items.format === 'string' ? { format: items.format } : {}) };
  }
  if (spec.optional) p.optional = 1;
  if (name.endsWith('[n]')) {
    const range = category ? indexed[category]?.[name] : undefined;
    if (!range) throw new Error(`no index range for ${name} on ${key}`);
    p.index = range;
  }
  return p;
}

function compactPermissions(perm: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (perm.check !== undefined) out.check = perm.check;
  if (perm.user !== undefined) out.user = perm.user;
  if (perm.description !== undefined && perm.check === undefined) out.description = perm.description;
  return out;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('extract-contract.ts') || process.argv[1]?.endsWith('extract-contract.js')) {
  main();
}
