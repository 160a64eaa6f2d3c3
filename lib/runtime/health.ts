/**
 * The full health report (/health with a token, and the health_check tool). Each check says what it
 * measured and, when it fails, what to do. Checks run in parallel, each with its own time limit, so one
 * unreachable dependency cannot make the report itself hang.
 *
 * Checks: proxmox_api (reachable, latency; a refused token is reported as a token problem, not an
 * unreachable API), proxmox_token, proxmox_permissions (privileges lost since the first reading), database (answers, and takes a write that leaves nothing behind),
 * backup_space (writable, free space), ssh_<node> for each online node, and updater (only when an
 * update request has waited 15+ minutes for the host-side updater). A failing database is `down`; any
 * other failure or warning is `degraded`.
 */
import { mkdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import type { CommandExecutor } from '../exec/executor.ts';
import type { PveClient } from '../pve/types.ts';
import type { Store } from '../store/store.ts';
import { toToolError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { judgePermissions, lostSummary, permissionsAction, type PermissionMap, type PermissionsVerdict } from '../policy/permissions-watch.ts';
import { readUpdateRequest, readUpdateResult } from '../self/update-protocol.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skipped';

export interface HealthCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  latency_ms?: number;
  /** What to do about it, when it is not ok. */
  action?: string;
}

export interface HealthReport {
  status: 'ok' | 'degraded' | 'down';
  name: string;
  version: string;
  uptime_s: number;
  simulated: boolean;
  notice?: string;
  checks: HealthCheck[];
  checked_at: string;
}

export interface HealthDeps {
  name: string;
  version: string;
  startedAt: Date;
  config: Config;
  store: Store;
  pve: PveClient;
  exec?: CommandExecutor;
  simulated: boolean;
  /** Free space under which the backup directory is reported (bytes). */
  minFreeBytes?: number;
  /** Where a loss of this server's own Proxmox privileges is logged. */
  log?: Logger;
}

async function timed<T>(work: () => Promise<T>, timeoutMs: number): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const value = await Promise.race([work(), timeout]);
    return { value, ms: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}

async function checkProxmox(deps: HealthDeps): Promise<HealthCheck[]> {
  const tokenAction = 'Check PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET (the token may be deleted, expired or mistyped), or re-run ./setup.sh to create a new token.';
  try {
    const { value, ms } = await timed(() => deps.pve.get<{ version?: string; release?: string }>('/version', undefined, { timeoutMs: 5000 }), 6000);
    const checks: HealthCheck[] = [
      { name: 'proxmox_api', status: ms > 2000 ? 'warn' : 'ok', detail: `Proxmox VE ${value.version ?? '?'} at ${deps.pve.baseUrl}`, latency_ms: ms, ...(ms > 2000 ? { action: 'The API answers slowly; check the node load and the network between this server and the node.' } : {}) },
    ];
    try {
      const permissions = await deps.pve.get<Record<string, Record<string, number>>>('/access/permissions', undefined, { timeoutMs: 5000 });
      const paths = Object.keys(permissions).length;
      checks.push({ name: 'proxmox_token', status: paths > 0 ? 'ok' : 'warn', detail: `token ${deps.pve.tokenId} is valid, with privileges on ${paths} path(s)`, ...(paths === 0 ? { action: 'The token has no privileges: grant it a role with `pveum acl modify / --tokens <id> --roles PVEAuditor` (setup.sh does this).' } : {}) });
      checks.push(await checkPermissionsBaseline(deps, permissions));
    } catch (error) {
      checks.push({ name: 'proxmox_token', status: 'fail', detail: toToolError(error).message, action: tokenAction });
    }
    return checks;
  } catch (error) {
    const problem = toToolError(error);
    if (problem.code === 'unauthenticated') {
      // The API answered, it just refused us: the address is right, the token is not.
      return [
        { name: 'proxmox_api', status: 'ok', detail: `${deps.pve.baseUrl} answers, but refuses the token` },
        { name: 'proxmox_token', status: 'fail', detail: problem.message, action: tokenAction },
      ];
    }
    return [
      { name: 'proxmox_api', status: 'fail', detail: problem.message, action: problem.code === 'timeout' ? 'The API did not answer in time: check that the node is up, the network to it, and PROXMOX_URL.' : 'Check PROXMOX_URL, that pveproxy runs (`systemctl status pveproxy`) and the TLS settings (PROXMOX_TLS_FINGERPRINT or PROXMOX_CA_FILE).' },
      { name: 'proxmox_token', status: 'skipped', detail: 'the API could not be reached' },
    ];
  }
}

let lastLoggedLoss = '';

/** Did this server lose Proxmox privileges since its first reading (lib/policy/permissions-watch.ts)? */
async function checkPermissionsBaseline(deps: HealthDeps, permissions: PermissionMap): Promise<HealthCheck> {
  let verdict: PermissionsVerdict;
  try {
    verdict = await judgePermissions(deps.store, deps.pve.tokenId, permissions);
  } catch (error) {
    return { name: 'proxmox_permissions', status: 'warn', detail: `the permissions baseline could not be read or stored: ${toToolError(error).message.replace(/^Internal error: /, '')}`, action: 'Check the database (see the database check).' };
  }
  if (verdict.lost.length === 0) {
    lastLoggedLoss = '';
    return {
      name: 'proxmox_permissions',
      status: 'ok',
      detail: verdict.first ? `${verdict.privileges} privilege(s) on ${verdict.paths} path(s), recorded now as the baseline` : `${verdict.privileges} privilege(s) on ${verdict.paths} path(s); nothing lost since ${verdict.baseline.takenAt}`,
    };
  }
  // Loud, but once per distinct loss: /health may be polled every few seconds.
  const loss = `${deps.pve.tokenId} ${verdict.lost.join(',')}`;
  if (loss !== lastLoggedLoss) deps.log?.warn(`THIS SERVER'S PROXMOX PERMISSIONS SHRANK since ${verdict.baseline.takenAt}: lost ${lostSummary(verdict)}`, { token: deps.pve.tokenId, lost: verdict.lost.length });
  lastLoggedLoss = loss;
  return { name: 'proxmox_permissions', status: 'warn', detail: `privileges of ${deps.pve.tokenId} SHRANK since ${verdict.baseline.takenAt}: lost ${lostSummary(verdict)}`, action: permissionsAction };
}

/** A write whose net effect is nothing (one transaction inserts and deletes a probe row): proves the database takes writes. */
async function probeWrite(store: Store): Promise<void> {
  await store.client.batch(
    [
      { sql: 'INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, ?, ?)', args: ['health.write_probe', '"probe"', Date.now()] },
      { sql: 'DELETE FROM settings WHERE key = ?', args: ['health.write_probe'] },
    ],
    'write',
  );
}

async function checkDatabase(deps: HealthDeps): Promise<HealthCheck> {
  const action = 'Check DATABASE_URL, that the data directory is writable by the server user, and free disk space there.';
  let ms: number;
  try {
    ms = (await timed(() => deps.store.ping(), 3000)).ms;
  } catch (error) {
    return { name: 'database', status: 'fail', detail: `the database does not answer: ${toToolError(error).message.replace(/^Internal error: /, '')}`, action };
  }
  try {
    await timed(() => probeWrite(deps.store), 5000);
  } catch (error) {
    return { name: 'database', status: 'fail', detail: `the database answers but cannot be written: ${toToolError(error).message.replace(/^Internal error: /, '')}`, latency_ms: ms, action };
  }
  const dropped = deps.store.history.dropped;
  const size = deps.store.sizeBytes();
  return {
    name: 'database',
    status: dropped > 0 ? 'warn' : 'ok',
    detail: `${deps.store.url.startsWith('file:') ? 'embedded libSQL' : 'libSQL server'} answers and takes writes${size !== undefined ? ` (${Math.round(size / 1024)} KiB)` : ''}${dropped > 0 ? `; ${dropped} history rows could not be written` : ''}`,
    latency_ms: ms,
    ...(dropped > 0 ? { action: 'Check free disk space in the data directory and the server log.' } : {}),
  };
}

function checkBackupSpace(deps: HealthDeps): HealthCheck {
  const dir = deps.config.backupDir;
  try {
    // 0700: this probe may be what creates the backup directory, and bundles are the owner's alone.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `.health-probe-${process.pid}`);
    writeFileSync(probe, 'ok');
    rmSync(probe, { force: true });
    const stats = statfsSync(dir);
    const free = stats.bavail * stats.bsize;
    const min = deps.minFreeBytes ?? 200 * 1024 * 1024;
    const freeMb = Math.round(free / 1024 / 1024);
    return free < min
      ? { name: 'backup_space', status: 'warn', detail: `${freeMb} MiB free in ${dir}, less than the ${Math.round(min / 1024 / 1024)} MiB wanted`, action: 'Free some space or point MCP_BACKUP_DIR at a larger volume; backup_config keeps the newest MCP_BACKUP_KEEP bundles.' }
      : { name: 'backup_space', status: 'ok', detail: `${freeMb} MiB free in ${dir}` };
  } catch (error) {
    return { name: 'backup_space', status: 'fail', detail: `cannot write to ${dir}: ${(error as Error).message}`, action: 'Create the backup directory (MCP_BACKUP_DIR) and make it writable by the server user; setup.sh does this for the container.' };
  }
}

/** An update request the host-side updater has not answered for a long time. */
function checkUpdater(deps: HealthDeps): HealthCheck | undefined {
  const request = readUpdateRequest(deps.config.updateDir);
  if (!request) return undefined;
  const result = readUpdateResult(deps.config.updateDir);
  if (result?.id === request.id) return undefined;
  const ageMin = Math.round((Date.now() - Date.parse(request.requested_at)) / 60_000);
  if (!(ageMin >= 15)) return undefined;
  return {
    name: 'updater',
    status: 'warn',
    detail: `the update to ${request.target_tag} requested ${ageMin} min ago has no answer from the host-side updater`,
    action: 'On the host: `systemctl status proxmox-mcp-update.path proxmox-mcp-update.service` and its journal; re-run ./setup.sh to install the updater.',
  };
}

async function checkSsh(deps: HealthDeps): Promise<HealthCheck[]> {
  if (!deps.exec) {
    return [{ name: 'ssh', status: 'skipped', detail: deps.simulated ? 'simulated cluster: no SSH' : 'SSH is not configured (SSH_KEY_FILE, SSH_KNOWN_HOSTS); execute_command is unavailable', ...(deps.simulated ? {} : { action: 'Run ./setup.sh to create the key and pin the host key.' }) }];
  }
  let nodes: string[] = [];
  try {
    nodes = (await deps.pve.clusterResources('node')).filter((node) => node.status === 'online').map((node) => String(node.node));
  } catch {
    return [{ name: 'ssh', status: 'skipped', detail: 'node list unavailable (Proxmox API down)' }];
  }
  return Promise.all(
    nodes.map(async (node): Promise<HealthCheck> => {
      const result = await deps.exec!.check(node, { timeoutMs: 5000 });
      return result.ok
        ? { name: `ssh_${node}`, status: 'ok', detail: `SSH to ${node} works`, latency_ms: result.latencyMs }
        : { name: `ssh_${node}`, status: 'fail', detail: result.error ?? 'failed', action: 'Check that sshd runs on the node, the proxmox-mcp user has the key in authorized_keys, and the pinned host key is current.' };
    }),
  );
}

export async function healthReport(deps: HealthDeps): Promise<HealthReport> {
  const [proxmox, database, ssh] = await Promise.all([checkProxmox(deps), checkDatabase(deps), checkSsh(deps)]);
  const updater = checkUpdater(deps);
  const checks = [...proxmox, database, checkBackupSpace(deps), ...ssh, ...(updater ? [updater] : [])];
  const failed = checks.filter((check) => check.status === 'fail').map((check) => check.name);
  const status = failed.includes('database') ? 'down' : failed.length > 0 || checks.some((check) => check.status === 'warn') ? 'degraded' : 'ok';
  return {
    status,
    name: deps.name,
    version: deps.version,
    uptime_s: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
    simulated: deps.simulated,
    ...(deps.simulated ? { notice: 'Running against the built-in SIMULATED Proxmox cluster: nothing here is real. Set PROXMOX_URL (./setup.sh does) to manage a real cluster.' } : {}),
    checks,
    checked_at: new Date().toISOString(),
  };
}
