/**
 * The env file a backup may carry (secrets included, so only in an encrypted bundle). On a host install
 * it is the `.env` in the install directory, as written by setup.sh. Inside the container there is no
 * such file (docker compose hands it over as environment), so the bundle then gets the same settings
 * rendered from the running configuration: the variables that were set, with their values.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.ts';

export function envFilePath(config: Config): string {
  return join(config.installDir, '.env');
}

function valueOf(config: Config, name: string): string | undefined {
  const values: Record<string, string | number | boolean | undefined> = {
    MCP_PORT: config.port,
    MCP_HOST: config.host,
    MCP_ADMIN_TOKEN: config.adminToken,
    MCP_ALLOWED_HOSTS: config.allowedHosts.join(','),
    MCP_ALLOWED_ORIGINS: config.allowedOrigins.join(','),
    MCP_DATA_DIR: config.dataDir,
    MCP_BACKUP_DIR: config.backupDir,
    MCP_BACKUP_KEEP: config.backupKeep,
    MCP_HISTORY_DAYS: config.historyDays,
    MCP_MAIN_NODE: config.mainNode,
    MCP_INSTALL_DIR: config.installDir,
    MCP_UPDATE_DIR: config.updateDir,
    MCP_LOG_LEVEL: config.logLevel,
    MCP_TEST_NO_AUTH: config.testNoAuth,
    DATABASE_URL: config.databaseUrl,
    DATABASE_AUTH_TOKEN: config.databaseAuthToken,
    PROXMOX_URL: config.proxmox.url,
    PROXMOX_TOKEN_ID: config.proxmox.tokenId,
    PROXMOX_TOKEN_SECRET: config.proxmox.tokenSecret,
    PROXMOX_TLS_FINGERPRINT: config.proxmox.tlsFingerprint,
    PROXMOX_CA_FILE: config.proxmox.caFile,
    PROXMOX_TLS_INSECURE: config.proxmox.tlsInsecure,
    PROXMOX_TIMEOUT_MS: config.proxmox.timeoutMs,
    SSH_USER: config.ssh.user,
    SSH_PORT: config.ssh.port,
    SSH_KEY_FILE: config.ssh.keyFile,
    SSH_KNOWN_HOSTS: config.ssh.knownHostsFile,
    SSH_HOSTS: Object.entries(config.ssh.hosts).map(([node, address]) => `${node}=${address}`).join(','),
  };
  const value = values[name];
  return value === undefined ? undefined : String(value);
}

/** The env file's text and where it came from. */
export function currentEnvFile(config: Config): { text: string; source: 'file' | 'rendered'; path?: string } {
  const path = envFilePath(config);
  if (existsSync(path)) return { text: readFileSync(path, 'utf8'), source: 'file', path };
  const lines = ['# proxmox-mcp settings, rendered from the running configuration by backup_config'];
  for (const name of config.setVariables) {
    const value = valueOf(config, name);
    if (value !== undefined && value !== '') lines.push(`${name}=${value}`);
  }
  return { text: lines.join('\n') + '\n', source: 'rendered' };
}

/** Variable names in an env file (never values), to show what a restore would change. */
export function envVariables(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
    if (match) out.set(match[1], match[2]);
  }
  return out;
}

/**
 * Variables a restored env file may not set: only the ones proxmox-mcp and setup.sh write (MCP_*, PROXMOX_*,
 * SSH_*, DATABASE_*, LIBSQL_*, SQLD_*). Everything else is refused, COMPOSE_* and DOCKER_* first of all
 * (Docker Compose reads the host's .env: COMPOSE_FILE, DOCKER_HOST…), and NODE_OPTIONS, PATH and the like,
 * which the runtime would act on.
 */
export function refusedEnvVariables(variables: Map<string, string>): string[] {
  return [...variables.keys()].filter((name) => !/^(MCP|PROXMOX|SSH|DATABASE|LIBSQL|SQLD)_[A-Z0-9_]+$/.test(name)).sort();
}
