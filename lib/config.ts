/**
 * Configuration comes from the environment (and a .env file beside the project, when present), is
 * validated once at start-up, and is then passed around as a frozen object. A wrong value stops the
 * server with a message that names the variable and what it expects.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { projectRoot } from './paths.ts';

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .optional()
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const commaList = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part.length > 0),
  );

const port = z.coerce.number().int('must be a whole number').min(1, 'must be 1-65535').max(65535, 'must be 1-65535');

/** PVE shows certificate fingerprints as 32 colon-separated hex pairs (SHA-256). */
const fingerprintPattern = /^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/;

const envSchema = z
  .object({
    MCP_PORT: port.default(3001),
    MCP_HOST: z.string().min(1).default('127.0.0.1'),
    MCP_TLS_CERT: z.string().optional(),
    MCP_TLS_KEY: z.string().optional(),
    MCP_ALLOW_PLAIN_HTTP: booleanFlag,
    MCP_ADMIN_TOKEN: z.string().min(24, 'must be at least 24 characters (use a random secret)').optional(),
    MCP_ALLOWED_HOSTS: commaList,
    MCP_ALLOWED_ORIGINS: commaList,
    MCP_DATA_DIR: z.string().default('data'),
    MCP_BACKUP_DIR: z.string().optional(),
    MCP_BACKUP_KEEP: z.coerce.number().int().min(1).max(1000).default(10),
    MCP_BACKUP_MAX_BYTES: z.coerce.number().int().min(4096).max(1024 * 1024 * 1024).default(64 * 1024 * 1024),
    MCP_HISTORY_DAYS: z.coerce.number().int().min(1).max(365).default(7),
    MCP_MAIN_NODE: z
      .string()
      .regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/, 'must be a Proxmox node name')
      .optional(),
    MCP_INSTALL_DIR: z.string().optional(),
    MCP_UPDATE_DIR: z.string().optional(),
    MCP_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    MCP_MAX_BODY_BYTES: z.coerce.number().int('must be a whole number of bytes').min(1024, 'must be at least 1024').max(256 * 1024 * 1024, 'must be at most 268435456 (256 MiB)').default(1024 * 1024),
    MCP_TEST_NO_AUTH: booleanFlag,
    MCP_IN_CONTAINER: z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .optional()
      .transform((value) => (value === undefined ? undefined : value === 'true' || value === '1' || value === 'yes')),
    MCP_GIT_COMMIT: z
      .string()
      .regex(/^([0-9a-fA-F]{7,64}|unknown)$/, 'must be a git commit hash (or "unknown"), as the image build sets it')
      .optional()
      .transform((value) => (value === undefined || value === 'unknown' ? undefined : value.toLowerCase())),
    MCP_GIT_TAG: z.string().regex(/^[^\s]{1,200}$/, 'must be a git tag name such as v0.2.0').optional(),
    DATABASE_URL: z.string().optional(),
    DATABASE_AUTH_TOKEN: z.string().optional(),
    PROXMOX_URL: z
      .string()
      .url('must be a URL such as https://10.0.0.5:8006')
      .refine((url) => /^https?:\/\//.test(url), 'must start with https:// (or http:// for the simulator)')
      .optional(),
    PROXMOX_TOKEN_ID: z
      .string()
      .regex(/^[^@!\s]+@[^@!\s]+![A-Za-z][A-Za-z0-9.\-_]+$/, 'must look like user@realm!tokenid, e.g. proxmox-mcp@pve!mcp')
      .optional(),
    PROXMOX_TOKEN_SECRET: z.string().min(1).optional(),
    PROXMOX_TLS_FINGERPRINT: z
      .string()
      .regex(fingerprintPattern, 'must be the SHA-256 fingerprint as Proxmox shows it (AA:BB:...:FF, 32 pairs)')
      .optional(),
    PROXMOX_CA_FILE: z.string().optional(),
    PROXMOX_TLS_INSECURE: booleanFlag,
    PROXMOX_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
    SSH_USER: z.string().default('proxmox-mcp'),
    SSH_PORT: port.default(22),
    SSH_KEY_FILE: z.string().optional(),
    SSH_KNOWN_HOSTS: z.string().optional(),
    SSH_HOSTS: z.string().optional(),
    /** Host commands as root bypass the sudo allow-list and every file permission: only when asked for by name. */
    MCP_ALLOW_ROOT_SSH: booleanFlag,
  })
  .superRefine((env, ctx) => {
    if (/^(root|0)$/.test(env.SSH_USER.trim()) && !env.MCP_ALLOW_ROOT_SSH) {
      ctx.addIssue({
        code: 'custom',
        path: ['SSH_USER'],
        message: 'is root: host commands would run with every right, past the sudo allow-list that setup.sh installs. Use the restricted proxmox-mcp user (./setup.sh creates it), or set MCP_ALLOW_ROOT_SSH=1 to accept the risk',
      });
    }
    if (env.PROXMOX_URL && (!env.PROXMOX_TOKEN_ID || !env.PROXMOX_TOKEN_SECRET)) {
      ctx.addIssue({
        code: 'custom',
        path: ['PROXMOX_TOKEN_ID'],
        message: 'PROXMOX_URL is set, so PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET are needed too (run ./setup.sh to create them)',
      });
    }
    if (Boolean(env.MCP_TLS_CERT) !== Boolean(env.MCP_TLS_KEY)) {
      ctx.addIssue({ code: 'custom', path: [env.MCP_TLS_CERT ? 'MCP_TLS_KEY' : 'MCP_TLS_CERT'], message: 'MCP_TLS_CERT and MCP_TLS_KEY go together: the certificate (PEM) and its private key (PEM) files' });
    }
    if (env.PROXMOX_TLS_INSECURE && (env.PROXMOX_TLS_FINGERPRINT || env.PROXMOX_CA_FILE)) {
      ctx.addIssue({
        code: 'custom',
        path: ['PROXMOX_TLS_INSECURE'],
        message: 'cannot be true together with PROXMOX_TLS_FINGERPRINT or PROXMOX_CA_FILE; pick one way to trust the certificate',
      });
    }
  });

