/**
 * The configuration backup bundle: ONE JSON file, `proxmox-mcp-config-<UTC time>-<random>.json`, mode 0600.
 *
 * Plain bundle (no secrets in it):
 *
 *   { "format": "proxmox-mcp-config-backup", "format_version": 1, "encrypted": false,
 *     "manifest": {
 *       "format_version": 1, "created_at": "2026-11-24T21:00:00.000Z",
 *       "server": { "name": "proxmox-mcp", "version": "0.1.0", "commit": "abc…" | null },
 *       "schema": ["0001_init"],                    // DB migrations applied when it was made
 *       "contents": { "secrets": false, "history": true, "cluster": true },
 *       "entries": [ { "name": "client_tokens.json", "sha256": "<hex>", "bytes": 1234 }, … ] },
 *     "entries": { "client_tokens.json": "<base64>", … } }
 *
 * Encrypted bundle (whenever it holds secrets, i.e. the env file):
 *
 *   { "format": "proxmox-mcp-config-backup", "format_version": 1, "encrypted": true,
 *     "kdf": { "algorithm": "PBKDF2-SHA256", "iterations": 600000, "salt": "<base64 16 bytes>" },
 *     "cipher": { "algorithm": "AES-256-GCM", "iv": "<base64 12 bytes>" },
 *     "payload": "<base64 of ciphertext + 16-byte tag>" }
 *
 *   The payload decrypts to the JSON `{ "manifest": …, "entries": … }` of a plain bundle. The header
 *   (format, format_version, kdf, cipher) is the GCM associated data, so it cannot be changed either.
 *
 * Entries: `settings.json` (settings rows), `client_tokens.json` (token rows as stored: SHA-256 hashes,
 * never secrets; each row carries the client's role, mode, ceiling and learning flag), `history.json`
 * (optional, history rows), `env` (optional: the .env file, secrets included; only in an encrypted
 * bundle), `cluster.json` (a read-only snapshot of the cluster configuration, for reference; never
 * restored). Rows keep the database's own column names.
 *
 * Reading checks, in this order, and stops at the first problem: complete JSON, our format, a format
 * version we know, the passphrase (encrypted), the manifest's shape, every entry present, none extra,
 * each entry's size and SHA-256. A plain bundle's checksums catch damage and truncation; only an
 * encrypted bundle is protected against deliberate tampering (anyone who can write the file can also
 * rewrite a plain manifest), which is one more reason to keep the backup directory private.
 */
import { z } from 'zod';
import { fromBase64, open, seal, sha256Hex, toBase64, maxIterations, minIterations, kdfAlgorithm, cipherAlgorithm, type Sealed } from './crypto.ts';

export const bundleFormat = 'proxmox-mcp-config-backup';
export const bundleFormatVersion = 1;
export const bundleFilePattern = /^proxmox-mcp-config-\d{8}T\d{9}Z-[0-9a-f]{6}\.json$/;

export const entryNames = ['settings.json', 'client_tokens.json', 'history.json', 'env', 'cluster.json'] as const;
export type EntryName = (typeof entryNames)[number];

const manifestSchema = z.object({
  format_version: z.number().int(),
  created_at: z.string(),
  server: z.object({ name: z.string(), version: z.string(), commit: z.string().nullable() }),
  schema: z.array(z.string()),
  contents: z.object({ secrets: z.boolean(), history: z.boolean(), cluster: z.boolean() }),
  entries: z.array(z.object({ name: z.enum(entryNames), sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().min(0) })),
});
export type Manifest = z.infer<typeof manifestSchema>;

const plainSchema = z.object({
  format: z.literal(bundleFormat),
  format_version: z.number(),
  encrypted: z.literal(false),
  manifest: z.unknown(),
  entries: z.record(z.string(), z.string()),
});

const encryptedSchema = z.object({
  format: z.literal(bundleFormat),
  format_version: z.number(),
  encrypted: z.literal(true),
  kdf: z.object({ algorithm: z.literal(kdfAlgorithm), iterations: z.number().int().min(minIterations).max(maxIterations), salt: z.string() }),
  cipher: z.object({ algorithm: z.literal(cipherAlgorithm), iv: z.string() }),
  payload: z.string(),
});

export type BundleProblem =
  | 'corrupt'
  | 'not_a_bundle'
  | 'unsupported_format_version'
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

