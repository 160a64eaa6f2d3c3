/**
 * The node this server runs on and the disks of every node, with the same answer as in the shell:
 * the main node is not removed from the cluster, rebooted or shut down, and the services this server
 * needs there (pveproxy, pvedaemon, pve-cluster, corosync, sshd) are not stopped; no disk is wiped and
 * no storage that holds guest volumes (LVM, LVM-thin, ZFS, directory, Ceph pool) is destroyed; no node
 * console (a host shell outside these rules) is opened; the main node's API certificate (the one this
 * server verifies) is not replaced, renewed or removed; no batch of
 * API calls (POST /nodes/{node}/execute) is sent, since the calls inside it would not pass these rules.
 * When the main node is not known, every node counts as main.
 *
 * stopall, suspendall and migrateall (pve-manager Nodes.pm) act on the node's guests, not on the host:
 * this server runs in a container on the host, not in a guest, so they do not cut it off and are not
 * refused here (the shell and confirmations treat them as destructive).
 */
import { paramItems, paramReadings, type NormalizedRequest } from '../normalize.ts';
import { splitList } from '../split-list.ts';
import { maybeTrue, refuse, type PolicyRule, type ProtectionContext } from './common.ts';

/** Services whose stop on the main node leaves this server without Proxmox (API, cluster file system, quorum, SSH). */
const cutOffServices = new Set(['pveproxy', 'pvedaemon', 'pve-cluster', 'corosync', 'sshd', 'ssh']);

/** `localhost` is Proxmox's name for the node that answers the API, so it counts as the main node too. */
async function isMain(node: string, ctx: ProtectionContext): Promise<{ main: boolean; known: boolean }> {
  const main = (await ctx.mainNode())?.toLowerCase();
  return { main: !main || node === main || node === 'localhost', known: Boolean(main) };
}

async function check(req: NormalizedRequest, ctx: ProtectionContext): Promise<void> {
  const [first, second, third, fourth] = req.segments;
  if (first === 'cluster' && second === 'config' && third === 'nodes' && fourth && req.method === 'DELETE') {
    const { main, known } = await isMain(fourth, ctx);
    if (main) {
      refuse(
        known
          ? `Node ${fourth} is the main node of this cluster (the one this server runs on) and cannot be removed from the cluster.`
          : `Node ${fourth} may be the main node of this cluster (the server could not tell which node is main), so it is not removed. Set MCP_MAIN_NODE to allow removing other nodes.`,
      );
    }
  }
  if (first !== 'nodes' || !second) return;
  if (third === 'status' && !fourth && req.method === 'POST') {
    const commands = paramItems(req, 'command');
    const power = commands.find((command) => command === 'reboot' || command === 'shutdown');
    if (power) {
      const { main, known } = await isMain(second, ctx);
      if (main) {
        refuse(
          known
            ? `Node ${second} is the main node (this server runs on it): ${power} is not sent through this server, as in the shell. Migrate the guests and ${power} it from the console or the web UI.`
            : `Node ${second} may be the main node (the server could not tell which node is main), so ${power} is not sent. Set MCP_MAIN_NODE.`,
        );
      }
    }
  }
  if (third === 'disks' && fourth === 'wipedisk') refuse(`Wiping a disk on ${second} is not done through this server (as in the shell): it destroys everything on the disk. Do it on the host.`);
  // Removing a storage's volume group, thin pool, ZFS pool or directory (and wiping its disks with
  // cleanup-disks) destroys every guest volume on it, protected guests' included: the same class as a wipe.
  if (third === 'disks' && ['lvm', 'lvmthin', 'zfs', 'directory'].includes(fourth ?? '') && req.segments[4] !== undefined && req.method === 'DELETE') {
    refuse(`Removing the ${fourth} storage ${req.originalSegments[4] ?? req.segments[4]} on ${second} destroys every volume on it (guests' disks and backups included) and can wipe its disks; it is not done through this server. Do it on the host.`);
  }
  // A Ceph pool holds the RBD disks of every guest on it; an OSD destroyed with cleanup wipes its disk.
  if (third === 'ceph' && fourth === 'pool' && req.segments[4] !== undefined && req.method === 'DELETE') {
    refuse(`Destroying Ceph pool ${req.originalSegments[4] ?? req.segments[4]} destroys every guest disk in it; it is not done through this server. Do it on the host.`);
  }
  if (third === 'ceph' && fourth === 'osd' && req.segments[4] !== undefined && req.method === 'DELETE' && req.raw.cleanup !== undefined && maybeTrue(paramReadings(req, 'cleanup'))) {
    refuse(`Destroying OSD ${req.segments[4]} with cleanup wipes its disk on ${second}; it is not done through this server (as in the shell). Do it on the host.`);
  }
  // The interface that carries the main node's own address (and what lies under it) is not removed or
  // re-addressed: once applied, the node is cut off from the cluster and from this server.
  if (third === 'network' && fourth && req.segments.length === 4 && (req.method === 'DELETE' || req.method === 'PUT')) {
    await checkManagementInterface(req, ctx, second, fourth);
  }
  // The main node's API certificate is what this server verifies (a pinned fingerprint or a CA): a new,
  // renewed, revoked or removed certificate cuts the server off until PROXMOX_FINGERPRINT is updated.
  if (third === 'certificates' && (fourth === 'custom' || fourth === 'acme') && req.method !== 'GET') {
    const { main, known } = await isMain(second, ctx);
    if (main) {
      refuse(
        known
          ? `Changing the API certificate of ${second}, the main node, changes the certificate this server verifies and cuts it off from Proxmox; not sent. Do it on the host, then update PROXMOX_FINGERPRINT (or the CA file) and restart the server.`
          : `Node ${second} may be the main node (the server could not tell which node is main), and changing its API certificate would cut this server off; not sent. Set MCP_MAIN_NODE.`,
      );
    }
  }
  // A node console (termproxy, vncshell, spiceshell) hands out a shell on the host, outside every rule here.
  if ((third === 'termproxy' || third === 'vncshell' || third === 'spiceshell') && !fourth && req.method === 'POST') {
    refuse(`A console on node ${second} (${third}) is a shell on the host that none of this server's rules would see; it is not opened through this server. Use execute_command, or the web UI.`);
  }
  // Stopping the API, the cluster file system, corosync or sshd on the main node cuts this server off.
  if (third === 'services' && fourth && req.segments[4] === 'stop' && !req.segments[5] && req.method === 'POST' && cutOffServices.has(fourth)) {
    const { main, known } = await isMain(second, ctx);
    if (main) {
      refuse(
        known
          ? `Stopping ${fourth} on ${second}, the main node (this server runs on it), cuts this server off from Proxmox; not sent. Restart it instead, or stop it on the host.`
          : `Node ${second} may be the main node (the server could not tell which node is main), and stopping ${fourth} there cuts this server off; not sent. Set MCP_MAIN_NODE.`,
      );
    }
  }
  if (third === 'execute' && !fourth) refuse(`POST /nodes/${second}/execute runs a batch of API calls that this server's rules would not see one by one; send the calls one at a time instead.`);
}