export interface Config {
  port: number;
  host: string;
  /** HTTPS for the MCP server (MCP_TLS_CERT/MCP_TLS_KEY, PEM files); required to listen beyond loopback. */
  tls?: { certFile: string; keyFile: string };
  /** MCP_ALLOW_PLAIN_HTTP: serve plain HTTP beyond loopback anyway (tokens then cross the network in clear). */
  allowPlainHttp: boolean;
  adminToken?: string;
  allowedHosts: string[];
  allowedOrigins: string[];
  dataDir: string;
  backupDir: string;
  backupKeep: number;
  /** MCP_BACKUP_MAX_BYTES: a bundle file larger than this is refused before it is read (default 64 MiB). */
  backupMaxBytes: number;
  historyDays: number;
  mainNode?: string;
  installDir: string;
  updateDir: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Largest request body any door reads (MCP_MAX_BODY_BYTES, default 1 MiB); bigger ones get 413. */
  maxBodyBytes: number;
  /** Only for the protocol conformance suite: accept calls without a token. Refused unless bound to loopback. */
  testNoAuth: boolean;
  /**
   * Where this server runs. `inside`: MCP_IN_CONTAINER (the image sets 1); when unset, and only for the
   * real process environment, whether /.dockerenv or /run/.containerenv exists. `gitCommit`/`gitTag`: the
   * checkout the image was built from (MCP_GIT_COMMIT/MCP_GIT_TAG, baked in from the GIT_COMMIT/GIT_TAG
   * build args), since the image has no .git.
   */
  container: { inside: boolean; gitCommit?: string; gitTag?: string };
  databaseUrl: string;
  databaseAuthToken?: string;
  proxmox: {
    /** Undefined: the built-in simulated cluster. */
    url?: string;
    tokenId?: string;
    tokenSecret?: string;
    tlsFingerprint?: string;
    caFile?: string;
    tlsInsecure: boolean;
    timeoutMs: number;
  };
  ssh: {
    user: string;
    port: number;
    keyFile?: string;
    knownHostsFile?: string;
    /** Optional node=address overrides (`pve1=10.0.0.5,pve2=10.0.0.6`); otherwise addresses come from /cluster/status. */
    hosts: Record<string, string>;
    /** MCP_ALLOW_ROOT_SSH: SSH_USER may be root (refused otherwise). */
    allowRoot?: boolean;
  };
  /** Names of the variables that were set from the environment, for get_mcp_info (values never). */
  setVariables: string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Configuration is not valid:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parse a .env file: KEY=value lines, # comments, optional quotes. Never overrides the real environment. */
export function parseDotEnv(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2];
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1);
    } else {
      value = value.replace(/\s+#.*$/, '');
    }
    values[match[1]] = value;
  }
  return values;
}

function parseHostMap(value: string | undefined): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of (value ?? '').split(',')) {
    const [node, address] = pair.split('=').map((part) => part?.trim());
    if (node && address) map[node] = address;
  }
  return map;
}

const knownVariables = Object.keys(envSchema.shape);

/** The fallback when MCP_IN_CONTAINER is unset: the marker files Docker and Podman put in a container. */
function containerMarkerExists(): boolean {
  return existsSync('/.dockerenv') || existsSync('/run/.containerenv');
}

/**
 * Build the config from an environment. `env` defaults to process.env merged under a .env file found in
 * `envFile` (default: <project>/.env); values in the real environment win.
 */
