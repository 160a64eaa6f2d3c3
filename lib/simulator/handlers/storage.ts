/** /storage, /nodes/{node}/storage/..., download-url and vzdump. */
import { splitList } from '../lists.ts';
import { die, paramError, permError } from '../errors.ts';
import { isTrue, type Handler, type HandlerContext } from '../core.ts';
import { diskUsageByNodeStorage, storageUsage } from '../metrics.ts';
import { addBackupVolume, parseDisk, volumesOf, type SimStorage, type SimVolume } from '../state.ts';

function storageDef(s: SimStorage): Record<string, unknown> {
  const out: Record<string, unknown> = { storage: s.storage, type: s.type, content: s.content.join(','), digest: 'b1e5a0d9c0ffee5eed0000000000000000000000' };
  for (const k of ['path', 'vgname', 'thinpool', 'pool', 'server', 'export', 'prune-backups', 'datastore', 'fingerprint', 'username'] as const) if (s[k] !== undefined) out[k] = s[k];
  if (s.shared) out.shared = 1;
  if (s.type === 'zfspool') out.sparse = 1;
  return out;
}

function canSeeStorage(ctx: HandlerContext, id: string): boolean {
  return ctx.core.access.checkPerm(ctx.auth.authid, `/storage/${id}`, ['Datastore.Audit', 'Datastore.AllocateSpace'], true, true);
}

/** The storage named by the path's {storage}, or the 'does not exist' error (backup-volumes.ts uses it too). */
export function storageOf(ctx: HandlerContext): SimStorage {
  const s = ctx.core.state.storages.get(String(ctx.params.storage));
  if (!s) die(`storage '${ctx.params.storage}' does not exist`);
  return s;
}

function nodeStorageRow(ctx: HandlerContext, s: SimStorage, diskUse?: Map<string, number>): Record<string, unknown> {
  const u = storageUsage(ctx.core, s, String(ctx.params.node), diskUse);
  return { storage: s.storage, type: s.type, content: s.content.join(','), active: 1, enabled: 1, shared: s.shared, total: u.total, used: u.used, avail: u.avail, used_fraction: u.total ? u.used / u.total : 0 };
}

/** Every volume of a storage as seen from a node: stored ones plus guest disks on node-local image stores. */
function listVolumes(ctx: HandlerContext, s: SimStorage): SimVolume[] {
  const node = String(ctx.params.node);
  const out = [...volumesOf(ctx.core.state, s, node).values()];
  if (s.content.includes('images') || s.content.includes('rootdir')) {
    for (const id of ctx.core.state.guestsByNode.get(node) ?? []) {
      const g = ctx.core.state.guests.get(id)!;
      for (const [k, v] of Object.entries(g.config)) {
        if (!/^(scsi|virtio|sata|ide|efidisk|tpmstate|mp|unused)\d+$|^rootfs$/.test(k)) continue;
        const d = parseDisk(String(v));
        if (!d || !d.volid.startsWith(`${s.storage}:`) || ctx.core.state.freedVolumes.has(d.volid)) continue;
        const lxc = g.type === 'lxc';
        out.push({ volid: d.volid, content: lxc ? 'rootdir' : 'images', format: s.type === 'zfspool' && lxc ? 'subvol' : 'raw', size: d.size, ctime: Math.floor(ctx.now / 1000) - 86400 * 30, vmid: g.vmid });
      }
    }
  }
  return out;
}

function findVolume(ctx: HandlerContext, s: SimStorage): SimVolume {
  let volid = String(ctx.params.volume);
  if (!volid.includes(':')) volid = `${s.storage}:${volid}`;
  const v = listVolumes(ctx, s).find((x) => x.volid === volid);
  if (!v) die(`volume '${volid}' does not exist`);
  return v;
}

function volumeRow(v: SimVolume): Record<string, unknown> {
  return {
    volid: v.volid, format: v.format, size: v.size, content: v.content, ctime: v.ctime,
    ...(v.vmid !== undefined ? { vmid: v.vmid } : {}),
    ...(v.content === 'images' || v.content === 'rootdir' ? { used: Math.floor(v.size * 0.4) } : {}),
    ...(v.notes !== undefined ? { notes: v.notes } : {}),
    ...(v.protected ? { protected: 1 } : {}),
    ...(v.subtype ? { subtype: v.subtype } : {}),
    ...(v.verification ? { verification: v.verification } : {}),
    ...(v.encrypted ? { encrypted: v.encrypted } : {}),
  };
}

