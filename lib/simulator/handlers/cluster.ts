/** /version, /cluster/*, /nodes, /nodes/{node}/{status,version,apt/update,tasks}, /pools. */
import { die, paramError, permError } from '../errors.ts';
import { Reply, type Handler, type HandlerContext } from '../core.ts';
import { diskUsageByNodeStorage, guestStats, nodeStats, storageUsage } from '../metrics.ts';
import { decodeUpid, type SimTask } from '../tasks.ts';
import { splitTokenId } from '../rbac.ts';
import { isTrue } from '../core.ts';
import { splitList } from '../lists.ts';
import { HA_DIGEST, haHandlers } from './ha.ts';

export const clusterHandlers: Record<string, Handler> = {
  'GET /version': ({ core }) => ({ ...core.state.version }),

  'GET /cluster/status': ({ core }) => {
    const nodes = [...core.state.nodes.values()];
    const online = nodes.filter((n) => n.online).length;
    return [
      { type: 'cluster', id: 'cluster', name: core.state.clusterName, nodes: nodes.length, quorate: online * 2 > nodes.length ? 1 : 0, version: nodes.length + 2 },
      ...nodes.map((n) => ({ type: 'node', id: `node/${n.name}`, name: n.name, nodeid: n.nodeid, ip: n.ip, online: n.online ? 1 : 0, local: n.nodeid === 1 ? 1 : 0, level: '' })),
    ];
  },

  'GET /cluster/resources': ({ core, params, auth, now }) => {
    const type = params.type as string | undefined;
    const out: Record<string, unknown>[] = [];
    const { state, access } = core;
    if (!type || type === 'node') {
      for (const n of state.nodes.values()) {
        if (!access.has(auth.authid, `/nodes/${n.name}`, 'Sys.Audit')) continue;
        out.push(n.online
          ? { id: `node/${n.name}`, type: 'node', node: n.name, status: 'online', ...nodeStats(n, now), level: '', 'cgroup-mode': 2 }
          : { id: `node/${n.name}`, type: 'node', node: n.name, status: 'offline', maxcpu: n.cpus, maxmem: n.memTotal, level: '' });
      }
    }
    if (!type || type === 'vm') {
      for (const g of state.guests.values()) {
        if (!access.has(auth.authid, `/vms/${g.vmid}`, 'VM.Audit')) continue;
        const nodeUp = state.nodes.get(g.node)?.online ?? false;
        const base: Record<string, unknown> = { id: `${g.type}/${g.vmid}`, type: g.type, vmid: g.vmid, node: g.node, name: String(g.config.name ?? g.config.hostname ?? '') };
        if (nodeUp) Object.assign(base, { status: g.status, ...guestStats(g, now) });
        else Object.assign(base, { status: 'unknown' });
        // PVE 9: a VM's memory as the host sees it
        if (nodeUp && g.type === 'qemu' && g.status === 'running' && state.pveVersion !== '8.4') base.memhost = base.mem;
        base.template = g.config.template ? 1 : 0;
        if (g.pool) base.pool = g.pool;
        if (g.config.tags) base.tags = g.config.tags;
        if (g.lock) base.lock = g.lock;
        const ha = state.ha.get(`${g.type === 'qemu' ? 'vm' : 'ct'}:${g.vmid}`);
        if (ha) base.hastate = ha.state;
        out.push(base);
      }
    }
    if (!type || type === 'storage') {
      const diskUse = diskUsageByNodeStorage(core);
      for (const n of state.nodes.values()) {
        for (const s of state.storages.values()) {
          if (!access.checkPerm(auth.authid, `/storage/${s.storage}`, ['Datastore.Audit', 'Datastore.AllocateSpace'], true, true)) continue;
          const entry: Record<string, unknown> = { id: `storage/${n.name}/${s.storage}`, type: 'storage', storage: s.storage, node: n.name, plugintype: s.type, shared: s.shared, content: s.content.join(',') };
          if (n.online) {
            const u = storageUsage(core, s, n.name, diskUse);
            Object.assign(entry, { status: 'available', disk: u.used, maxdisk: u.total });
          } else entry.status = 'unknown';
          out.push(entry);
        }
      }
    }
    if (!type) {
      for (const [poolid] of state.pools) {
        if (access.has(auth.authid, `/pool/${poolid}`, 'Pool.Audit')) out.push({ id: `/pool/${poolid}`, type: 'pool', pool: poolid });
      }
    }
    return out;
  },

  'GET /cluster/nextid': ({ core, params }) => {
    if (params.vmid !== undefined) {
      if (core.state.guests.has(Number(params.vmid))) paramError({ vmid: `VM ${params.vmid} already exists` });
      return String(params.vmid);
    }
    // Perl returns the id it used as a hash key: a string.
    return String(core.nextFreeVmid());
  },

  // Cluster.pm `tasks`: every row's token owner is split into user + tokenid; without Sys.Audit on / only
  // rows whose (split) user equals the caller are shown, so a token sees none of them (as in PVE).
  'GET /cluster/tasks': ({ core, auth }) => {
    const rows: Record<string, unknown>[] = [];
    const all = core.access.has(auth.authid, '/', 'Sys.Audit');
    const tasks = core.state.tasks.all;
    for (let i = tasks.length - 1; i >= 0 && rows.length < 1000; i--) {
      const row = convertTokenTask(taskRow(tasks[i]));
      if (all || row.user === auth.authid) rows.push(row);
    }
    return rows;
  },

  'GET /cluster/ha/status/current': ({ core, now }) => {
    const nodes = [...core.state.nodes.values()];
    const master = nodes.find((n) => n.online) ?? nodes[0];
    const ts = Math.floor(now / 1000);
    const out: Record<string, unknown>[] = [
      { id: 'quorum', type: 'quorum', node: master.name, status: 'OK', quorate: 1 },
      { id: 'master', type: 'master', node: master.name, status: `${master.name} (active, ${new Date(now).toUTCString()})`, timestamp: ts },
    ];
    // schema 9.1 (pve-ha-manager Status.pm): a fencing entry after the master, armed while the CRM is active
    if (core.state.pveVersion !== '8.4') out.push({ id: 'fencing', type: 'fencing', node: master.name, status: 'armed (CRM watchdog active)', 'armed-state': 'armed' });
    for (const n of nodes) {
      out.push({ id: `lrm:${n.name}`, type: 'lrm', node: n.name, status: n.online ? `${n.name} (active, ${new Date(now).toUTCString()})` : `${n.name} (old timestamp - dead?, ${new Date(now - 600000).toUTCString()})`, timestamp: n.online ? ts : ts - 600 });
    }
    for (const r of core.state.ha.values()) {
      const vmid = Number(r.sid.split(':')[1]);
      const g = core.state.guests.get(vmid);
      const node = g?.node ?? master.name;
      out.push({ id: `service:${r.sid}`, type: 'service', sid: r.sid, node, state: r.state, crm_state: r.state, request_state: r.state, max_restart: r.max_restart, max_relocate: r.max_relocate, status: `${r.sid} (${node}, ${r.state})` });
    }
    return out;
  },

  'GET /cluster/ha/resources': ({ core, params }) =>
    [...core.state.ha.values()]
      .filter((r) => params.type === undefined || r.type === params.type)
      .map((r) => ({
        sid: r.sid, type: r.type, state: r.state, max_restart: r.max_restart, max_relocate: r.max_relocate, digest: HA_DIGEST,
        ...(r.comment ? { comment: r.comment } : {}),
        // Resources.pm index shows the raw config: only what was set (failback defaults to 1 but is not shown);
        // once groups are migrated (9.x) the group property is dropped; a missing group is flagged
        ...(core.state.pveVersion === '8.4' && r.group ? { group: r.group } : {}),
        ...(core.state.pveVersion === '8.4' && r.group && !core.state.haGroups.has(r.group) ? { errors: { group: `group '${r.group}' does not exist` } } : {}),
        ...(r.failback !== undefined ? { failback: r.failback } : {}),
      })),

  ...haHandlers,

  // PVE 9 returns the job's property strings parsed (prune-backups is an object); 8.4 returns the string.
  'GET /cluster/backup': ({ core, now }) =>
    core.state.backupJobs.map((j) => {
      const job: Record<string, unknown> = { ...j };
      // Backup.pm index: the next run, computed from now (daily `HH:MM` schedules here; the host's time is UTC)
      const at = /^(\d{1,2}):(\d{2})$/.exec(String(j.schedule ?? ''));
      if (at) {
        const next = new Date(now);
        next.setUTCHours(Number(at[1]), Number(at[2]), 0, 0);
        if (next.getTime() <= now) next.setUTCDate(next.getUTCDate() + 1);
        job['next-run'] = Math.floor(next.getTime() / 1000);
      }
      if (core.state.pveVersion !== '8.4' && typeof j['prune-backups'] === 'string') job['prune-backups'] = parsePrune(j['prune-backups']);
      return job;
    }),

  'GET /cluster/config/nodes': ({ core }) =>
    [...core.state.nodes.values()].map((n) => ({ node: n.name, name: n.name, nodeid: String(n.nodeid), quorum_votes: '1', ring0_addr: n.ip })),

  'DELETE /cluster/config/nodes/{node}': ({ core, params }) => {
    const name = String(params.node);
    const n = core.state.nodes.get(name);
    if (!n) die(`Node/IP: ${name} is not a known host of the cluster.`);
    if (n.nodeid === 1) die('Cannot delete myself from cluster!');
    core.state.nodes.delete(name);
    return null;
  },

  'GET /pools': ({ core, auth, params }) => {
    const out: Record<string, unknown>[] = [];
    for (const [poolid, p] of core.state.pools) {
      if (params.poolid !== undefined && params.poolid !== poolid) continue;
      if (!core.access.has(auth.authid, `/pool/${poolid}`, 'Pool.Audit')) continue;
      out.push({ poolid, ...(p.comment ? { comment: p.comment } : {}) });
    }
    return out;
  },

  'GET /nodes': ({ core, now }) =>
    [...core.state.nodes.values()].map((n) =>
      n.online
        ? { id: `node/${n.name}`, type: 'node', node: n.name, status: 'online', ...nodeStats(n, now), level: '', ssl_fingerprint: n.sslFingerprint }
        : { id: `node/${n.name}`, type: 'node', node: n.name, status: 'offline', ssl_fingerprint: n.sslFingerprint },
    ),

  'GET /nodes/{node}/status': ({ core, params, now }) => {
    const n = core.node(String(params.node));
    const s = nodeStats(n, now);
    const swapTotal = 8 * 1024 ** 3;
    return {
      uptime: s.uptime,
      cpu: s.cpu,
      wait: 0.0012,
      idle: 0,
      loadavg: [(n.load * n.cpus).toFixed(2), (n.load * n.cpus * 0.9).toFixed(2), (n.load * n.cpus * 0.8).toFixed(2)],
      cpuinfo: { model: n.cpuModel, cpus: n.cpus, cores: n.cpus / n.sockets / 2, sockets: n.sockets, mhz: '3000.000', hvm: '1', flags: 'fpu vme de pse tsc msr pae mce', user_hz: 100 },
      memory: { total: s.maxmem, used: s.mem, free: s.maxmem - s.mem, available: s.maxmem - s.mem },
      swap: { total: swapTotal, used: 0, free: swapTotal },
      rootfs: { total: n.rootTotal, used: n.rootUsed, free: n.rootTotal - n.rootUsed, avail: n.rootTotal - n.rootUsed },
      ksm: { shared: 0 },
      pveversion: `pve-manager/${core.state.version.version}/${core.state.version.repoid.slice(0, 16)}`,
      kversion: `Linux ${core.state.kernel.release} ${core.state.kernel.version}`,
      'current-kernel': { sysname: 'Linux', release: core.state.kernel.release, version: core.state.kernel.version, machine: 'x86_64' },
      'boot-info': { mode: 'efi', secureboot: 0 },
    };
  },

  'GET /nodes/{node}/version': ({ core }) => ({ ...core.state.version }),

  'GET /nodes/{node}/apt/update': ({ core, params }) => core.node(String(params.node)).aptUpdates.map((p) => ({ ...p })),

  // Tasks.pm `node_tasks`: active rows (source active|all) come first, raw, with status RUNNING; archive
  // rows are newest first with the token owner split into user + tokenid. Filters see the row as shown.
  // `total` counts every row that passed the filters (the envelope drops it when 0).
  'GET /nodes/{node}/tasks': (ctx) => {
    const { core, params, auth } = ctx;
    const node = String(params.node);
    const source = String(params.source ?? 'archive');
    const errors = isTrue(params.errors);
    let statusfilter: Record<string, boolean> = { ok: true, warning: true, error: true, unknown: true };
    if (params.statusfilter !== undefined && !errors) {
      statusfilter = { ok: false, warning: false, error: false, unknown: false };
      for (const f of splitList(params.statusfilter)) statusfilter[f.toLowerCase()] = true;
    } else if (errors) statusfilter.ok = false;
    const auditor = core.access.has(auth.authid, `/nodes/${node}`, 'Sys.Audit');
    const start = Number(params.start ?? 0);
    let limit = Number(params.limit ?? 50);
    let count = 0;
    const rows: Record<string, unknown>[] = [];
    const take = (row: Record<string, unknown>, status: string | undefined): void => {
      if (params.userfilter !== undefined && params.userfilter !== '' && !String(row.user).toLowerCase().includes(String(params.userfilter).toLowerCase())) return;
      if (!(auditor || ownsTask(row, auth.authid))) return;
      if (params.typefilter !== undefined && params.typefilter !== '' && row.type !== params.typefilter) return;
      if (params.vmid !== undefined && (!row.id || row.id !== String(params.vmid))) return;
      if (params.since !== undefined && Number(row.starttime) < Number(params.since)) return;
      if (params.until !== undefined && Number(row.starttime) > Number(params.until)) return;
      if (!statusfilter[normalizeStatus(status)]) return;
      if (count++ < start) return;
      if (limit <= 0) return;
      rows.push(row);
      limit--;
    };
    const tasks = core.state.tasks.all.filter((t) => t.node === node);
    if (source === 'active' || source === 'all') {
      for (const t of tasks) if (t.status === 'running') take({ ...taskRow(t), status: 'RUNNING' }, undefined);
    }
    if (source !== 'active') {
      for (let i = tasks.length - 1; i >= 0; i--) {
        const t = tasks[i];
        if (t.status === 'running') continue;
        take(convertTokenTask(taskRow(t)), t.exitstatus);
      }
    }
    return new Reply(rows, { total: count });
  },

  'GET /nodes/{node}/tasks/{upid}/status': (ctx) => {
    const t = findTask(ctx, 'Sys.Audit');
    const { user, token } = splitTokenId(t.user);
    return {
      upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime, type: t.type, id: t.id,
      user, ...(token ? { tokenid: token } : {}), status: t.status, ...(t.status === 'stopped' ? { exitstatus: t.exitstatus } : {}),
    };
  },

  'GET /nodes/{node}/tasks/{upid}/log': (ctx) => {
    const t = findTask(ctx, 'Sys.Audit');
    const start = Number(ctx.params.start ?? 0);
    const limit = Number(ctx.params.limit ?? 50);
    // pve-common dump_logfile: limit 0 reads to the end; a log with no lines yet is one line "no content".
    if (!t.log.length) return new Reply([{ n: 1, t: 'no content' }], { total: 1 });
    const lines = t.log.slice(start, limit === 0 ? undefined : start + limit).map((text, i) => ({ n: start + i + 1, t: text }));
    return new Reply(lines, { total: t.log.length });
  },

  'DELETE /nodes/{node}/tasks/{upid}': (ctx) => {
    const t = findTask(ctx, 'Sys.Modify');
    ctx.core.state.tasks.stop(t, ctx.now);
    return null;
  },
};