export function loadConfig(env?: Record<string, string | undefined>, options: { envFile?: string | null; containerProbe?: () => boolean } = {}): Config {
  let source: Record<string, string | undefined> = env ?? process.env;
  if (env === undefined && options.envFile !== null) {
    const envFile = options.envFile ?? join(projectRoot, '.env');
    if (existsSync(envFile)) source = { ...parseDotEnv(readFileSync(envFile, 'utf8')), ...source };
  }
  const relevant: Record<string, string | undefined> = {};
  for (const name of knownVariables) {
    const value = source[name];
    if (value !== undefined && value !== '') relevant[name] = value;
  }
  const parsed = envSchema.safeParse(relevant);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? 'environment');
        return `${name}: ${issue.message}`;
      }),
    );
  }
  const e = parsed.data;
  const dataDir = isAbsolute(e.MCP_DATA_DIR) ? e.MCP_DATA_DIR : resolve(projectRoot, e.MCP_DATA_DIR);
  return Object.freeze({
    port: e.MCP_PORT,
    host: e.MCP_HOST,
    ...(e.MCP_TLS_CERT && e.MCP_TLS_KEY ? { tls: { certFile: e.MCP_TLS_CERT, keyFile: e.MCP_TLS_KEY } } : {}),
    allowPlainHttp: e.MCP_ALLOW_PLAIN_HTTP,
    adminToken: e.MCP_ADMIN_TOKEN,
    allowedHosts: e.MCP_ALLOWED_HOSTS,
    allowedOrigins: e.MCP_ALLOWED_ORIGINS,
    dataDir,
    backupDir: e.MCP_BACKUP_DIR ? resolve(projectRoot, e.MCP_BACKUP_DIR) : join(dataDir, 'backups'),
    backupKeep: e.MCP_BACKUP_KEEP,
    backupMaxBytes: e.MCP_BACKUP_MAX_BYTES,
    historyDays: e.MCP_HISTORY_DAYS,
    mainNode: e.MCP_MAIN_NODE,
    installDir: e.MCP_INSTALL_DIR ? resolve(e.MCP_INSTALL_DIR) : projectRoot,
    updateDir: e.MCP_UPDATE_DIR ? resolve(projectRoot, e.MCP_UPDATE_DIR) : join(dataDir, 'update'),
    logLevel: e.MCP_LOG_LEVEL,
    maxBodyBytes: e.MCP_MAX_BODY_BYTES,
    testNoAuth: e.MCP_TEST_NO_AUTH,
    container: {
      inside: e.MCP_IN_CONTAINER ?? (options.containerProbe ?? (env === undefined ? containerMarkerExists : () => false))(),
      ...(e.MCP_GIT_COMMIT ? { gitCommit: e.MCP_GIT_COMMIT } : {}),
      ...(e.MCP_GIT_TAG ? { gitTag: e.MCP_GIT_TAG } : {}),
    },
    databaseUrl: e.DATABASE_URL ?? `file:${join(dataDir, 'proxmox-mcp.db')}`,
    databaseAuthToken: e.DATABASE_AUTH_TOKEN,
    proxmox: {
      url: e.PROXMOX_URL?.replace(/\/+$/, ''),
      tokenId: e.PROXMOX_TOKEN_ID,
      tokenSecret: e.PROXMOX_TOKEN_SECRET,
      tlsFingerprint: e.PROXMOX_TLS_FINGERPRINT?.toUpperCase(),
      caFile: e.PROXMOX_CA_FILE,
      tlsInsecure: e.PROXMOX_TLS_INSECURE,
      timeoutMs: e.PROXMOX_TIMEOUT_MS,
    },
    ssh: {
      user: e.SSH_USER,
      port: e.SSH_PORT,
      keyFile: e.SSH_KEY_FILE,
      knownHostsFile: e.SSH_KNOWN_HOSTS,
      hosts: parseHostMap(e.SSH_HOSTS),
      allowRoot: e.MCP_ALLOW_ROOT_SSH,
    },
    setVariables: Object.keys(relevant).sort(),
  });
}

/** Variables whose values are secrets: never logged, never shown, redacted in backups unless asked. */
export const secretVariables = ['MCP_ADMIN_TOKEN', 'PROXMOX_TOKEN_SECRET', 'DATABASE_AUTH_TOKEN'] as const;

/** The config with every secret replaced by a marker, for get_mcp_info and logs. */
export function redactedConfig(config: Config): Record<string, unknown> {
  return {
    ...config,
    adminToken: config.adminToken ? '[set, redacted]' : undefined,
    databaseAuthToken: config.databaseAuthToken ? '[set, redacted]' : undefined,
    databaseUrl: config.databaseUrl.replace(/(authToken=)[^&]+/i, '$1[redacted]').replace(/\/\/[^@/]*@/, '//[redacted]@'),
    proxmox: { ...config.proxmox, tokenSecret: config.proxmox.tokenSecret ? '[set, redacted]' : undefined },
  };
}
