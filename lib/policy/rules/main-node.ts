/**
 * The node this server runs on and the disks of every node, with the same answer as in the shell:
 * the main node is not removed from the cluster, rebooted or shut down; no disk is wiped; no batch of
 * API calls (POST /nodes/{node}/execute) is sent, since the calls inside it would not pass these rules.
 * When the main node is not known, every node counts as main.
 */
import { paramItems, type NormalizedRequest } from '../normalize.ts';
import { refuse, type PolicyRule, type ProtectionContext } from './common.ts';

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
  if (third === 'execute' && !fourth) refuse(`POST /nodes/${second}/execute runs a batch of API calls that this server's rules would not see one by one; send the calls one at a time instead.`);
}

export const mainNodeRule: PolicyRule = { name: 'main node and disks', check };
