/**
 * Proxmox VE privileges and built-in roles, as pve-access-control builds them (PVE 9 names: VM.Monitor is
 * gone, the VM.GuestAgent.* privileges replace it). Roles are derived the same way as upstream: per category,
 * `root` privileges go to Administrator only, PVE<Cat>Admin and PVEAdmin get admin+user+audit,
 * PVE<Cat>User gets user+audit, PVEAuditor gets every audit privilege.
 */
interface PrivGroup {
  root: string[];
  admin: string[];
  user: string[];
  audit: string[];
}

const PRIV_GROUPS: Record<string, PrivGroup> = {
  VM: {
    root: [],
    admin: [
      'VM.Allocate', 'VM.Clone', 'VM.Config.CDROM', 'VM.Config.CPU', 'VM.Config.Cloudinit', 'VM.Config.Disk',
      'VM.Config.HWType', 'VM.Config.Memory', 'VM.Config.Network', 'VM.Config.Options', 'VM.Migrate',
      'VM.PowerMgmt', 'VM.Replicate', 'VM.Snapshot', 'VM.Snapshot.Rollback', 'VM.GuestAgent.FileRead',
      'VM.GuestAgent.FileWrite', 'VM.GuestAgent.FileSystemMgmt', 'VM.GuestAgent.Unrestricted',
    ],
    user: ['VM.Backup', 'VM.Config.CDROM', 'VM.Config.Cloudinit', 'VM.Console', 'VM.PowerMgmt', 'VM.GuestAgent.Audit'],
    audit: ['VM.Audit'],
  },
  Sys: {
    root: ['Sys.PowerMgmt', 'Sys.Modify', 'Sys.Incoming', 'Sys.AccessNetwork'],
    admin: ['Permissions.Modify', 'Sys.Console', 'Sys.Syslog'],
    user: [],
    audit: ['Sys.Audit'],
  },
  Datastore: {
    root: [],
    admin: ['Datastore.Allocate', 'Datastore.AllocateTemplate'],
    user: ['Datastore.AllocateSpace'],
    audit: ['Datastore.Audit'],
  },
  SDN: { root: [], admin: ['SDN.Allocate', 'SDN.Audit'], user: ['SDN.Use'], audit: ['SDN.Audit'] },
  User: { root: ['Realm.Allocate'], admin: ['User.Modify', 'Group.Allocate', 'Realm.AllocateUser'], user: [], audit: [] },
  Pool: { root: [], admin: ['Pool.Allocate'], user: ['Pool.Audit'], audit: ['Pool.Audit'] },
  Mapping: { root: [], admin: ['Mapping.Modify'], user: ['Mapping.Use'], audit: ['Mapping.Audit'] },
};

export const ALL_PRIVILEGES: readonly string[] = [
  ...new Set(Object.values(PRIV_GROUPS).flatMap((g) => [...g.root, ...g.admin, ...g.user, ...g.audit])),
].sort();

export function builtinRoles(): Map<string, Set<string>> {
  const roles = new Map<string, Set<string>>();
  const add = (role: string, privs: string[]) => {
    let set = roles.get(role);
    if (!set) roles.set(role, (set = new Set()));
    for (const p of privs) set.add(p);
  };
  roles.set('Administrator', new Set(ALL_PRIVILEGES));
  roles.set('NoAccess', new Set());
  for (const [cat, g] of Object.entries(PRIV_GROUPS)) {
    add(`PVE${cat}Admin`, [...g.admin, ...g.user, ...g.audit]);
    add('PVEAdmin', [...g.admin, ...g.user, ...g.audit]);
    if (g.user.length) add(`PVE${cat}User`, [...g.user, ...g.audit]);
    add('PVEAuditor', g.audit);
  }
  add('PVETemplateUser', ['VM.Clone', 'VM.Audit']);
  return roles;
}

export function isValidPrivilege(priv: string): boolean {
  return ALL_PRIVILEGES.includes(priv);
}
