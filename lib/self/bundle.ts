/**
 * The configuration backup bundle: ONE JSON file, `proxmox-mcp-config-<UTC time>-<random>.json`, mode 0600,
 * AUTHENTICATED: an HMAC-SHA256 with a key only this server has (`<data dir>/backup-hmac.key`, 0600, made on
 * first use) covers every byte of the bundle body, and is checked before anything beyond the fixed header is
 * parsed. A bundle someone else wrote (a forged admin token, forged history), edited, or made with another
 * key is refused as a whole.
 *
 *   {"format":"proxmox-mcp-config-backup","format_version":2,"mac":{"algorithm":"HMAC-SHA256",
 *    "key_id":"<16 hex>","value":"<64 hex>"},"body":<BODY>}
 *
 *   The header is exactly that text (a fixed pattern, no whitespace); `value` is
 *   HMAC-SHA256(key, "proxmox-mcp-config-backup/2\n" + key_id + "\n" + <the bytes of BODY as they are in the
 *   file>). `key_id`: the first 16 hex digits of SHA-256(key), to say "made with another key" plainly.
 *
 * BODY, plain (no secrets in it):
 *
 *   { "created_at": "2026-11-24T21:00:00.000Z", "encrypted": false,
 *     "manifest": {
 *       "format_version": 2, "created_at": "2026-11-24T21:00:00.000Z",   // the same time as the body's
 *       "server": { "name": "proxmox-mcp", "version": "0.1.0", "commit": "abc…" | null },
 *       "schema": ["0001_init"],                    // DB migrations applied when it was made
 *       "contents": { "secrets": false, "history": true, "cluster": true },
 *       "entries": [ { "name": "client_tokens.json", "sha256": "<hex>", "bytes": 1234 }, … ] },
 *     "entries": { "client_tokens.json": "<base64>", … } }
 *
 * BODY, encrypted (whenever it holds secrets, i.e. the env file):
 *
 *   { "created_at": "…", "encrypted": true,
 *     "kdf": { "algorithm": "PBKDF2-SHA256", "iterations": 600000, "salt": "<base64 16 bytes>" },
 *     "cipher": { "algorithm": "AES-256-GCM", "iv": "<base64 12 bytes>" },
 *     "payload": "<base64 of ciphertext + 16-byte tag>" }
 *
 *   The payload decrypts to the JSON `{ "manifest": …, "entries": … }` of a plain bundle. The header
 *   (format, format_version, created_at, kdf, cipher) is the GCM associated data as well.
 *
 * `created_at` sits in the authenticated body (outside the encryption) so that "latest" is chosen by the
 * time the server wrote, never by a file name anyone can pick, without the passphrase.
 *
 * Entries: `settings.json` (settings rows), `client_tokens.json` (token rows as stored: SHA-256 hashes,
 * never secrets; each row carries the client's role, mode, ceiling and learning flag), `history.json`
 * (optional, history rows), `env` (optional: the .env file, secrets included; only in an encrypted
 * bundle), `cluster.json` (a read-only snapshot of the cluster configuration, for reference; never
 * restored). Rows keep the database's own column names.
 *
 * Reading checks, in this order, and stops at the first problem: the size cap (on the file, before reading
 * it), the fixed header, the HMAC (with this server's key), complete JSON, the passphrase (encrypted), the
 * manifest's shape, every entry present, none extra, each entry's size and SHA-256.
 */
import { z } from 'zod';
import { fromBase64, hmacSha256Hex, keyId, open, seal, sha256Hex, timingSafeEqualHex, toBase64, maxIterations, minIterations, kdfAlgorithm, cipherAlgorithm, type Sealed } from './crypto.ts';

export const bundleFormat = 'proxmox-mcp-config-backup';
export const bundleFormatVersion = 2;
export const bundleFilePattern = /^proxmox-mcp-config-\d{8}T\d{9}Z-[0-9a-f]{6}\.json$/;
/** The fixed header every bundle starts with; `body` follows, then the closing brace. */
const headerPattern = /^\{"format":"proxmox-mcp-config-backup","format_version":(\d{1,4}),"mac":\{"algorithm":"HMAC-SHA256","key_id":"([0-9a-f]{16})","value":"([0-9a-f]{64})"\},"body":/;
/** A bundle's time may be this far ahead of the clock (clock skew between replicas), no more. */
const futureSkewMs = 5 * 60_000;

export const entryNames = ['settings.json', 'client_tokens.json', 'history.json', 'env', 'cluster.json'] as const;
export type EntryName = (typeof entryNames)[number];

const isoTime = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, 'an ISO 8601 UTC time');

