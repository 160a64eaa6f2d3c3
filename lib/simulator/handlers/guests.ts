/**
 * QEMU VMs and LXC containers: listing, status, power actions, config, snapshots, clone, migrate,
 * template, resize, create/restore, destroy, and the QEMU guest agent. Failures that Proxmox raises before
 * forking the worker answer 500 here; failures inside the worker end the task with `TASK ERROR: ...`.
 */
import { splitList } from '../lists.ts';
import { die, paramError } from '../errors.ts';
import { isTrue, label, type Handler, type HandlerContext, type SimCore } from '../core.ts';
import { guestStats } from '../metrics.ts';
import {
  addGuest, configDigest, DISK_KEY, formatSize, moveGuest, parseDisk, parseSize, removeGuest, snapshotCopy, volumesOf,
  type ConfigValue, type GuestConfig, type GuestType, type SimGuest,
} from '../state.ts';
import { agentHandlers } from './agent.ts';
import { createHash, randomUUID } from 'node:crypto';

/** How qemu-server shows a set cipassword in GET config (and `'********** '` for a pending one). */
export const MASKED_PASSWORD = '**********';

/** qemu-server stores cipassword crypt()ed unless it already is a crypt hash (`$1$`, `$5$`, `$6$`, `$2a$`/`$2y$`). */
function storedCiPassword(value: string, vmid: number): string {
  if (/^\$(?:[156]|2[ay])(\$.+){2}/.test(value)) return value;
  const salt = createHash('sha256').update(`salt:${vmid}:${value}`).digest('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 16);
  return `$5$${salt}$${createHash('sha256').update(`${salt}${value}`).digest('base64').replace(/=+$/, '')}`;
}

function maskSecrets(cfg: Record<string, unknown>, mask = MASKED_PASSWORD): Record<string, unknown> {
  if (cfg.cipassword !== undefined && cfg.cipassword !== '') cfg.cipassword = mask;
  return cfg;
}

const NON_CONFIG = new Set(['node', 'vmid', 'archive', 'storage', 'start', 'pool', 'unique', 'force', 'live-restore', 'bwlimit',
  'ha-managed', 'ostemplate', 'restore', 'password', 'ssh-public-keys', 'ignore-unpack-errors', 'digest', 'delete', 'revert',
  'skiplock', 'background_delay']);
const QEMU_HOTPLUG = /^(name|description|tags|onboot|protection|startup|lock|net\d+|scsi\d+|virtio\d+|sata\d+|usb\d+|unused\d+|ide2|balloon)$/;
const LXC_OFFLINE_ONLY = /^(rootfs|mp\d+|unprivileged|ostype|arch|features)$/;

const vmid = (ctx: HandlerContext) => Number(ctx.params.vmid);
const node = (ctx: HandlerContext) => String(ctx.params.node);

function guestOf(ctx: HandlerContext, type: GuestType): SimGuest {
  return ctx.core.guest(node(ctx), vmid(ctx), type);
}

function listGuests(ctx: HandlerContext, type: GuestType): Record<string, unknown>[] {
  const { core, auth, now } = ctx;
  core.node(node(ctx));
  const out: Record<string, unknown>[] = [];
  for (const id of core.state.guestsByNode.get(node(ctx)) ?? []) {
    const g = core.state.guests.get(id)!;
    if (g.type !== type || !core.access.has(auth.authid, `/vms/${id}`, 'VM.Audit')) continue;
    out.push(statusOf(g, now, false, core.state.pveVersion !== '8.4'));
  }
  return out;
}

/** pve-ha-manager get_service_status: managed unless not configured or `ignored`, with the manager's state. */
function haStatus(core: SimCore, g: SimGuest): Record<string, unknown> {
  const r = core.state.ha.get(`${g.type === 'qemu' ? 'vm' : 'ct'}:${g.vmid}`);
  if (!r || r.state === 'ignored') return { managed: 0 };
  return { managed: 1, state: r.state === 'disabled' ? 'stopped' : r.state };
}

function statusOf(g: SimGuest, now: number, current: boolean, v9: boolean): Record<string, unknown> {
  const s = guestStats(g, now);
  const row: Record<string, unknown> = { vmid: g.vmid, name: String(g.config.name ?? g.config.hostname ?? ''), status: g.status, ...s };
  row.cpus = s.maxcpu;
  // PVE 9 adds pressure stall averages (PSI) of running guests, and the host's view of a VM's memory
  if (v9 && g.status === 'running') {
    const p = Math.round(g.cpuLoad * 1000) / 100;
    Object.assign(row, { pressurecpusome: p, pressureiosome: p / 2, pressureiofull: p / 4, pressurememorysome: 0, pressurememoryfull: 0 });
    if (g.type === 'qemu') Object.assign(row, { pressurecpufull: p / 2, memhost: s.mem });
  }
  if (g.type === 'qemu') {
    if (g.status === 'running') {
      row.qmpstatus = g.qmpstatus ?? 'running';
      row.pid = 10000 + g.vmid;
      row['running-machine'] = 'pc-i440fx-9.2+pve1';
      row['running-qemu'] = '9.2.0';
    } else if (current) row.qmpstatus = 'stopped';
  } else {
    row.type = 'lxc';
    row.maxswap = Number(g.config.swap ?? 512) * 1024 * 1024;
    row.swap = 0;
  }
  if (g.config.template) row.template = 1;
  if (g.config.tags) row.tags = g.config.tags;
  if (g.lock) row.lock = g.lock;
  if (current) {
    row.ha = { managed: 0 };
    if (g.type === 'qemu' && isTrue(String(g.config.agent ?? '0').split(',')[0].replace('enabled=', ''))) row.agent = 1;
  }
  return row;
}

/** The config as GET shows it: pending changes applied unless `current`. */
function viewConfig(g: SimGuest, current: boolean): GuestConfig {
  const cfg: GuestConfig = { ...g.config };
  if (!current) {
    Object.assign(cfg, g.pending);
    for (const k of g.pendingDelete) delete cfg[k];
  }
  return cfg;
}

function applyPending(g: SimGuest): void {
  Object.assign(g.config, g.pending);
  for (const k of g.pendingDelete) delete g.config[k];
  g.pending = {};
  g.pendingDelete = new Set();
}

/** `local-lvm:32` in a disk option allocates a new 32 GiB volume, as qm does. */
function allocateDisks(core: SimCore, g: SimGuest, changes: GuestConfig): void {
  for (const [k, v] of Object.entries(changes)) {
    if (!/^(scsi|virtio|sata|ide|efidisk|tpmstate)\d+$|^rootfs$|^mp\d+$/.test(k)) continue;
    const [first, ...rest] = String(v).split(',');
    const m = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(?:\.\d+)?)$/i.exec(first);
    if (!m) continue;
    const storage = core.state.storages.get(m[1]);
    if (!storage) die(`storage '${m[1]}' does not exist`);
    const used = new Set(Object.values({ ...g.config, ...changes }).map(String));
    let n = 0;
    const prefix = g.type === 'lxc' && storage.type === 'zfspool' ? 'subvol' : 'vm';
    while ([...used].some((x) => x.startsWith(`${m[1]}:${prefix}-${g.vmid}-disk-${n}`))) n++;
    const sizeOpt = rest.filter((o) => !o.startsWith('size='));
    core.state.freedVolumes.delete(`${m[1]}:${prefix}-${g.vmid}-disk-${n}`);
    changes[k] = [`${m[1]}:${prefix}-${g.vmid}-disk-${n}`, ...sizeOpt, `size=${formatSize(Math.round(Number(m[2]) * 1024 ** 3))}`].join(',');
  }
}

