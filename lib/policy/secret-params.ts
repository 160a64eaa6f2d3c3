/**
 * Which parameter names carry secrets, by meaning: the names judged from the official API schema and
 * kept as data in secret-params.json, plus a fallback by wording for names outside it (another program's
 * option, a future tool's argument). One answer for history, logs, errors, backups and the cluster snapshot.
 */
import data from './secret-params.json' with { type: 'json' };

interface SecretEntry {
  cli: boolean;
  where: string;
}

const table = data as unknown as { secret: Record<string, SecretEntry>; alsoSecret: Record<string, string>; notSecret: Record<string, string> };

/**
 * `Encryption_Key`, `encryption-key` and `encryptionKey` are one name (PVE CLIs and JSON use '-', our
 * tools '_', other programs camelCase: `authToken`, `apiKey`, `PVEAuthCookie`).
 */
export function normalizeName(name: string): string {
  return name
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()
    .replace(/_/g, '-');
}

const secretNames = new Set([...Object.keys(table.secret), ...Object.keys(table.alsoSecret).filter((name) => !name.startsWith('$'))].map(normalizeName));
const notSecretNames = new Set(Object.keys(table.notSecret).map(normalizeName));

/** Option names that are secrets on a command line too (and whose unambiguous prefixes are). */
export const cliSecretNames: readonly string[] = Object.entries(table.secret)
  .filter(([, entry]) => entry.cli)
  .map(([name]) => name);

/** Wording that means a secret in a name we have not judged one by one. */
const secretWording = /(^|-)pass($|-)|password|passwd|passphrase|secret|private-?key|api-?key|access-?key|hmac|keyring|credential|(^|-)(token|ticket|otp|totp|key|auth|cookie)$|-pwd$/;
/** Public keys and certificates are not secrets, whatever else the name says. */
const publicWording = /(^|-)pub(lic)?(-|key)|pubkey|cert(ificate)?s?$/;

export function isSecretName(name: string): boolean {
  const normalized = normalizeName(name);
  if (secretNames.has(normalized)) return true;
  if (notSecretNames.has(normalized) || publicWording.test(normalized)) return false;
  return secretWording.test(normalized);
}

/**
 * Whether a command-line option name (without its dashes) hands over a secret: a secret name, a prefix of
 * a PVE secret option that the CLI would expand (Getopt::Long accepts any unique prefix: `--passw`,
 * `--pas`, `--encr`, `--cipass`; on a PVE CLI even one letter, `pveum user add x -p PW`), or a name
 * with secret wording (`--http-password`, `--api-key`, `--db-pass`). A prefix that also starts a public
 * option (`--tok` is pveum acl's `--tokens`, a list of token IDs) is masked all the same: showing less
 * is safe, showing a secret is not.
 */
export function isSecretOption(option: string, onPveCli = false): boolean {
  const normalized = normalizeName(option);
  if (notSecretNames.has(normalized)) return false;
  if (isSecretName(normalized)) return true;
  if (normalized.length >= (onPveCli ? 1 : 2) && cliSecretNames.some((name) => name.startsWith(normalized))) return true;
  return /pass/.test(normalized) && !/bypass|compass|passthrough|passive/.test(normalized);
}

/** A copy of a JSON-like value with every secret-named key's value replaced (non-empty, non-boolean values). */
export function maskSecretKeys(value: unknown, depth = 0): unknown {
  if (depth > 32) return '[nested]';
  if (Array.isArray(value)) return value.map((item) => maskSecretKeys(item, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      const holdsValue = inner !== undefined && inner !== null && inner !== '' && typeof inner !== 'boolean';
      out[key] = holdsValue && isSecretName(key) ? '[redacted]' : maskSecretKeys(inner, depth + 1);
    }
    return out;
  }
  return value;
}