const manifestSchema = z.object({
  format_version: z.number().int(),
  created_at: isoTime,
  server: z.object({ name: z.string(), version: z.string(), commit: z.string().nullable() }),
  schema: z.array(z.string()),
  contents: z.object({ secrets: z.boolean(), history: z.boolean(), cluster: z.boolean() }),
  entries: z.array(z.object({ name: z.enum(entryNames), sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().min(0) })),
});
export type Manifest = z.infer<typeof manifestSchema>;

const plainSchema = z.object({
  created_at: isoTime,
  encrypted: z.literal(false),
  manifest: z.unknown(),
  entries: z.record(z.string(), z.string()),
}).strict();

const encryptedSchema = z.object({
  created_at: isoTime,
  encrypted: z.literal(true),
  kdf: z.object({ algorithm: z.literal(kdfAlgorithm), iterations: z.number().int().min(minIterations).max(maxIterations), salt: z.string() }),
  cipher: z.object({ algorithm: z.literal(cipherAlgorithm), iv: z.string() }),
  payload: z.string(),
}).strict();

export type BundleProblem =
  | 'too_large'
  | 'corrupt'
  | 'not_a_bundle'
  | 'unsupported_format_version'
  | 'not_authentic'
  | 'other_key'
  | 'from_the_future'
  | 'passphrase_required'
  | 'wrong_passphrase_or_tampered'
  | 'bad_manifest'
  | 'missing_entry'
  | 'unexpected_entry'
  | 'checksum_mismatch'
  | 'incompatible';

