/**
 * Proxmox VE privileges and built-in roles, as pve-access-control builds them, per version: PVE 8.4 has
 * VM.Monitor (an admin privilege); PVE 9 replaced it with VM.GuestAgent.Audit (audit),
 * VM.GuestAgent.FileRead/FileWrite/FileSystemMgmt (user) and VM.GuestAgent.Unrestricted (admin), and added
 * VM.Replicate (admin) (commits "add VM.GuestAgent privileges", "privileges: drop VM.Monitor",
 * "add VM.Replicate privilege", July 2025).
 * Roles are derived the same way as upstream: per category,
 * `root` privileges go to Administrator only, PVE<Cat>Admin and PVEAdmin get admin+user+audit,
 * PVE<Cat>User gets user+audit, PVEAuditor gets every audit privilege.
 */
interface PrivGroup {
  root: string[];
  admin: string[];
  user: string[];
  audit: string[];
}

import type { PveVersion } from './contract.ts';

const PRIV_GROUPS: Record<string, PrivGroup> = {
  VM: {
    root: [],
    // pve-access-control AccessControl.pm $privgroups (PVE 9): Unrestricted and Replicate are admin, the file
    // and filesystem agent privileges user, VM.GuestAgent.Audit audit (so PVEAuditor has it)
    admin: [
      'VM.Allocate', 'VM.Clone', 'VM.Config.CPU', 'VM.Config.Disk', 'VM.Config.HWType', 'VM.Config.Memory',
      'VM.Config.Network', 'VM.Config.Options', 'VM.GuestAgent.Unrestricted', 'VM.Migrate', 'VM.Replicate',
      'VM.Snapshot', 'VM.Snapshot.Rollback',
    ],
    user: [
      'VM.Backup', 'VM.Config.CDROM', 'VM.Config.Cloudinit', 'VM.Console', 'VM.GuestAgent.FileRead',
      'VM.GuestAgent.FileSystemMgmt', 'VM.GuestAgent.FileWrite', 'VM.PowerMgmt',
    ],
    audit: ['VM.Audit', 'VM.GuestAgent.Audit'],
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

const ONLY_9 = new Set(['VM.Replicate', 'VM.GuestAgent.Audit', 'VM.GuestAgent.FileRead', 'VM.GuestAgent.FileWrite', 'VM.GuestAgent.FileSystemMgmt', 'VM.GuestAgent.Unrestricted']);

/** The privilege groups of one version. */
function groupsFor(version: PveVersion): Record<string, PrivGroup> {
  if (version !== '8.4') return PRIV_GROUPS;
  const keep = (list: string[]) => list.filter((p) => !ONLY_9.has(p));
  const out: Record<string, PrivGroup> = {};
  for (const [cat, g] of Object.entries(PRIV_GROUPS)) out[cat] = { root: keep(g.root), admin: keep(g.admin), user: keep(g.user), audit: keep(g.audit) };
  out.VM.admin = [...out.VM.admin, 'VM.Monitor'];
  return out;
}

const allOf = (groups: Record<string, PrivGroup>) =>
  [...new Set(Object.values(groups).flatMap((g) => [...g.root, ...g.admin, ...g.user, ...g.audit]))].sort();

const ALL_BY_VERSION: Record<PveVersion, readonly string[]> = { '8.4': allOf(groupsFor('8.4')), '9.1': allOf(groupsFor('9.1')) };

/** Every privilege of PVE 9.1 (the default version). */
export const ALL_PRIVILEGES: readonly string[] = ALL_BY_VERSION['9.1'];

export function allPrivileges(version: PveVersion = '9.1'): readonly string[] {
  return ALL_BY_VERSION[version];
}

export function builtinRoles(version: PveVersion = '9.1'): Map<string, Set<string>> {
  const groups = groupsFor(version);
  const roles = new Map<string, Set<string>>();
  const add = (role: string, privs: string[]) => {
    let set = roles.get(role);
    if (!set) roles.set(role, (set = new Set()));
    for (const p of privs) set.add(p);
  };
  roles.set('Administrator', new Set(allPrivileges(version)));
  roles.set('NoAccess', new Set());
  for (const [cat, g] of Object.entries(groups)) {
    add(`PVE${cat}Admin`, [...g.admin, ...g.user, ...g.audit]);
    add('PVEAdmin', [...g.admin, ...g.user, ...g.audit]);
    if (g.user.length) add(`PVE${cat}User`, [...g.user, ...g.audit]);
    add('PVEAuditor', g.audit);
  }
  add('PVETemplateUser', ['VM.Clone', 'VM.Audit']);
  return roles;
}

export function isValidPrivilege(priv: string, version: PveVersion = '9.1'): boolean {
  return allPrivileges(version).includes(priv);
}