/**
 * The checks of a config update, in qemu-server's / pve-container's order: set-and-delete/revert conflicts
 * (parameter errors), "no options specified", then under the config lock the digest (QEMU: "checksum
 * mismatch", LXC: assert_if_modified) and the lock.
 */
function checkUpdate(ctx: HandlerContext, g: SimGuest): { changes: GuestConfig; deletes: string[]; reverts: string[] } {
  const { core, params } = ctx;
  const changes: GuestConfig = {};
  for (const [k, v] of Object.entries(params)) if (!NON_CONFIG.has(k)) changes[k] = Array.isArray(v) ? v.join(',') : (v as ConfigValue);
  const deletes = splitList(params.delete);
  const reverts = splitList(params.revert);
  const q = g.type === 'qemu' ? '' : "'";
  for (const k of reverts) if (k in changes) paramError(g.type === 'qemu' ? { delete: `you can't use '-${k}' and -revert ${k}' at the same time` } : { revert: `you can't use '-${k}' and '-revert ${k}' at the same time` });
  for (const k of deletes) {
    if (k in changes) paramError({ delete: `you can't use '-${k}' and -delete ${k}' at the same time` });
    if (reverts.includes(k)) paramError({ revert: `you can't use '-delete ${k}' and ${q}-revert ${k}' at the same time` });
  }
  const meta = new Set(['node', 'vmid', 'digest', 'delete', 'revert', 'skiplock', 'background_delay', 'force']);
  if (!deletes.length && !reverts.length && !Object.keys(params).some((k) => !meta.has(k))) die('no options specified');
  if (params.digest !== undefined && params.digest !== configDigest(viewConfig(g, false))) {
    die(g.type === 'qemu' ? 'checksum mismatch (file change by other user?)' : 'detected modified configuration - file changed by other user? Try again.');
  }
  core.checkLock(g, params.skiplock);
  return { changes, deletes, reverts };
}

function updateConfig(ctx: HandlerContext, g: SimGuest): void {
  const { core } = ctx;
  const { changes, deletes, reverts } = checkUpdate(ctx, g);
  if (g.type === 'qemu' && changes.cipassword !== undefined) changes.cipassword = storedCiPassword(String(changes.cipassword), g.vmid);
  allocateDisks(core, g, changes);
  for (const k of reverts) {
    delete g.pending[k];
    g.pendingDelete.delete(k);
  }
  const running = g.status === 'running';
  for (const [k, v] of Object.entries(changes)) {
    const hot = g.type === 'qemu' ? QEMU_HOTPLUG.test(k) : !LXC_OFFLINE_ONLY.test(k);
    if (running && !hot) {
      g.pending[k] = v;
      g.pendingDelete.delete(k);
    } else {
      g.config[k] = v;
      delete g.pending[k];
    }
  }
  for (const k of deletes) {
    if (running && !(g.type === 'qemu' ? QEMU_HOTPLUG.test(k) : !LXC_OFFLINE_ONLY.test(k))) g.pendingDelete.add(k);
    else {
      delete g.config[k];
      delete g.pending[k];
    }
  }
}

