/**
 * Start-up: config -> log -> store (migrations) -> first admin token -> Proxmox client (real, or the
 * built-in simulated cluster) -> tools -> doors. Everything is built once here; requests only read it.
 */
import { readFileSync } from 'node:fs';
import { loadConfig, type Config } from '../config.ts';
import { createLogger, registerSecret, type Logger } from '../log.ts';
import { projectPath, projectRoot } from '../paths.ts';
import { openStore, type Store } from '../store/store.ts';
import { bootstrapAdminToken } from '../auth/bootstrap.ts';
import { createPveClient } from '../pve/client.ts';
import { createPermissionChecker, missingPrivilegesMessage } from '../pve/permissions.ts';
import type { PveClient } from '../pve/types.ts';
import { createSimulator, type Simulator } from '../simulator/index.ts';
import { createExecutorFromConfig } from '../exec/from-config.ts';
import { loadKnowledge } from '../knowledge.ts';
import { createGuardFactory } from '../policy/guard.ts';
import type { AnyTool, RuntimeInfo, Services } from '../tool.ts';
import { discoverTools } from './registry.ts';
import { createApp } from './app.ts';
import { healthReport } from './health.ts';
import { checkPermissionsAtStart } from '../policy/permissions-watch.ts';
import type { Runtime } from './runtime.ts';
import { mcpExtensions } from './extensions.ts';
import { serverInstructions } from './instructions.ts';

export interface PackageInfo {
  name: string;
  version: string;
}

export function readPackageInfo(): PackageInfo {
  const pkg = JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as PackageInfo;
  return { name: pkg.name, version: pkg.version };
}

export function runtimeName(): string {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno;
  return deno?.version?.deno ? `Deno ${deno.version.deno}` : `Node.js ${process.version}`;
}

export interface Server {
  config: Config;
  log: Logger;
  store: Store;
  pve: PveClient;
  simulator?: Simulator;
  runtime: Runtime;
  app: ReturnType<typeof createApp>['app'];
  fetch: (request: Request, env?: unknown) => Response | Promise<Response>;
  info: RuntimeInfo;
  close(): Promise<void>;
}

export interface BuildOptions {
  config?: Config;
  log?: Logger;
  tools?: AnyTool[];
  /** Use this simulator instead of creating one (tests drive its faults). */
  simulator?: Simulator;
  /** Use this executor (tests point it at a local sshd). */
  exec?: Services['exec'];
}

/** Checks a call's privileges against the token's cached /access/permissions before it runs. */
function permissionCheck(pve: PveClient): Runtime['permissions'] {
  const checker = createPermissionChecker(pve, 30_000);
  return {
    async check(needs, signal) {
      const verdict = await checker.check(needs, { signal });
      return verdict.ok ? verdict : { ok: false, message: missingPrivilegesMessage(verdict.missing) };
    },
  };
}

/** Build the whole server without listening (tests call app.fetch directly; start() listens). */
export async function buildServer(options: BuildOptions = {}): Promise<Server> {
  const config = options.config ?? loadConfig();
  const log = options.log ?? createLogger(config.logLevel);
  registerSecret(config.proxmox.tokenSecret);
  registerSecret(config.adminToken);
  registerSecret(config.databaseAuthToken);
  registerSecret(config.databaseAuthToken);
  if (config.testNoAuth && !['127.0.0.1', 'localhost', '::1'].includes(config.host)) {
    throw new Error('MCP_TEST_NO_AUTH is only for the protocol conformance suite and is refused unless MCP_HOST is a loopback address.');
  }
  const pkg = readPackageInfo();
  const startedAt = new Date();
  const store = await openStore(config.databaseUrl, { authToken: config.databaseAuthToken, log });
  await bootstrapAdminToken(store, config, log);

  let simulator = options.simulator;
  let pve: PveClient;
  if (config.proxmox.url) {
    pve = createPveClient({
      baseUrl: config.proxmox.url,
      tokenId: config.proxmox.tokenId as string,
      tokenSecret: config.proxmox.tokenSecret as string,
      tls: { fingerprint: config.proxmox.tlsFingerprint, caFile: config.proxmox.caFile, insecure: config.proxmox.tlsInsecure },
      timeoutMs: config.proxmox.timeoutMs,
      log,
    });
  } else {
    simulator ??= createSimulator();
    const token = simulator.defaultToken;
    pve = createPveClient({ baseUrl: 'https://simulated-cluster:8006', tokenId: token.tokenId, tokenSecret: token.secret, fetch: simulator.fetch, timeoutMs: config.proxmox.timeoutMs, log });
    log.warn('No PROXMOX_URL: running against the built-in SIMULATED Proxmox cluster. Nothing here is real.');
  }

  const tools = options.tools ?? (await discoverTools());
  const exec = options.exec ?? (await createExecutorFromConfig(config, pve, log));
  const services: Services = { store, exec, knowledge: loadKnowledge() };
  const toolsByName = new Map(tools.map((tool) => [tool.name, tool]));
  services.tools = toolsByName;
  const runtime: Runtime = {
    config,
    log,
    store,
    pve,
    tools: toolsByName,
    services,
    permissions: permissionCheck(pve),
    guardFor: createGuardFactory({ config, pve }),
    confirmationTtlMs: 10 * 60_000,
    callTimeoutMs: 15 * 60_000,
  };
  const simulated = !config.proxmox.url;
  const health = () => healthReport({ name: pkg.name, version: pkg.version, startedAt, config, store, pve, exec, simulated, log });
  // Keep (or compare with) the first reading of this server's own Proxmox permissions; a loss is logged loudly.
  void checkPermissionsAtStart({ store, pve, log });
  const info: RuntimeInfo = {
    name: pkg.name,
    version: pkg.version,
    startedAt,
    runtime: runtimeName(),
    simulated,
    tools: tools.map((tool) => ({ name: tool.name, title: tool.title, effect: tool.effect, description: tool.description })),
    projectRoot,
    health,
  };
  services.runtime = info;
  const { app, mcpHandler } = createApp(runtime, {
    name: pkg.name,
    version: pkg.version,
    instructions: serverInstructions(info),
    startedAt,
    extensions: mcpExtensions,
    health,
    simulated,
  });

  const pruneHistory = async () => {
    try {
      const removed = await store.history.prune(Date.now() - config.historyDays * 24 * 3600_000);
      await store.confirmations.prune();
      if (removed > 0) log.info('Pruned old command history', { rows: removed, keepDays: config.historyDays });
    } catch (error) {
      log.warn('History pruning failed; will try again', { error: (error as Error).message });
    }
  };
  const pruneTimer = setInterval(pruneHistory, 60 * 60_000);
  (pruneTimer as { unref?: () => void }).unref?.();
  setTimeout(pruneHistory, 5_000).unref?.();

  return {
    config,
    log,
    store,
    pve,
    simulator,
    runtime,
    app,
    fetch: app.fetch,
    info,
    async close() {
      clearInterval(pruneTimer);
      await mcpHandler.close().catch(() => undefined);
      await exec?.close().catch(() => undefined);
      simulator?.close();
      await store.close();
    },
  };
}
