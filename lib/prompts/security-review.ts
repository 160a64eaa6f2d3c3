import { z } from 'zod';
import { bestPracticesLine, definePrompt, modes, numbered } from './types.ts';

const areas = ['all', 'tokens', 'acl', 'firewall', 'updates'] as const;

export default definePrompt({
  name: 'security_review',
  title: 'Review security',
  description: 'Review users and API tokens, ACLs, the firewall, updates and host exposure. Read-only; ends with findings by severity and the exact fix for each.',
  args: () =>
    z.object({
      focus: z.string().optional().describe(`One area only: ${areas.join(', ')} (default all)`),
    }),
  text: ({ focus }, { knowledge }) => {
    const area = (areas as readonly string[]).includes(focus ?? '') ? (focus as (typeof areas)[number]) : 'all';
    const want = (name: (typeof areas)[number]) => area === 'all' || area === name;
    const steps: string[] = [];
    if (want('tokens')) {
      steps.push(
        'Users and API tokens: user_list to list users (enabled, expiry, realm), groups and every user\'s API tokens. Flag: tokens without privilege separation (privsep 0), tokens of root@pam, tokens that never expire, disabled or expired users who still hold tokens or ACLs, accounts nobody seems to use. Second factor for root@pam and admins: proxmox_api {"method":"GET","path":"/access/tfa/root@pam"}.',
      );
    }
    if (want('acl')) {
      steps.push(
        'ACLs: user_list to list the ACLs (or proxmox_api {"method":"GET","path":"/access/acl"}) and the roles. Who holds Administrator or PVEAdmin on "/"? Broad paths with propagate; ACLs for users, groups or tokens that no longer exist; tokens with more than their job needs. This server\'s own token should hold only its own role.',
      );
    }
    if (want('firewall')) {
      steps.push(
        'Firewall: proxmox_api {"method":"GET","path":"/cluster/firewall/options"} (datacenter firewall enabled, input policy), and for each node {"method":"GET","path":"/nodes/<node>/firewall/options"}; with execute_command, `pve-firewall status`. Guests: net devices with firewall=1 (guest_config). Management access: execute_command `ss -tlnp` on each node shows what listens where (8006 web UI, 22 SSH, 3128 spiceproxy, 111 rpcbind) and whether it is reachable from networks it should not be.',
      );
    }
    if (want('updates')) {
      steps.push(
        'Updates: for each node proxmox_api {"method":"GET","path":"/nodes/<node>/apt/update"} (pending packages; security updates first) and node_status (kernel and PVE version; all nodes should match). Repositories: execute_command `cat /etc/apt/sources.list /etc/apt/sources.list.d/*` on each node: the enterprise repository without a subscription (its updates fail silently), or pvetest enabled on production.',
      );
    }
    if (area === 'all') {
      steps.push(
        'The hosts: execute_command, read-only: `sshd -T | grep -Ei "permitrootlogin|passwordauthentication"`, `systemctl --failed`, `last -n 20`.',
        'This server: get_mcp_info (this client\'s mode and ceiling), get_command_history {"outcome":"refused","since":"7d"} (what was refused, and by whom), health_check.',
      );
    }
    steps.push(
      `Good practice: ${bestPracticesLine(knowledge, ['token_privsep', 'no_root_tokens', 'token_expiry', 'root_tfa', 'admin_acl_scope', 'firewall_enabled', 'no_subscription_repo', 'test_repo_disabled', 'updates_pending'], 'security (tokens, ACLs, firewall, updates)')}.`,
    );
    return [
      `Review the security of this Proxmox VE cluster${area === 'all' ? '' : `, area: ${area}`}.`,
      '',
      modes.readOnly,
      'root@pam, this server\'s own Proxmox user and token and the main node are protected in every mode: report about them, but their fixes are for the user to do by hand.',
      '',
      'Steps:',
      numbered(steps),
      '',
      'Report to the user:',
      '- Findings by severity (critical, high, medium, low), each with its evidence (which tool showed it) and why it matters.',
      '- For each, the exact fix: the tool call (run in safe mode after the user agrees) or the host command; say which fixes can lock someone out (ACL and firewall changes) and how to undo them.',
      '- What is already good, briefly.',
    ].join('\n');
  },
});