// ---------- power actions ----------

type Action = 'start' | 'stop' | 'shutdown' | 'reboot' | 'reset' | 'suspend' | 'resume';

function powerAction(type: GuestType, action: Action): Handler {
  return (ctx) => {
    const { core, params } = ctx;
    const g = guestOf(ctx, type);
    const L = label(g);
    const running = g.status === 'running';
    const prefix = type === 'qemu' ? 'qm' : 'vz';
    const ha = core.state.ha.get(`${type === 'qemu' ? 'vm' : 'ct'}:${g.vmid}`);
    if (ha && (action === 'start' || action === 'stop' || action === 'shutdown')) {
      const target = action === 'start' ? 'started' : 'stopped';
      return core.task(ctx, {
        type: action === 'start' ? 'hastart' : 'hastop', id: g.vmid,
        lines: [`Requesting HA ${action} for ${L} ${g.vmid}`],
        work: () => {
          ha.state = target;
          setRunning(g, action === 'start', ctx.now);
        },
      });
    }
    switch (action) {
      case 'start':
        if (type === 'lxc' && running) die(`CT ${g.vmid} already running`);
        return core.task(ctx, {
          type: `${prefix}start`, id: g.vmid,
          work: () => {
            if (g.config.template) throw new Error(`you can't start a vm if it's a template`);
            core.checkLock(g, params.skiplock);
            if (g.status === 'running') throw new Error(`${L} ${g.vmid} already running`);
            applyPending(g);
            setRunning(g, true, Date.now());
            return type === 'qemu' ? [] : [];
          },
        });
      case 'stop':
      case 'shutdown':
        if (type === 'lxc' && !running) die(`CT ${g.vmid} not running`);
        if (type === 'qemu' && action === 'shutdown' && g.qmpstatus === 'paused' && !params.forceStop) die('VM is paused - cannot shutdown');
        return core.task(ctx, {
          type: `${prefix}${action}`, id: g.vmid,
          work: () => {
            core.checkLock(g, params.skiplock);
            setRunning(g, false, Date.now());
            applyPending(g);
          },
        });
      case 'reboot':
        if (!running) die(`${type === 'qemu' ? 'VM' : 'CT'} ${g.vmid} not running`);
        return core.task(ctx, {
          type: `${prefix}reboot`, id: g.vmid,
          work: () => {
            applyPending(g);
            setRunning(g, true, Date.now());
          },
        });
      case 'reset':
        if (!running) die(`VM ${g.vmid} not running`);
        return core.task(ctx, { type: 'qmreset', id: g.vmid, work: () => void (g.startedAt = Date.now()) });
      case 'suspend': {
        if (!running) die(`${L} ${g.vmid} not running`);
        const todisk = type === 'qemu' && isTrue(params.todisk);
        return core.task(ctx, {
          type: type === 'qemu' ? (todisk ? 'qmsuspend' : 'qmpause') : 'vzsuspend', id: g.vmid,
          work: () => {
            if (todisk) {
              setRunning(g, false, Date.now());
              g.lock = 'suspended';
            } else if (type === 'qemu') g.qmpstatus = 'paused';
          },
        });
      }
      case 'resume': {
        const suspendedToDisk = g.lock === 'suspended';
        if (!running && !suspendedToDisk) die(`${L} ${g.vmid} not running`);
        return core.task(ctx, {
          type: type === 'qemu' ? 'qmresume' : 'vzresume', id: g.vmid,
          work: () => {
            if (suspendedToDisk) {
              g.lock = undefined;
              setRunning(g, true, Date.now());
            }
            if (type === 'qemu') g.qmpstatus = 'running';
          },
        });
      }
    }
  };
}

function setRunning(g: SimGuest, running: boolean, now: number): void {
  g.status = running ? 'running' : 'stopped';
  g.qmpstatus = running && g.type === 'qemu' ? 'running' : undefined;
  g.startedAt = running ? now : undefined;
  if (!running) g.execs.clear();
}

// ---------- create / destroy ----------

