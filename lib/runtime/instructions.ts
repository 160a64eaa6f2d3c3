/** The server's `instructions` for MCP clients: how to work with this server, in a few lines. */
import type { RuntimeInfo } from '../tool.ts';

export function serverInstructions(info: RuntimeInfo): string {
  return [
    `${info.name} ${info.version}: manage a Proxmox VE cluster${info.simulated ? ' (this instance runs on a SIMULATED cluster)' : ''}.`,
    'Start with help_llm for a guide to the tools, modes and protections, or get_system_info for the cluster at a glance.',
    'Each client has a mode: read-only (no changes), safe (every change needs the user to confirm), normal (changes run, with warnings).',
    'When a call answers "approval_required", give the user its approval_url (a human approves there with an authenticator code) and repeat the same call with "confirmation_id" set to its approval_id, adding "wait_seconds" to wait for the decision. Your own word or answer is never the approval.',
    'Resources (proxmox://cluster/inventory, node status, guest configs, your history, best practices) can be @-mentioned; prompts such as /triage_node and /plan_node_maintenance walk through common jobs.',
    'root@pam, the main node, this server\'s own Proxmox token and protected guests cannot be changed in any mode.',
  ].join('\n');
}
