/**
 * The SSH executor as configured: SSH_KEY_FILE and SSH_KNOWN_HOSTS (written by setup.sh) are both
 * needed; without them execute_command reports that SSH is not set up. Node addresses come from
 * SSH_HOSTS overrides, else from /cluster/status (the `ip` of each node).
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config.ts';
import { ToolError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { PveClient } from '../pve/types.ts';
import type { CommandExecutor } from './executor.ts';
import { createSshExecutor } from './ssh.ts';

export function nodeAddressResolver(pve: PveClient, overrides: Record<string, string>): (node: string) => Promise<string> {
  return async (node) => {
    if (overrides[node]) return overrides[node];
    const status = await pve.get<{ type: string; name?: string; ip?: string }[]>('/cluster/status');
    const entry = status.find((item) => item.type === 'node' && item.name === node);
    if (!entry) throw new ToolError('not_found', `Node '${node}' is not a member of this cluster (see node_status for the list).`);
    if (!entry.ip) throw new ToolError('unavailable', `Proxmox does not report an address for node '${node}'; set SSH_HOSTS=${node}=<address>.`);
    return entry.ip;
  };
}

export async function createExecutorFromConfig(config: Config, pve: PveClient, log: Logger): Promise<CommandExecutor | undefined> {
  if (!config.ssh.keyFile || !config.ssh.knownHostsFile) return undefined;
  let privateKey: Buffer;
  let knownHosts: string;
  try {
    privateKey = readFileSync(config.ssh.keyFile);
    knownHosts = readFileSync(config.ssh.knownHostsFile, 'utf8');
  } catch (error) {
    log.warn('SSH is configured but its files cannot be read; execute_command is unavailable', { error: (error as NodeJS.ErrnoException).code ?? 'unreadable' });
    return undefined;
  }
  return createSshExecutor({ user: config.ssh.user, port: config.ssh.port, privateKey, knownHosts, resolveHost: nodeAddressResolver(pve, config.ssh.hosts), log });
}