/** Settings of an interface whose change moves or drops the node's address. */
const addressing = ['address', 'cidr', 'netmask', 'gateway', 'address6', 'cidr6', 'netmask6', 'gateway6', 'bridge_ports', 'slaves', 'vlan-raw-device', 'vlan-id', 'bond-primary', 'bond_mode'];

const splitNames = (value: unknown) => splitList(String(value ?? ''));

/** The main node's management interfaces: the one holding its cluster address and what lies under it (fail closed). */
async function managementInterfaces(node: string, ctx: ProtectionContext): Promise<Set<string>> {
  let status: { type?: string; name?: string; ip?: string; local?: number | string }[];
  let rows: Record<string, unknown>[];
  try {
    [status, rows] = await Promise.all([ctx.pve.get<typeof status>('/cluster/status'), ctx.pve.get<Record<string, unknown>[]>(`/nodes/${encodeURIComponent(node)}/network`)]);
  } catch (error) {
    refuse(`Could not read node ${node}'s address and interfaces (${(error as Error).message}), so this server cannot tell whether the change cuts the node off; not sent.`);
  }
  const entry = (Array.isArray(status) ? status : []).find((row) => row.type === 'node' && (node === 'localhost' ? Number(row.local) === 1 : row.name?.toLowerCase() === node));
  const address = entry?.ip;
  if (!address) refuse(`Could not tell which address node ${node} uses in the cluster, so this server cannot tell whether the change cuts the node off; not sent.`);
  const byName = new Map((Array.isArray(rows) ? rows : []).map((row) => [String(row.iface).toLowerCase(), row]));
  const management = new Set<string>();
  const visit = (name: string) => {
    if (management.has(name)) return;
    management.add(name);
    const row = byName.get(name);
    if (row) for (const child of [...splitNames(row.bridge_ports), ...splitNames(row.slaves), ...splitNames(row['vlan-raw-device'])]) visit(child.toLowerCase());
    const dot = /^(.+)\.\d+$/.exec(name);
    if (dot) visit(dot[1]);
  };
  for (const [name, row] of byName) {
    if (String(row.address ?? '') === address || String(row.cidr ?? '').split('/')[0] === address) visit(name);
  }
  return management;
}

async function checkManagementInterface(req: NormalizedRequest, ctx: ProtectionContext, node: string, iface: string): Promise<void> {
  const { main } = await isMain(node, ctx);
  if (!main) return;
  if (req.method === 'PUT') {
    const touched = addressing.filter((name) => req.raw[name] !== undefined || paramItems(req, 'delete').includes(name));
    const autostartOff = req.raw.autostart !== undefined && paramReadings(req, 'autostart').some((value) => !['1', 'true', 'yes', 'on'].includes(value));
    if (touched.length === 0 && !autostartOff) return;
  }
  const management = await managementInterfaces(node, ctx);
  if (management.has(iface)) {
    refuse(`${req.originalSegments[3] ?? iface} carries the address of node ${node}, the main node (this server runs on it), or lies under the interface that does; ${req.method === 'DELETE' ? 'removing' : 're-addressing'} it cuts the node and this server off once applied. Not sent; change it from the console.`);
  }
}

export const mainNodeRule: PolicyRule = { name: 'main node and disks', check };
