/**
 * Logging: consola to stderr, JSON lines when stderr is not a TTY (containers, CI), pretty otherwise.
 * Every line passes through redact(), which masks the known secrets, anything shaped like a token and
 * every secret the text rules of lib/policy/redact-text.ts recognise (command-line passwords, auth
 * headers, secret-named parameters), so a secret that slipped into a message still never reaches the log.
 */
import { createConsola, type ConsolaReporter, type LogObject } from 'consola';
import { redactStrings, redactText } from './policy/redact-text.ts';
import { maskSecretKeys } from './policy/secret-params.ts';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const knownSecrets = new Set<string>();

/** Register a secret value (token secret, admin token...) so that it is masked wherever it appears. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 8) knownSecrets.add(value);
}

const secretPatterns: RegExp[] = [
  // The secret ends with its shell word: `;rm` after it stays visible (and a value masked already is left).
  /(PVEAPIToken=[^=\s]+=)[^\s"',}[;&|()<>`$]+/gi,
  /(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi,
  /\bpmcp_[A-Za-z0-9_-]{16,}\b/g,
  // To the END line, or to the end of the text when there is none (never one scan per BEGIN: that is quadratic).
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  // A bare UUID may be a Proxmox token secret; request ids (UUIDs too) stay readable for correlation.
  /(?<!"requestId":")(?<!requestId=)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi,
];

export function redact(text: string): string {
  let out = text;
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join('[redacted]');
  }
  for (const pattern of secretPatterns) {
    out = out.replace(pattern, (match, prefix: unknown) => (typeof prefix === 'string' ? `${prefix}[redacted]` : '[redacted]'));
  }
  return redactText(out);
}

/** Fields as logged: secret-named keys masked, the text rules run on every string value (before JSON encoding hides word boundaries). */
function safeFields(fields: Record<string, unknown> | undefined): Record<string, unknown> {
  return redactStrings(maskSecretKeys(fields ?? {})) as Record<string, unknown>;
}

const levelNames: Record<number, string> = { 0: 'error', 1: 'warn', 2: 'info', 3: 'info', 4: 'debug', 5: 'trace' };

const jsonReporter: ConsolaReporter = {
  log(entry: LogObject) {
    const [message, fields] = entry.args as [unknown, Record<string, unknown> | undefined];
    const line = {
      time: entry.date.toISOString(),
      level: levelNames[entry.level] ?? entry.type,
      msg: redactText(String(message)),
      ...safeFields(fields),
    };
    process.stderr.write(redact(JSON.stringify(line)) + '\n');
  },
};

const prettyReporter: ConsolaReporter = {
  log(entry: LogObject) {
    const [message, fields] = entry.args as [unknown, Record<string, unknown> | undefined];
    const extra = fields && Object.keys(fields).length > 0 ? ' ' + JSON.stringify(safeFields(fields)) : '';
    const level = (levelNames[entry.level] ?? entry.type).toUpperCase().padEnd(5);
    process.stderr.write(redact(`${entry.date.toISOString().slice(11, 19)} ${level} ${redactText(String(message))}${extra}`) + '\n');
  },
};

const consolaLevels = { debug: 4, info: 3, warn: 1, error: 0 } as const;

export function createLogger(level: keyof typeof consolaLevels = 'info', options: { json?: boolean; silent?: boolean } = {}): Logger {
  const json = options.json ?? !process.stderr.isTTY;
  const consola = createConsola({
    level: options.silent ? -999 : consolaLevels[level],
    reporters: [json ? jsonReporter : prettyReporter],
  });
  const make = (bound: Record<string, unknown>): Logger => ({
    debug: (message, fields) => consola.debug(message, { ...bound, ...fields }),
    info: (message, fields) => consola.info(message, { ...bound, ...fields }),
    warn: (message, fields) => consola.warn(message, { ...bound, ...fields }),
    error: (message, fields) => consola.error(message, { ...bound, ...fields }),
    child: (fields) => make({ ...bound, ...fields }),
  });
  return make({});
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = createLogger('error', { silent: true });