export const storageHandlers: Record<string, Handler> = {
  'GET /storage': (ctx) =>
    [...ctx.core.state.storages.values()].filter((s) => (ctx.params.type === undefined || s.type === ctx.params.type) && canSeeStorage(ctx, s.storage)).map(storageDef),

  'GET /storage/{storage}': (ctx) => storageDef(storageOf(ctx)),

  'GET /nodes/{node}/storage': (ctx) => {
    ctx.core.node(String(ctx.params.node));
    const diskUse = diskUsageByNodeStorage(ctx.core);
    const { content, storage } = ctx.params;
    return [...ctx.core.state.storages.values()]
      .filter((s) => canSeeStorage(ctx, s.storage))
      .filter((s) => storage === undefined || s.storage === storage)
      .filter((s) => content === undefined || String(content).split(',').some((c) => s.content.includes(c)))
      .map((s) => nodeStorageRow(ctx, s, diskUse));
  },

  'GET /nodes/{node}/storage/{storage}/status': (ctx) => nodeStorageRow(ctx, storageOf(ctx)),

  'GET /nodes/{node}/storage/{storage}/content': (ctx) => {
    const s = storageOf(ctx);
    const { content, vmid } = ctx.params;
    return listVolumes(ctx, s)
      .filter((v) => content === undefined || v.content === content)
      .filter((v) => vmid === undefined || v.vmid === Number(vmid))
      .filter((v) => v.vmid === undefined || ctx.core.access.has(ctx.auth.authid, `/vms/${v.vmid}`, 'VM.Audit') || canSeeStorage(ctx, s.storage))
      .map(volumeRow);
  },

  'GET /nodes/{node}/storage/{storage}/content/{volume}': (ctx) => {
    const s = storageOf(ctx);
    if (!canSeeStorage(ctx, s.storage)) permError(`/storage/${s.storage}, Datastore.Audit|Datastore.AllocateSpace`);
    const v = findVolume(ctx, s);
    const rel = v.volid.slice(v.volid.indexOf(':') + 1);
    const path = s.type === 'lvmthin' ? `/dev/${s.vgname}/${rel}` : s.type === 'zfspool' ? `/${s.pool}/${rel}` : `${s.path}/${rel.replace(/^backup\//, 'dump/').replace(/^iso\//, 'template/iso/').replace(/^vztmpl\//, 'template/cache/')}`;
    return { path, size: v.size, used: v.content === 'images' || v.content === 'rootdir' ? Math.floor(v.size * 0.4) : v.size, format: v.format, ...(v.notes !== undefined ? { notes: v.notes } : {}), protected: v.protected ?? 0 };
  },

  'DELETE /nodes/{node}/storage/{storage}/content/{volume}': (ctx) => {
    const s = storageOf(ctx);
    const v = findVolume(ctx, s);
    const { authid } = ctx.auth;
    const access = ctx.core.access;
    const mayBackup = v.content === 'backup' && v.vmid !== undefined && access.has(authid, `/storage/${s.storage}`, 'Datastore.AllocateSpace') && access.has(authid, `/vms/${v.vmid}`, 'VM.Backup');
    if (!mayBackup) access.checkPerm(authid, `/storage/${s.storage}`, ['Datastore.Allocate']);
    // pve-storage Content.pm `delete`: no check that a guest still uses the volume (the config keeps
    // pointing at it); the protected flag stops it inside the worker (Plugin.pm free_image). The task id is
    // `<owner vmid>@<storage>`.
    // With `delay`, PVE waits up to that many seconds: null when the task ended well in time, its error as a
    // 500 when it failed, else the UPID.
    const node = String(ctx.params.node);
    const delay = ctx.params.delay !== undefined ? Number(ctx.params.delay) : 0;
    const inTime = delay > 0 && ctx.core.taskDurationMs <= delay * 1000;
    const upid = ctx.core.task(ctx, {
      type: 'imgdel', id: `${v.vmid !== undefined ? `${v.vmid}@` : ''}${s.storage}`,
      durationMs: inTime ? 0 : undefined,
      work: () => {
        if (v.protected) throw new Error(`cannot remove protected volume '${v.volid.slice(v.volid.indexOf(':') + 1)}' on '${s.storage}'`);
        volumesOf(ctx.core.state, s, node).delete(v.volid);
        ctx.core.state.freedVolumes.add(v.volid);
        return [`Removed volume '${v.volid}'`];
      },
    });
    if (!inTime) return upid;
    const status = ctx.core.state.tasks.byUpid.get(upid)?.exitstatus ?? 'unexpected status';
    if (status === 'OK' || status.startsWith('WARNINGS: ')) return null;
    die(status);
  },

  'POST /nodes/{node}/storage/{storage}/download-url': (ctx) => {
    const s = storageOf(ctx);
    const content = String(ctx.params.content);
    if (!s.content.includes(content)) paramError({ content: `storage '${s.storage}' does not support '${content}' content` });
    const filename = String(ctx.params.filename);
    if (!/^[-\w.+]+$/.test(filename)) paramError({ filename: 'invalid filename' });
    const volid = `${s.storage}:${content}/${filename}`;
    const node = String(ctx.params.node);
    const url = String(ctx.params.url);
    return ctx.core.task(ctx, {
      type: 'download', id: filename,
      lines: [`downloading ${url} to /var/lib/vz/template/${content === 'iso' ? 'iso' : 'cache'}/${filename}`],
      work: () => {
        volumesOf(ctx.core.state, s, node).set(volid, { volid, content: content as SimVolume['content'], format: filename.endsWith('.iso') ? 'iso' : 'tzst', size: 734003200, ctime: Math.floor(Date.now() / 1000) });
        return ['734003200 bytes (700 MiB) copied', 'download of ' + url + ' to ' + filename + ' finished'];
      },
    });
  },

  'POST /nodes/{node}/vzdump': (ctx) => {
    const { core, params, auth } = ctx;
    const node = String(params.node);
    core.node(node);
    const storageId = String(params.storage ?? 'local');
    const storage = core.state.storages.get(storageId);
    if (!storage) die(`storage '${storageId}' does not exist`);
    if (!storage.content.includes('backup')) die(`storage '${storageId}' does not support backups`);
    core.access.checkPerm(auth.authid, `/storage/${storageId}`, ['Datastore.AllocateSpace']);
    const exclude = new Set(splitList(params.exclude).map(Number));
    let vmids: number[];
    if (isTrue(params.all)) vmids = [...(core.state.guestsByNode.get(node) ?? [])].filter((id) => !exclude.has(id)).sort((a, b) => a - b);
    else if (params.pool !== undefined) vmids = [...core.state.guests.values()].filter((g) => g.pool === params.pool && g.node === node).map((g) => g.vmid);
    else if (params.vmid !== undefined) vmids = splitList(params.vmid).map(Number);
    else paramError({ vmid: 'property is missing and it is not optional' });
    for (const id of vmids) core.access.checkPerm(auth.authid, `/vms/${id}`, ['VM.Backup']);
    const local = vmids.filter((id) => core.state.guests.get(id)?.node === node || !core.state.guests.has(id));
    const mode = String(params.mode ?? 'snapshot');
    return core.task(ctx, {
      type: 'vzdump', id: local.length === 1 ? local[0] : '',
      lines: [`INFO: starting new backup job: vzdump ${vmids.join(' ')} --storage ${storageId} --mode ${mode}`],
      work: () => {
        const lines: string[] = [];
        let failed = 0;
        for (const id of local) {
          const g = core.state.guests.get(id);
          if (!g) {
            lines.push(`ERROR: Backup of VM ${id} failed - unable to find VM '${id}'`);
            failed++;
            continue;
          }
          const kind = g.type === 'qemu' ? 'qemu' : 'lxc';
          lines.push(`INFO: Starting Backup of VM ${id} (${kind})`, `INFO: Backup started at ${new Date().toISOString().replace('T', ' ').slice(0, 19)}`, `INFO: status = ${g.status}`, `INFO: backup mode: ${mode}`);
          const notesTemplate = params['notes-template'] !== undefined ? String(params['notes-template']) : undefined;
          const notes = notesTemplate?.replace(/\{\{guestname\}\}/g, String(g.config.name ?? g.config.hostname ?? '')).replace(/\{\{vmid\}\}/g, String(id)).replace(/\{\{node\}\}/g, node);
          const vol = addBackupVolume(core.state, storage, node, g, Math.floor(Date.now() / 1000), notes);
          if (isTrue(params.protected)) vol.protected = 1;
          lines.push(`INFO: creating vzdump archive '${storage.path ?? '/var/lib/vz'}/dump/${vol.volid.split('/')[1]}'`, `INFO: Finished Backup of VM ${id} (00:00:05)`);
        }
        lines.push(failed ? 'INFO: Backup job finished with errors' : 'INFO: Backup job finished successfully');
        if (failed) throw Object.assign(new Error('job errors'), { lines });
        return lines;
      },
    });
  },
};
