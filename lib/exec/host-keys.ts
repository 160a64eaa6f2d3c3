/**
 * Pinned SSH host keys: an OpenSSH known_hosts reader and the SHA256 fingerprint in OpenSSH's form.
 *
 * Understood: plain names and addresses, comma-separated lists, `[host]:port`, `*`/`?` wildcards,
 * `!negated` patterns, hashed entries (`|1|salt|hash`, HMAC-SHA1 of the name with the salt), the
 * `@revoked` marker, comments and blank lines. `@cert-authority` lines are skipped: we pin keys, not CAs.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface KnownHostKey {
  /** The key type as written in the file, e.g. `ssh-ed25519`. */
  type: string;
  /** The public key blob (SSH wire format), the base64 field decoded. */
  blob: Buffer;
  revoked: boolean;
  /** 1-based line number, for messages. */
  line: number;
}

interface KnownHostEntry extends KnownHostKey {
  patterns: string[]; // plain (possibly negated/wildcard) patterns
  hashed?: { salt: Buffer; hash: Buffer };
}

export interface KnownHosts {
  /** Keys pinned for any of the given names at the given port (`[name]:port` form, or plain for port 22 and as a fallback). */
  keysFor(names: string[], port: number): KnownHostKey[];
  /** Number of usable entries read. */
  readonly size: number;
}

const supportedKeyTypes = new Set([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
]);

/** Host key algorithms (as negotiated in the SSH handshake) that a key of this type can sign with. */
export function hostKeyAlgorithmsFor(keyType: string): string[] {
  if (keyType === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return supportedKeyTypes.has(keyType) ? [keyType] : [];
}

/** OpenSSH's `SHA256:<base64 without padding>` fingerprint of a public key blob. */
export function fingerprintOf(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** The key type named inside a public key blob (its first SSH string). */
export function keyTypeOf(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length <= 0 || length > 64 || 4 + length > blob.length) return undefined;
  return blob.subarray(4, 4 + length).toString('latin1');
}

export function parseKnownHosts(text: string): KnownHosts {
  const entries: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const entry = parseLine(raw, index + 1);
    if (entry) entries.push(entry);
  });
  return {
    size: entries.length,
    keysFor(names, port) {
      const lookups = new Set<string>();
      for (const name of names) {
        if (!name) continue;
        const lower = name.toLowerCase();
        if (port !== 22) lookups.add(`[${lower}]:${port}`);
        lookups.add(lower);
      }
      const found: KnownHostKey[] = [];
      for (const entry of entries) {
        if ([...lookups].some((lookup) => entryMatches(entry, lookup))) {
          found.push({ type: entry.type, blob: entry.blob, revoked: entry.revoked, line: entry.line });
        }
      }
      return found;
    },
  };
}

function parseLine(raw: string, line: number): KnownHostEntry | undefined {
  const text = raw.trim();
  if (!text || text.startsWith('#')) return undefined;
  const fields = text.split(/\s+/);
  let revoked = false;
  if (fields[0].startsWith('@')) {
    const marker = fields.shift();
    if (marker === '@revoked') revoked = true;
    else return undefined; // @cert-authority and unknown markers
  }
  if (fields.length < 3) return undefined;
  const [hostField, type, keyBase64] = fields;
  if (!supportedKeyTypes.has(type)) return undefined;
  const blob = Buffer.from(keyBase64, 'base64');
  // A blob that does not name its own type is a damaged line: ignore it rather than pin garbage.
  if (keyTypeOf(blob) !== type) return undefined;

  if (hostField.startsWith('|1|')) {
    const [, , salt, hash] = hostField.split('|');
    if (!salt || !hash) return undefined;
    return { type, blob, revoked, line, patterns: [], hashed: { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') } };
  }
  return { type, blob, revoked, line, patterns: hostField.toLowerCase().split(',').filter(Boolean) };
}

function entryMatches(entry: KnownHostEntry, lookup: string): boolean {
  if (entry.hashed) {
    const digest = createHmac('sha1', entry.hashed.salt).update(lookup).digest();
    return digest.length === entry.hashed.hash.length && timingSafeEqual(digest, entry.hashed.hash);
  }
  let matched = false;
  for (const pattern of entry.patterns) {
    if (pattern.startsWith('!')) {
      if (wildcardMatch(pattern.slice(1), lookup)) return false;
    } else if (wildcardMatch(pattern, lookup)) {
      matched = true;
    }
  }
  return matched;
}

function wildcardMatch(pattern: string, value: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === value;
  const regex = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  return regex.test(value);
}