function createGuest(type: GuestType): Handler {
  return (ctx) => {
    const { core, params, auth } = ctx;
    const id = vmid(ctx);
    const n = node(ctx);
    core.node(n);
    const archive = type === 'qemu' ? (params.archive as string | undefined) : isTrue(params.restore) ? String(params.ostemplate) : undefined;
    const pool = params.pool as string | undefined;
    if (pool && !core.state.pools.has(pool)) die(`pool '${pool}' does not exist`);
    if (!core.access.has(auth.authid, `/vms/${id}`, 'VM.Allocate') && !(pool && core.access.has(auth.authid, `/pool/${pool}`, 'VM.Allocate'))) {
      core.access.checkPerm(auth.authid, `/vms/${id}`, ['VM.Allocate']);
    }
    const existing = core.state.guests.get(id);
    if (existing && !(archive && isTrue(params.force))) core.checkVmidUnused(id);
    if (existing && existing.status === 'running') die(`unable to restore ${label(existing)} ${id} - ${type === 'qemu' ? 'VM' : 'CT'} is running`);
    let backup: { vmid?: number; format: string } | undefined;
    if (archive) {
      const [store] = archive.split(':');
      const storage = core.state.storages.get(store);
      const vol = storage ? volumesOf(core.state, storage, n).get(archive) : undefined;
      if (!vol || vol.content !== 'backup') die(`volume '${archive}' does not exist`);
      backup = vol;
    } else if (type === 'lxc') {
      const tmpl = String(params.ostemplate ?? '');
      const [store] = tmpl.split(':');
      const storage = core.state.storages.get(store);
      if (!storage || !volumesOf(core.state, storage, n).has(tmpl)) die(`volume '${tmpl}' does not exist`);
    }
    const source = existing ?? (backup?.vmid !== undefined ? core.state.guests.get(backup.vmid) : undefined);
    const config: GuestConfig = archive && source ? { ...source.config } : {};
    if (archive && source) {
      for (const [k, v] of Object.entries(config)) config[k] = String(v).replace(new RegExp(`-${source.vmid}-disk-`, 'g'), `-${id}-disk-`);
      delete config.protection;
    }
    for (const [k, v] of Object.entries(params)) if (!NON_CONFIG.has(k)) config[k] = Array.isArray(v) ? v.join(',') : (v as ConfigValue);
    if (type === 'qemu' && config.cipassword !== undefined) config.cipassword = storedCiPassword(String(config.cipassword), id);
    if (type === 'lxc' && !archive) {
      config.arch ??= 'amd64';
      config.ostype ??= String(params.ostemplate).includes('ubuntu') ? 'ubuntu' : String(params.ostemplate).includes('alpine') ? 'alpine' : 'debian';
      config.rootfs ??= `${params.storage ?? 'local'}:4`;
      config.memory ??= 512;
      config.swap ??= 512;
    }
    if (existing) removeGuest(core.state, id);
    const g: SimGuest = {
      vmid: id, type, node: n, status: 'stopped', config: {}, pending: {}, pendingDelete: new Set(), snapshots: new Map(),
      pool, lock: 'create', cpuLoad: 0.05, memFraction: 0.4, execs: new Map(), nextExecPid: 1000,
    };
    allocateDisks(core, g, config);
    g.config = config;
    if (type === 'qemu' && !archive) g.config.smbios1 ??= `uuid=00000000-0000-4000-8000-${String(id).padStart(12, '0')}`;
    addGuest(core.state, g);
    if (params['ha-managed'] && isTrue(params['ha-managed'])) {
      core.state.ha.set(`${type === 'qemu' ? 'vm' : 'ct'}:${id}`, { sid: `${type === 'qemu' ? 'vm' : 'ct'}:${id}`, type: type === 'qemu' ? 'vm' : 'ct', state: 'started', max_restart: 1, max_relocate: 1 });
    }
    const taskType = archive ? (type === 'qemu' ? 'qmrestore' : 'vzrestore') : type === 'qemu' ? 'qmcreate' : 'vzcreate';
    return core.task(ctx, {
      type: taskType, id,
      lines: archive ? [`restore vma archive: ${archive}`] : type === 'lxc' ? [`extracting archive '${params.ostemplate}'`] : [],
      work: () => {
        g.lock = undefined;
        const lines = archive ? [`rescan volumes...`] : type === 'lxc' ? ['Total bytes read: 524288000 (500MiB, 250MiB/s)', 'Detected container architecture: amd64'] : [];
        if (isTrue(params.start)) {
          setRunning(g, true, Date.now());
          lines.push(`${label(g)} ${id} started`);
        }
        return lines;
      },
    });
  };
}

function destroyGuest(type: GuestType): Handler {
  return (ctx) => {
    const { core, params } = ctx;
    const g = guestOf(ctx, type);
    const L = label(g);
    const sid = `${type === 'qemu' ? 'vm' : 'ct'}:${g.vmid}`;
    // qemu-server / pve-container destroy_vm early checks, in their order. QEMU checks the lock only in the
    // worker (destroy_vm); LXC before forking. A forced LXC destroy stops the container in the worker.
    if (g.config.protection) die(`can't remove ${L} ${g.vmid} - protection mode enabled`);
    if (type === 'lxc') core.checkLock(g);
    if (core.state.ha.has(sid) && !isTrue(params.purge)) die(`unable to remove ${L} ${g.vmid} - used in HA resources and purge parameter not set.`);
    if (g.status === 'running') {
      if (type === 'qemu') die(`VM ${g.vmid} is running - destroy failed`);
      if (!isTrue(params.force)) die(`unable to destroy CT ${g.vmid} - container is running`);
    }
    return core.task(ctx, {
      type: type === 'qemu' ? 'qmdestroy' : 'vzdestroy', id: g.vmid,
      work: () => {
        if (type === 'qemu') core.checkLock(g, params.skiplock);
        const early: string[] = [];
        if (g.status === 'running') {
          early.push(`forced to stop CT ${g.vmid} before destroying!`);
          setRunning(g, false, Date.now());
        }
        g.lock = 'destroyed';
        const lines = Object.entries(g.config)
          .filter(([k]) => /^(scsi|virtio|sata|ide|efidisk|tpmstate|unused|mp)\d+$|^rootfs$/.test(k))
          .map(([, v]) => String(v).split(',')[0])
          .filter((v) => v.includes(':') && v !== 'none')
          .map((v) => `  Logical volume "${v.split(':')[1]}" successfully removed.`);
        removeGuest(core.state, g.vmid);
        if (isTrue(params.purge) && core.state.ha.delete(sid)) lines.push(`NOTE: removed ${L} ${g.vmid} from HA resource configuration.`);
        return [...early, ...lines];
      },
    });
  };
}

// ---------- snapshots ----------