function associatedData(header: Pick<Sealed, 'kdf' | 'cipher'>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([bundleFormat, bundleFormatVersion, header.kdf, header.cipher]));
}

export interface NewBundle {
  createdAt: Date;
  server: { name: string; version: string; commit: string | null };
  schema: string[];
  entries: Map<EntryName, Uint8Array>;
  /** Required when an `env` entry is present; the bundle is then encrypted. */
  passphrase?: string;
  iterations?: number;
}

/** Serialize a bundle (encrypting it when a passphrase is given). */
export async function buildBundle(input: NewBundle): Promise<{ text: string; manifest: Manifest }> {
  if (input.entries.has('env') && !input.passphrase) throw new Error('a bundle with secrets (env) must be encrypted: a passphrase is required');
  const manifestEntries = [];
  const encoded: Record<string, string> = {};
  for (const [name, bytes] of input.entries) {
    manifestEntries.push({ name, sha256: await sha256Hex(bytes), bytes: bytes.length });
    encoded[name] = toBase64(bytes);
  }
  const manifest: Manifest = {
    format_version: bundleFormatVersion,
    created_at: input.createdAt.toISOString(),
    server: input.server,
    schema: input.schema,
    contents: { secrets: input.entries.has('env'), history: input.entries.has('history.json'), cluster: input.entries.has('cluster.json') },
    entries: manifestEntries,
  };
  const inner = { manifest, entries: encoded };
  if (!input.passphrase) {
    return { text: JSON.stringify({ format: bundleFormat, format_version: bundleFormatVersion, encrypted: false, ...inner }, null, 1), manifest };
  }
  const sealed = await seal(new TextEncoder().encode(JSON.stringify(inner)), input.passphrase, associatedData, input.iterations);
  const text = JSON.stringify(
    { format: bundleFormat, format_version: bundleFormatVersion, encrypted: true, kdf: sealed.kdf, cipher: sealed.cipher, payload: toBase64(sealed.ciphertext) },
    null,
    1,
  );
  return { text, manifest };
}

/** Parse and verify a bundle completely; throws BundleError naming the first problem. Changes nothing. */
export async function readBundle(text: string, passphrase?: string): Promise<BundleContents> {
  let outer: unknown;
  try {
    outer = JSON.parse(text);
  } catch {
    throw new BundleError('corrupt', 'The file is not complete JSON: it is truncated or damaged.');
  }
  const head = outer as { format?: unknown; format_version?: unknown; encrypted?: unknown } | null;
  if (!head || typeof head !== 'object' || head.format !== bundleFormat) {
    throw new BundleError('not_a_bundle', `This is not a proxmox-mcp configuration backup (expected "format": "${bundleFormat}").`);
  }
  if (head.format_version !== bundleFormatVersion) {
    throw new BundleError(
      'unsupported_format_version',
      `The bundle has format version ${JSON.stringify(head.format_version)}; this server reads version ${bundleFormatVersion} only. Restore it with the proxmox-mcp version that made it.`,
    );
  }
  let inner: { manifest?: unknown; entries?: unknown };
  let encrypted = false;
  if (head.encrypted === true) {
    encrypted = true;
    const parsed = encryptedSchema.safeParse(outer);
    if (!parsed.success) throw new BundleError('corrupt', `The encrypted bundle's header is damaged (${parsed.error.issues[0]?.path.join('.') || 'header'}).`);
    if (!passphrase) throw new BundleError('passphrase_required', 'This bundle is encrypted (it holds secrets): give its passphrase.');
    let plaintext: Uint8Array;
    try {
      plaintext = await open({ kdf: parsed.data.kdf, cipher: parsed.data.cipher, ciphertext: fromBase64(parsed.data.payload) }, passphrase, associatedData(parsed.data));
    } catch {
      throw new BundleError('wrong_passphrase_or_tampered', 'The bundle cannot be decrypted: the passphrase is wrong, or the file was changed or truncated after it was written.');
    }
    try {
      inner = JSON.parse(new TextDecoder().decode(plaintext)) as typeof inner;
    } catch {
      throw new BundleError('corrupt', 'The decrypted contents are not valid JSON.');
    }
  } else if (head.encrypted === false) {
    const parsed = plainSchema.safeParse(outer);
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