function canSeeTask(core: HandlerContext['core'], authid: string, t: SimTask, priv: string): boolean {
  if (t.user === authid) return true;
  const { token } = splitTokenId(authid);
  if (!token && splitTokenId(t.user).user === authid) return true;
  return core.access.has(authid, `/nodes/${t.node}`, priv);
}

/** Tasks.pm `$check_task_user` on a row as listed: a token sees only its tasks, a user its own and its tokens'. */
function ownsTask(row: Record<string, unknown>, authid: string): boolean {
  if (row.tokenid) return authid === `${row.user}!${row.tokenid}` || authid === row.user;
  return authid === row.user;
}

/** `$convert_token_task`: `user@realm!tok` becomes user `user@realm` plus tokenid `tok`. */
function convertTokenTask(row: Record<string, unknown>): Record<string, unknown> {
  const { user, token } = splitTokenId(String(row.user));
  return token ? { ...row, user, tokenid: token } : row;
}

/** pve-common upid_normalize_status_type. */
function normalizeStatus(status: string | undefined): string {
  if (!status) return 'unknown';
  if (status === 'OK') return 'ok';
  if (status.startsWith('WARNINGS:')) return 'warning';
  if (status === 'unexpected status') return 'unknown';
  return 'error';
}

/** `keep-daily=7,keep-weekly=4` as PVE 9 returns it: `{ "keep-daily": 7, "keep-weekly": 4 }`. */
function parsePrune(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of value.split(',')) {
    const [k, v] = part.split('=');
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

function findTask(ctx: HandlerContext, priv: string): SimTask {
  const upid = String(ctx.params.upid);
  if (!decodeUpid(upid)) paramError({ upid: 'unable to parse worker upid' });
  const t = ctx.core.state.tasks.byUpid.get(upid);
  if (!t || t.node !== ctx.params.node) paramError({ upid: 'no such task' });
  if (!canSeeTask(ctx.core, ctx.auth.authid, t, priv)) permError(`/nodes/${t.node}, ${priv}`);
  return t;
}

function taskRow(t: SimTask): Record<string, unknown> {
  return {
    upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.starttime, type: t.type, id: t.id, user: t.user,
    ...(t.status === 'stopped' ? { endtime: t.endtime, status: t.exitstatus } : {}),
  };
}