function snapshotList(type: GuestType): Handler {
  return (ctx) => {
    const g = guestOf(ctx, type);
    const out: Record<string, unknown>[] = [...g.snapshots.values()].map((s) => ({
      name: s.name, snaptime: s.snaptime, description: s.description, ...(s.parent ? { parent: s.parent } : {}), ...(s.vmstate ? { vmstate: 1 } : {}),
    }));
    out.push({ name: 'current', description: 'You are here!', running: g.status === 'running' ? 1 : 0, digest: configDigest(g.config), ...(g.parent ? { parent: g.parent } : {}) });
    return out;
  };
}

function snapshotCreate(type: GuestType): Handler {
  return (ctx) => {
    const { core, params } = ctx;
    const g = guestOf(ctx, type);
    const name = String(params.snapname);
    // reserved names: 'current' for both; 'pending' (any case) for QEMU; 'vzdump' for LXC
    if (name === 'current') die(`unable to use snapshot name 'current' (reserved name)`);
    if (type === 'qemu' && name.toLowerCase() === 'pending') die(`unable to use snapshot name 'pending' (reserved name)`);
    if (type === 'lxc' && name === 'vzdump') die(`unable to use snapshot name 'vzdump' (reserved name)`);
    return core.task(ctx, {
      type: type === 'qemu' ? 'qmsnapshot' : 'vzsnapshot', id: g.vmid,
      lines: [`snapshotting '${name}'`],
      work: () => {
        if (g.config.template) throw new Error("you can't take a snapshot if it's a template");
        core.checkLock(g);
        if (g.snapshots.has(name)) throw new Error(`snapshot name '${name}' already used`);
        const vmstate = type === 'qemu' && isTrue(params.vmstate) && g.status === 'running' ? 1 : undefined;
        g.snapshots.set(name, {
          name, snaptime: Math.floor(Date.now() / 1000), description: String(params.description ?? ''), parent: g.parent, vmstate,
          config: snapshotCopy(g.config),
        });
        g.parent = name;
        return vmstate ? ['saving VM state and RAM using storage local-lvm', 'completed saving the VM state'] : [];
      },
    });
  };
}

function snapshotDelete(type: GuestType): Handler {
  return (ctx) => {
    const { core, params } = ctx;
    const g = guestOf(ctx, type);
    const name = String(params.snapname);
    return core.task(ctx, {
      type: type === 'qemu' ? 'qmdelsnapshot' : 'vzdelsnapshot', id: g.vmid,
      work: () => {
        if (g.config.template) throw new Error("you can't delete a snapshot if vm is a template");
        const snap = g.snapshots.get(name);
        if (!snap) throw new Error(`snapshot '${name}' does not exist`);
        g.snapshots.delete(name);
        for (const s of g.snapshots.values()) if (s.parent === name) s.parent = snap.parent;
        if (g.parent === name) g.parent = snap.parent;
      },
    });
  };
}

function snapshotConfig(type: GuestType): Handler {
  return (ctx) => {
    const g = guestOf(ctx, type);
    const snap = g.snapshots.get(String(ctx.params.snapname));
    if (!snap) die(`snapshot '${ctx.params.snapname}' does not exist`);
    return { ...snap.config, snaptime: snap.snaptime, description: snap.description, ...(snap.parent ? { parent: snap.parent } : {}), ...(snap.vmstate ? { vmstate: 1 } : {}) };
  };
}

function snapshotRollback(type: GuestType): Handler {
  return (ctx) => {
    const { core, params } = ctx;
    const g = guestOf(ctx, type);
    const name = String(params.snapname);
    return core.task(ctx, {
      type: type === 'qemu' ? 'qmrollback' : 'vzrollback', id: g.vmid,
      work: () => {
        // AbstractConfig snapshot_rollback: the snapshot's keys replace the config, except that the current
        // description and unusedN stay; disks the snapshot does not have become unusedN; QEMU gets a new vmgenid
        if (g.config.template) throw new Error("you can't rollback if vm is a template");
        const snap = g.snapshots.get(name);
        if (!snap) throw new Error(`snapshot '${name}' does not exist`);
        core.checkLock(g);
        const next: GuestConfig = {};
        for (const [k, v] of Object.entries(g.config)) if (k === 'description' || /^unused\d+$/.test(k)) next[k] = v;
        Object.assign(next, snapshotCopy(snap.config));
        const kept = new Set(Object.entries(snap.config).filter(([k]) => DISK_KEY.test(k)).map(([, v]) => parseDisk(String(v))?.volid));
        for (const [k, v] of Object.entries(g.config)) {
          if (!DISK_KEY.test(k) || /^unused\d+$/.test(k)) continue;
          const volid = parseDisk(String(v))?.volid;
          if (!volid || kept.has(volid) || Object.values(next).some((x) => String(x).split(',')[0] === volid)) continue;
          let n = 0;
          while (`unused${n}` in next) n++;
          next[`unused${n}`] = volid;
        }
        if (type === 'qemu' && next.vmgenid) next.vmgenid = randomUUID();
        g.config = next;
        g.pending = {};
        g.pendingDelete = new Set();
        g.parent = name;
        setRunning(g, !!snap.vmstate || isTrue(params.start), Date.now());
      },
    });
  };
}

// ---------- clone / migrate / template / resize ----------

