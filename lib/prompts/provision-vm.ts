import { z } from 'zod';
import { completable } from '@modelcontextprotocol/server';
import { bestPracticesLine, definePrompt, modes, numbered } from './types.ts';

export default definePrompt({
  name: 'provision_vm',
  title: 'Provision a VM from a template with cloud-init',
  description:
    'Create a VM from a cloud-init template: pick template, node and storage, clone, set CPU, memory, disk, network, user and SSH key through cloud-init, start it and check it came up. Every change is confirmed.',
  args: (complete) =>
    z.object({
      name: z.string().describe('Name of the new VM (a DNS name), e.g. web03'),
      template: completable(z.string().describe('Template VMID or name (default: ask, from list_vms templates)'), complete.template).optional(),
      node: completable(z.string().describe('Node to create it on (default: the one with the most free memory)'), complete.node).optional(),
      storage: completable(z.string().describe('Storage for its disk (default: the template\'s storage)'), complete.storage).optional(),
      cores: z.string().optional().describe('CPU cores (default 2)'),
      memory: z.string().optional().describe('Memory in MiB (default 2048)'),
      disk: z.string().optional().describe('Disk size, e.g. 32G (default: the template\'s size)'),
      ip: z.string().optional().describe('IPv4 address with prefix, e.g. 192.168.1.50/24, or "dhcp" (default dhcp)'),
      gateway: z.string().optional().describe('IPv4 gateway when ip is static, e.g. 192.168.1.1'),
      user: z.string().optional().describe('Login user cloud-init creates (default: the template\'s, often debian or ubuntu)'),
    }),
  text: (args, { knowledge }) => {
    const cores = args.cores ?? '2';
    const memory = args.memory ?? '2048';
    const ip = args.ip ?? 'dhcp';
    const ipconfig = ip === 'dhcp' ? 'ip=dhcp' : `ip=${ip}${args.gateway ? `,gw=${args.gateway}` : ''}`;
    return [
      `Provision a new VM "${args.name}" from a template with cloud-init: ${cores} cores, ${memory} MiB memory, ${args.disk ? `a ${args.disk} disk` : 'the template\'s disk size'}, network ${ipconfig}${args.user ? `, user ${args.user}` : ''}.`,
      '',
      modes.safeChanges,
      '',
      'Steps:',
      numbered([
        args.template
          ? `The template: ${args.template}. Find it with list_vms (template: true) to get its VMID and node.`
          : 'The template: list_vms and pick the templates (template: true). If more than one fits, ask the user which.',
        `Check the template before cloning: guest_config (or the resource proxmox://guests/<node>/<vmid>/config). It needs a cloud-init drive (ide2 or scsiN "...:cloudinit"); cloud images also want serial0: socket and vga: serial0, agent: 1 and scsihw: virtio-scsi-single. If the cloud-init drive is missing, say so and offer to add it with guest_config before cloning. Good practice: ${bestPracticesLine(knowledge, ['templates_have_cloudinit', 'guest_agent_enabled', 'vm_scsi_controller'], 'VM templates and cloud-init')}.`,
        args.node ? `The node: ${args.node}; node_status to check it is online with room for ${memory} MiB.` : `The node: node_status for all nodes; take the online node with the most free memory (at least ${memory} MiB to spare).`,
        args.storage
          ? `The storage: ${args.storage}; storage_operations to check it holds VM images (content images) and has room.`
          : 'The storage: storage_operations on that node; a storage with content images and room for the disk (thin storage such as local-lvm, ZFS or Ceph; shared storage if the VM should migrate live later).',
        'A free VMID: proxmox_api {"method":"GET","path":"/cluster/nextid"}.',
        `The SSH key: ask the user for their public key (ssh-ed25519 ...). Prefer a key to a password; never put a password in a message, and if the user insists on one, pass it only as the cipassword argument of guest_config (the server redacts it from history and from the config resource).`,
        'Show the plan to the user and wait for a yes: template, new VMID, name, node, storage, full clone (a linked clone only if they ask; it ties the VM to the template), cores, memory, disk, network, user, SSH key.',
        `Create it: guest_create from the template (full clone to the chosen storage and node). Then guest_config: cores ${cores}, memory ${memory}, name ${args.name}, cloud-init ciuser${args.user ? ` ${args.user}` : ''}, sshkeys (the public key), ipconfig0 ${ipconfig}, nameserver and searchdomain if the user gave them${args.disk ? `; grow the disk to ${args.disk} (disks can grow, never shrink)` : ''}. Each is a change confirmed in safe mode.`,
        'Start it: vm_action with action start; then vm_status until the guest agent answers and shows the IP address (the first boot runs cloud-init, allow a minute or two).',
        'Verify inside: guest_exec `cloud-init status --wait`, then `hostname` and `ip -br addr` (needs the guest agent; without it, say how to check on the console).',
        'Report: VMID, node, storage, IP address, how to log in (ssh <user>@<ip>), and the next steps to offer: tags, start at boot (onboot), a first backup with guest_backup, HA if the storage is shared.',
      ]),
    ].join('\n');
  },
});