export class BundleError extends Error {
  constructor(readonly problem: BundleProblem, message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

export interface BundleContents {
  manifest: Manifest;
  entries: Map<EntryName, Uint8Array>;
  encrypted: boolean;
}

function associatedData(createdAt: string, header: Pick<Sealed, 'kdf' | 'cipher'>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([bundleFormat, bundleFormatVersion, createdAt, header.kdf, header.cipher]));
}

function macInput(id: string, body: string): Uint8Array {
  return new TextEncoder().encode(`${bundleFormat}/${bundleFormatVersion}\n${id}\n${body}`);
}

export interface NewBundle {
  createdAt: Date;
  server: { name: string; version: string; commit: string | null };
  schema: string[];
  entries: Map<EntryName, Uint8Array>;
  /** The server's bundle key (backup.ts: bundleKey): every bundle is authenticated with it. */
  key: Uint8Array;
  /** Required when an `env` entry is present; the bundle is then encrypted. */
  passphrase?: string;
  iterations?: number;
}

/** Serialize a bundle (encrypting it when a passphrase is given) and authenticate it with the key. */
export async function buildBundle(input: NewBundle): Promise<{ text: string; manifest: Manifest }> {
  if (input.entries.has('env') && !input.passphrase) throw new Error('a bundle with secrets (env) must be encrypted: a passphrase is required');
  const manifestEntries = [];
  const encoded: Record<string, string> = {};
  for (const [name, bytes] of input.entries) {
    manifestEntries.push({ name, sha256: await sha256Hex(bytes), bytes: bytes.length });
    encoded[name] = toBase64(bytes);
  }
  const createdAt = input.createdAt.toISOString();
  const manifest: Manifest = {
    format_version: bundleFormatVersion,
    created_at: createdAt,
    server: input.server,
    schema: input.schema,
    contents: { secrets: input.entries.has('env'), history: input.entries.has('history.json'), cluster: input.entries.has('cluster.json') },
    entries: manifestEntries,
  };
  const inner = { manifest, entries: encoded };
  let body: string;
  if (!input.passphrase) {
    body = JSON.stringify({ created_at: createdAt, encrypted: false, ...inner }, null, 1);
  } else {
    const sealed = await seal(new TextEncoder().encode(JSON.stringify(inner)), input.passphrase, (header) => associatedData(createdAt, header), input.iterations);
    body = JSON.stringify({ created_at: createdAt, encrypted: true, kdf: sealed.kdf, cipher: sealed.cipher, payload: toBase64(sealed.ciphertext) }, null, 1);
  }
  return { text: await authenticatedText(body, input.key), manifest };
}

/** The file text for a bundle body: the fixed header with the body's HMAC under `key`, then the body. */
export async function authenticatedText(body: string, key: Uint8Array): Promise<string> {
  const id = await keyId(key);
  const mac = await hmacSha256Hex(key, macInput(id, body));
  return `{"format":"${bundleFormat}","format_version":${bundleFormatVersion},"mac":{"algorithm":"HMAC-SHA256","key_id":"${id}","value":"${mac}"},"body":${body}}\n`;
}

/**
 * Check the header and the HMAC, and only then parse the body (JSON and its outer shape). Returns the
 * authenticated body and its time. Does not decrypt or check the manifest (readBundle does).
 */
export async function authenticateBundle(text: string, key: Uint8Array, options: { now?: number } = {}): Promise<{ createdAt: string; body: unknown }> {
  const header = headerPattern.exec(text.slice(0, 400));
  if (!header) {
    if (/^\s*\{\s*"format"\s*:\s*"proxmox-mcp-config-backup"/.test(text.slice(0, 200))) {
      const version = /"format_version"\s*:\s*(\d+)/.exec(text.slice(0, 400))?.[1];
      if (version && Number(version) < bundleFormatVersion) {
        throw new BundleError('not_authentic', `This bundle has format version ${version}, from before bundles were authenticated: nothing can prove this server wrote it, so it is not restored. Make a new backup with backup_config.`);
      }
      throw new BundleError('corrupt', 'The bundle header is not the one this server writes: it was changed or damaged.');
    }
    throw new BundleError('not_a_bundle', `This is not a proxmox-mcp configuration backup (expected "format": "${bundleFormat}").`);
  }
  if (Number(header[1]) !== bundleFormatVersion) {
    throw new BundleError('unsupported_format_version', `The bundle has format version ${header[1]}; this server reads version ${bundleFormatVersion} only. Restore it with the proxmox-mcp version that made it.`);
  }
  const trimmed = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (!trimmed.endsWith('}')) throw new BundleError('corrupt', 'The file is not complete: it is truncated or damaged.');
  const body = trimmed.slice(header[0].length, -1);
  const id = await keyId(key);
  if (header[2] !== id) {
    throw new BundleError('other_key', `The bundle was authenticated with another key (${header[2]}; this server's is ${id}): it was made by another server, or the key in the data directory was replaced. It is not restored.`);
  }
  const expected = await hmacSha256Hex(key, macInput(id, body));
  if (!timingSafeEqualHex(expected, header[3])) {
    throw new BundleError('not_authentic', 'The bundle\'s HMAC does not match: it was changed after this server wrote it (or damaged). Nothing in it is used.');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new BundleError('corrupt', 'The bundle body is not JSON.');
  }
  const createdAt = (parsed as { created_at?: unknown } | null)?.created_at;
  if (typeof createdAt !== 'string' || !isoTime.safeParse(createdAt).success) throw new BundleError('corrupt', 'The bundle has no creation time.');
  const now = options.now ?? Date.now();
  if (Date.parse(createdAt) > now + futureSkewMs) {
    throw new BundleError('from_the_future', `The bundle says it was made at ${createdAt}, after now: refused (a clock problem, or a bundle meant to always look newest).`);
  }
  return { createdAt, body: parsed };
}

export interface ReadOptions {
  key: Uint8Array;
  passphrase?: string;
  now?: number;
}

/** Authenticate, parse and verify a bundle completely; throws BundleError naming the first problem. Changes nothing. */
export async function readBundle(text: string, options: ReadOptions): Promise<BundleContents> {
  const { createdAt, body } = await authenticateBundle(text, options.key, { now: options.now });
  const head = body as { encrypted?: unknown };
  let inner: { manifest?: unknown; entries?: unknown };
  let encrypted = false;
  if (head.encrypted === true) {
    encrypted = true;
    const parsed = encryptedSchema.safeParse(body);
    if (!parsed.success) throw new BundleError('corrupt', `The encrypted bundle's header is damaged (${parsed.error.issues[0]?.path.join('.') || 'header'}).`);
    if (!options.passphrase) throw new BundleError('passphrase_required', 'This bundle is encrypted (it holds secrets): give its passphrase.');
    let plaintext: Uint8Array;
    try {
      plaintext = await open({ kdf: parsed.data.kdf, cipher: parsed.data.cipher, ciphertext: fromBase64(parsed.data.payload) }, options.passphrase, associatedData(createdAt, parsed.data));
    } catch {
      throw new BundleError('wrong_passphrase_or_tampered', 'The bundle cannot be decrypted: the passphrase is wrong.');
    }
    try {
      inner = JSON.parse(new TextDecoder().decode(plaintext)) as typeof inner;
    } catch {
      throw new BundleError('corrupt', 'The decrypted contents are not valid JSON.');
    }
  } else if (head.encrypted === false) {
    const parsed = plainSchema.safeParse(body);
    if (!parsed.success) throw new BundleError('corrupt', `The bundle is damaged (${parsed.error.issues[0]?.path.join('.') || 'structure'}).`);
    inner = parsed.data;
  } else {
    throw new BundleError('corrupt', 'The bundle does not say whether it is encrypted.');
  }

  const manifest = manifestSchema.safeParse(inner.manifest);
  if (!manifest.success) {
    throw new BundleError('bad_manifest', `The manifest is not valid: ${manifest.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).slice(0, 3).join('; ')}.`);
  }
  if (manifest.data.format_version !== bundleFormatVersion) {
    throw new BundleError('unsupported_format_version', `The manifest has format version ${manifest.data.format_version}; this server reads version ${bundleFormatVersion}.`);
  }
  if (manifest.data.created_at !== createdAt) throw new BundleError('bad_manifest', 'The manifest\'s time is not the bundle\'s time.');
  if (manifest.data.contents.secrets && !encrypted) {
    throw new BundleError('bad_manifest', 'The manifest says the bundle holds secrets, but it is not encrypted; refusing it.');
  }
  const raw = (inner.entries ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null) throw new BundleError('corrupt', 'The bundle has no entries.');
  const listed = new Set(manifest.data.entries.map((entry) => entry.name));
  for (const name of Object.keys(raw)) {
    if (!listed.has(name as EntryName)) throw new BundleError('unexpected_entry', `The bundle holds '${name}', which its manifest does not list.`);
  }
  if (listed.size !== manifest.data.entries.length) throw new BundleError('bad_manifest', 'The manifest lists an entry twice.');
  const entries = new Map<EntryName, Uint8Array>();
  for (const entry of manifest.data.entries) {
    const text = raw[entry.name];
    if (typeof text !== 'string') throw new BundleError('missing_entry', `The manifest lists '${entry.name}', but the bundle does not hold it (truncated?).`);
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(text);
    } catch {
      throw new BundleError('corrupt', `Entry '${entry.name}' is not valid base64.`);
    }
    if (bytes.length !== entry.bytes) throw new BundleError('checksum_mismatch', `Entry '${entry.name}' has ${bytes.length} bytes, the manifest says ${entry.bytes}: the bundle was changed or truncated.`);
    if ((await sha256Hex(bytes)) !== entry.sha256) throw new BundleError('checksum_mismatch', `Entry '${entry.name}' does not match its SHA-256 in the manifest: the bundle was changed or damaged.`);
    entries.set(entry.name, bytes);
  }
  if (entries.has('env') && !encrypted) throw new BundleError('bad_manifest', 'The bundle holds the env file (secrets) but is not encrypted; refusing it.');
  return { manifest: manifest.data, entries, encrypted };
}

export function entryJson<T>(contents: BundleContents, name: EntryName): T | undefined {
  const bytes = contents.entries.get(name);
  if (!bytes) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch {
    throw new BundleError('corrupt', `Entry '${name}' is not valid JSON.`);
  }
}

/** `proxmox-mcp-config-20261124T210000123Z-a1b2c3.json`: sorts by time. */
export function bundleFileName(at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('.', '');
  const random = [...crypto.getRandomValues(new Uint8Array(3))].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `proxmox-mcp-config-${stamp}-${random}.json`;
}