function cloneGuest(type: GuestType): Handler {
  return (ctx) => {
    const { core, params } = ctx;
    const g = guestOf(ctx, type);
    const newid = Number(params.newid);
    core.checkVmidUnused(newid);
    const target = params.target !== undefined ? String(params.target) : g.node;
    if (!core.state.nodes.has(target)) die(`no such cluster node '${target}'`);
    const isTemplate = !!g.config.template;
    const full = params.full !== undefined ? isTrue(params.full) : !isTemplate;
    if (params.pool !== undefined && !core.state.pools.has(String(params.pool))) die(`pool '${params.pool}' does not exist`);
    // qemu-server clone_vm / pve-container clone_vm: the checks over the source's volumes
    if (!full && params.storage !== undefined) die("parameter 'storage' not allowed for linked clones");
    if (type === 'qemu' && !full && params.format !== undefined) die("parameter 'format' not allowed for linked clones");
    const snapname = params.snapname !== undefined ? String(params.snapname) : undefined;
    const base = snapname !== undefined ? g.snapshots.get(snapname)?.config : g.config;
    if (!base) die(`snapshot '${snapname}' does not exist`);
    let shared = true;
    for (const [k, v] of Object.entries(base)) {
      if (!DISK_KEY.test(k) || /^unused\d+$/.test(k)) continue;
      const volid = String(v).split(',')[0];
      if (!volid.includes(':') || volid === 'none') continue;
      if (!core.state.storages.get(volid.split(':')[0])?.shared) shared = false;
      if (String(v).includes('media=cdrom')) continue;
      if (full) {
        if (type === 'lxc' && g.status === 'running' && snapname === undefined) die('Full clone of a running container is only possible from a snapshot');
      } else if (!/[:/]base-\d+-disk-/.test(volid)) {
        // linked clones need a base (template) volume
        die(type === 'qemu' ? `Linked clone feature is not supported for${snapname !== undefined ? ' a snapshot of' : ''} '${volid}' (${k})` : `Linked clone feature for '${volid}' is not available`);
      }
    }
    if (target !== g.node && !shared) die(`can't clone ${label(g)} to node '${target}' (${label(g)} uses local storage)`);
    const config: GuestConfig = {};
    for (const [k, v] of Object.entries(base)) {
      if (k === 'template' || k === 'protection') continue;
      let value = String(v).replace(new RegExp(`(vm|base|subvol)-${g.vmid}-disk-`, 'g'), `$1-${newid}-disk-`);
      if (params.storage !== undefined && /^(scsi|virtio|sata|ide|efidisk|tpmstate|mp)\d+$|^rootfs$/.test(k) && value.includes(':') && !value.includes('media=cdrom')) {
        value = `${params.storage}:${value.slice(value.indexOf(':') + 1)}`;
      }
      if (/^net\d+$/.test(k)) value = value.replace(/([0-9A-F]{2}:){5}[0-9A-F]{2}/i, `BC:24:11:${hexByte(newid >> 16)}:${hexByte(newid >> 8)}:${hexByte(newid)}`);
      config[k] = typeof v === 'number' ? v : value;
    }
    if (params.name !== undefined) config.name = String(params.name);
    if (params.hostname !== undefined) config.hostname = String(params.hostname);
    if (params.description !== undefined) config.description = String(params.description);
    const clone: SimGuest = {
      vmid: newid, type, node: target, status: 'stopped', config, pending: {}, pendingDelete: new Set(), snapshots: new Map(),
      pool: params.pool as string | undefined, lock: 'create', cpuLoad: g.cpuLoad, memFraction: g.memFraction, execs: new Map(), nextExecPid: 1000,
    };
    addGuest(core.state, clone);
    const prevLock = g.lock;
    if (!isTemplate) g.lock = 'clone';
    return core.task(ctx, {
      type: type === 'qemu' ? 'qmclone' : 'vzclone', id: g.vmid,
      lines: [`create ${full ? 'full' : 'linked'} clone of drive ${type === 'qemu' ? 'scsi0' : 'rootfs'} (${String(base.scsi0 ?? base.rootfs ?? '').split(',')[0]})`],
      work: () => {
        clone.lock = undefined;
        if (!isTemplate) g.lock = prevLock;
        return full ? ['transferred 32.0 GiB of 32.0 GiB (100.00%)'] : [];
      },
    });
  };
}

const hexByte = (n: number) => (n & 0xff).toString(16).toUpperCase().padStart(2, '0');

