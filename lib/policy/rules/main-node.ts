/**
 * The node this server runs on and the disks of every node, with the same answer as in the shell:
 * the main node is not removed from the cluster, rebooted or shut down, and the services this server
 * needs there (pveproxy, pvedaemon, pve-cluster, corosync, sshd) are not stopped; no disk is wiped and
 * no storage that holds guest volumes (LVM, LVM-thin, ZFS, directory, Ceph pool) is destroyed; no node
 * console (a host shell outside these rules) is opened; no batch of
 * API calls (POST /nodes/{node}/execute) is sent, since the calls inside it would not pass these rules.
 * When the main node is not known, every node counts as main.
 *
 * stopall, suspendall and migrateall (pve-manager Nodes.pm) act on the node's guests, not on the host:
 * this server runs in a container on the host, not in a guest, so they do not cut it off and are not
 * refused here (the shell and confirmations treat them as destructive).
 */
import { paramItems, paramReadings, type NormalizedRequest } from '../normalize.ts';
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

export const mainNodeRule: PolicyRule = { name: 'main node and disks', check };
