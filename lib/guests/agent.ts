/**
 * The QEMU guest agent: what its failures mean and how to fix them. Proxmox answers 500 with
 * "No QEMU guest agent configured", "VM <id> is not running" or "QEMU guest agent is not running"
 * (qemu-server QemuServer/Agent.pm).
 */
import { ToolError } from '../errors.ts';

export type AgentProblem = 'not_configured' | 'vm_not_running' | 'agent_not_running' | 'forbidden';

export function agentProblem(error: unknown): AgentProblem | undefined {
  if (!(error instanceof ToolError)) return undefined;
  if (error.code === 'forbidden') return 'forbidden';
  const text = error.message;
  if (/No QEMU guest agent configured/i.test(text)) return 'not_configured';
  if (/QEMU guest agent is not running|guest agent.*not (running|available)|got timeout/i.test(text)) return 'agent_not_running';
  if (/VM \d+ (is )?not running/i.test(text)) return 'vm_not_running';
  return undefined;
}

export function agentFix(problem: AgentProblem, vmid: number): string {
  switch (problem) {
    case 'not_configured':
      return `The QEMU guest agent is not enabled for VM ${vmid}: enable it (guest_config vmid=${vmid} agent=true, or \`qm set ${vmid} --agent enabled=1\`), power the VM off and on again, and install qemu-guest-agent inside it.`;
    case 'vm_not_running':
      return `VM ${vmid} is not running, so its guest agent cannot answer: start it first (vm_action start).`;
    case 'agent_not_running':
      return `The QEMU guest agent does not answer inside VM ${vmid}: install and start it in the guest (Debian/Ubuntu: \`apt install qemu-guest-agent && systemctl enable --now qemu-guest-agent\`; Windows: the virtio-win guest tools).`;
    case 'forbidden':
      return `This Proxmox token may not use the guest agent of VM ${vmid} (it needs VM.GuestAgent.Audit or VM.GuestAgent.Unrestricted on PVE 9, VM.Monitor on PVE 8).`;
  }
}

/** Privileges the agent endpoints need: PVE 9 split VM.Monitor into VM.GuestAgent.*; either version's is enough. */
export const AGENT_READ_PRIVILEGES = ['VM.GuestAgent.Audit', 'VM.GuestAgent.Unrestricted', 'VM.Monitor'];
export const AGENT_EXEC_PRIVILEGES = ['VM.GuestAgent.Unrestricted', 'VM.Monitor'];