function migrateGuest(type: GuestType): Handler {
  return (ctx) => {
    const { core, params } = ctx;
    const g = guestOf(ctx, type);
    const target = String(params.target);
    if (target === g.node) paramError({ target: 'target is local node.' });
    if (!core.state.nodes.has(target)) die(`no such cluster node '${target}'`);
    core.checkLock(g);
    if (g.status === 'running') {
      if (type === 'qemu' && !isTrue(params.online)) die(`can't migrate running VM without --online`);
      if (type === 'lxc' && !isTrue(params.restart)) die('lxc live migration is currently not implemented');
    }
    const source = g.node;
    g.lock = 'migrate';
    // AbstractMigrate: log lines carry a timestamp (and "ERROR:" for errors); any failure ends the task with
    // "migration aborted" after "ERROR: migration aborted (duration ...): <why>". QemuMigrate refuses to
    // live-migrate attached local disks without with-local-disks ("can't migrate VM - check log").
    const stamp = () => new Date().toISOString().replace('T', ' ').slice(0, 19);
    return core.task(ctx, {
      type: type === 'qemu' ? 'qmigrate' : 'vzmigrate', id: g.vmid,
      lines: [`${stamp()} starting migration of ${label(g)} ${g.vmid} to node '${target}' (${core.state.nodes.get(target)!.ip})`],
      work: () => {
        g.lock = undefined;
        const abort = (why: string, before: string[] = []): never => {
          throw Object.assign(new Error('migration aborted'), { lines: [...before, `${stamp()} ERROR: migration aborted (duration 00:00:01): ${why}`] });
        };
        const t = core.state.nodes.get(target);
        if (!t || !t.online) abort(`Can't connect to destination address using public key`);
        if (type === 'qemu' && g.status === 'running' && !isTrue(params['with-local-disks'])) {
          const local = Object.entries(g.config)
            .filter(([k, v]) => DISK_KEY.test(k) && !/^unused\d+$/.test(k) && !String(v).includes('media=cdrom'))
            .map(([, v]) => String(v).split(',')[0])
            .filter((volid) => volid.includes(':') && !core.state.storages.get(volid.split(':')[0])?.shared)
            .sort();
          if (local.length) {
            abort("can't migrate VM - check log", [
              ...local.map((v) => `${stamp()} can't migrate local disk '${v}': can't live migrate attached local disks without with-local-disks option`),
              `${stamp()} ERROR: can't migrate VM - check log`,
            ]);
          }
        }
        moveGuest(core.state, g, target);
        return [`${stamp()} migration finished successfully (duration 00:00:12)`];
      },
      node: source,
    });
  };
}

function templateGuest(type: GuestType): Handler {
  return (ctx) => {
    const { core, params } = ctx;
    const g = guestOf(ctx, type);
    core.checkLock(g);
    if (g.config.template) die(`you can't convert a template to a template`);
    if (g.status === 'running') die(type === 'qemu' ? `you can't convert a VM to template if VM is running` : `you can't convert a CT to template if the CT is running`);
    const convert = () => {
      g.config.template = 1;
      for (const [k, v] of Object.entries(g.config)) if (typeof v === 'string') g.config[k] = v.replace(new RegExp(`vm-${g.vmid}-disk-`, 'g'), `base-${g.vmid}-disk-`);
    };
    if (type === 'lxc') {
      convert();
      return null;
    }
    void params;
    return core.task(ctx, { type: 'qmtemplate', id: g.vmid, work: () => void convert() });
  };
}

function resizeGuest(type: GuestType): Handler {
  return (ctx) => {
    const { core, params } = ctx;
    const g = guestOf(ctx, type);
    core.checkLock(g, params.skiplock);
    const disk = String(params.disk);
    const current = g.config[disk];
    if (current === undefined) die(`disk '${disk}' does not exist`);
    const m = /^(\+)?(\d+(?:\.\d+)?)([KMGT]?)$/.exec(String(params.size));
    if (!m) paramError({ size: 'value does not match the regex pattern' });
    return core.task(ctx, {
      type: 'resize', id: g.vmid,
      work: () => {
        const parts = String(g.config[disk]).split(',');
        const old = parseSize(parts.find((p) => p.startsWith('size='))?.slice(5) ?? '0');
        const amount = parseSize(`${m[2]}${m[3] || ''}`);
        const next = m[1] ? old + amount : amount;
        if (next < old) throw new Error(`shrinking disks is not supported`);
        const rest = parts.filter((p) => !p.startsWith('size='));
        g.config[disk] = [...rest, `size=${formatSize(next)}`].join(',');
        return [`  Size of logical volume pve/${rest[0].split(':')[1]} changed from ${formatSize(old)} to ${formatSize(next)}.`];
      },
    });
  };
}

// ---------- the route table ----------

function guestRoutes(type: GuestType): Record<string, Handler> {
  const base = `/nodes/{node}/${type}`;
  const routes: Record<string, Handler> = {
    [`GET ${base}`]: (ctx) => listGuests(ctx, type),
    [`POST ${base}`]: createGuest(type),
    [`DELETE ${base}/{vmid}`]: destroyGuest(type),
    [`GET ${base}/{vmid}/status/current`]: (ctx) => {
      const g = guestOf(ctx, type);
      return { ...statusOf(g, ctx.now, true, ctx.core.state.pveVersion !== '8.4'), ha: haStatus(ctx.core, g) };
    },
    [`GET ${base}/{vmid}/config`]: (ctx) => {
      const g = guestOf(ctx, type);
      if (ctx.params.snapshot !== undefined) {
        const snap = snapshotConfig(type)({ ...ctx, params: { ...ctx.params, snapname: ctx.params.snapshot } }) as Record<string, unknown>;
        return type === 'qemu' ? maskSecrets(snap) : snap;
      }
      const cfg = viewConfig(g, isTrue(ctx.params.current));
      if (g.lock) cfg.lock = g.lock;
      if (g.parent) cfg.parent = g.parent;
      const out = { ...cfg, digest: configDigest(viewConfig(g, false)) };
      return type === 'qemu' ? maskSecrets(out) : out;
    },
    [`PUT ${base}/{vmid}/config`]: (ctx) => {
      updateConfig(ctx, guestOf(ctx, type));
      return null;
    },
    [`GET ${base}/{vmid}/pending`]: (ctx) => {
      const g = guestOf(ctx, type);
      const keys = new Set([...Object.keys(g.config), ...Object.keys(g.pending), ...g.pendingDelete]);
      // qemu-server masks cipassword in both columns; the pending one as '********** ' to tell them apart.
      const secret = (key: string, value: ConfigValue, mask: string) => (type === 'qemu' && key === 'cipassword' ? mask : value);
      return [...keys].sort().map((key) => ({
        key,
        ...(key in g.config ? { value: secret(key, g.config[key], MASKED_PASSWORD) } : {}),
        ...(key in g.pending ? { pending: secret(key, g.pending[key], `${MASKED_PASSWORD} `) } : {}),
        ...(g.pendingDelete.has(key) ? { delete: 1 } : {}),
      }));
    },
    [`GET ${base}/{vmid}/snapshot`]: snapshotList(type),
    [`POST ${base}/{vmid}/snapshot`]: snapshotCreate(type),
    [`DELETE ${base}/{vmid}/snapshot/{snapname}`]: snapshotDelete(type),
    [`GET ${base}/{vmid}/snapshot/{snapname}/config`]: snapshotConfig(type),
    [`POST ${base}/{vmid}/snapshot/{snapname}/rollback`]: snapshotRollback(type),
    [`POST ${base}/{vmid}/clone`]: cloneGuest(type),
    [`POST ${base}/{vmid}/migrate`]: migrateGuest(type),
    [`POST ${base}/{vmid}/template`]: templateGuest(type),
    [`PUT ${base}/{vmid}/resize`]: resizeGuest(type),
  };
  const actions: Action[] = type === 'qemu' ? ['start', 'stop', 'shutdown', 'reboot', 'reset', 'suspend', 'resume'] : ['start', 'stop', 'shutdown', 'reboot', 'suspend', 'resume'];
  for (const a of actions) routes[`POST ${base}/{vmid}/status/${a}`] = powerAction(type, a);
  return routes;
}

export const guestHandlers: Record<string, Handler> = {
  ...guestRoutes('qemu'),
  ...guestRoutes('lxc'),
  'POST /nodes/{node}/qemu/{vmid}/config': (ctx) => {
    const g = guestOf(ctx, 'qemu');
    checkUpdate(ctx, g); // before forking, as update_vm_api does
    return ctx.core.task(ctx, { type: 'qmconfig', id: g.vmid, work: () => void updateConfig({ ...ctx, params: { ...ctx.params, digest: undefined as never } }, g) });
  },
  'GET /nodes/{node}/qemu/{vmid}/migrate': (ctx) => {
    const g = guestOf(ctx, 'qemu');
    ctx.core.checkLock(g);
    const v9 = ctx.core.state.pveVersion !== '8.4';
    const others = [...ctx.core.state.nodes.values()].filter((n) => n.name !== g.node);
    return {
      running: g.status === 'running' ? 1 : 0,
      allowed_nodes: others.filter((n) => n.online).map((n) => n.name),
      not_allowed_nodes: Object.fromEntries(others.filter((n) => !n.online).map((n) => [n.name, { unavailable_storages: [] }])),
      local_disks: [],
      local_resources: [],
      'mapped-resources': [],
      'mapped-resource-info': {},
      // PVE 9 (qemu-server migrate_vm_precondition): always sets has-dbus-vmstate, and lists the HA
      // resources that would move along (dependent-ha-resources) for an HA-managed VM
      ...(v9 ? { 'has-dbus-vmstate': 1 } : {}),
      ...(v9 && ctx.core.state.ha.has(`vm:${g.vmid}`) ? { 'dependent-ha-resources': [] } : {}),
    };
  },
  // pve-container get_interfaces: `ip --json a` in the container's netns; a stopped container has no pid,
  // so the answer is null. `inet`/`inet6`/`hwaddr` are the old fields, kept beside the new ones.
  'GET /nodes/{node}/lxc/{vmid}/interfaces': (ctx) => {
    const g = guestOf(ctx, 'lxc');
    if (g.status !== 'running') return null;
    const iface = (name: string, mac: string, v4: [string, number], v6: [string, number]) => ({
      name, inet: `${v4[0]}/${v4[1]}`, inet6: `${v6[0]}/${v6[1]}`,
      'ip-addresses': [
        { 'ip-address-type': 'inet', 'ip-address': v4[0], prefix: v4[1] },
        { 'ip-address-type': 'inet6', 'ip-address': v6[0], prefix: v6[1] },
      ],
      'hardware-address': mac, hwaddr: mac,
    });
    const out: Record<string, unknown>[] = [iface('lo', '00:00:00:00:00:00', ['127.0.0.1', 8], ['::1', 128])];
    for (const [k, v] of Object.entries(g.config)) {
      if (!/^net\d+$/.test(k)) continue;
      const opts = Object.fromEntries(String(v).split(',').map((o) => o.split('=') as [string, string]));
      const [addr, prefix] = (opts.ip && opts.ip !== 'dhcp' && opts.ip !== 'manual' ? opts.ip : `10.0.${(g.vmid >> 8) & 255}.${g.vmid & 255}/24`).split('/');
      out.push(iface(opts.name ?? 'eth0', (opts.hwaddr ?? '').toLowerCase(), [addr, Number(prefix ?? 32)], [`fe80::be24:11ff:fe00:${(g.vmid & 0xffff).toString(16)}`, 64]));
    }
    return out;
  },
  ...agentHandlers,
};
