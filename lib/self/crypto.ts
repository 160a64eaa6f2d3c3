/**
 * Passphrase encryption for backup bundles, with WebCrypto only (Node and Deno alike):
 * PBKDF2-HMAC-SHA256 (600 000 iterations by default, never fewer than 310 000) derives an AES-256-GCM key
 * from the passphrase and a random 16-byte salt; a random 12-byte IV; the 16-byte GCM tag authenticates
 * the ciphertext and the associated data (the bundle header), so a wrong passphrase and any change to
 * the file are both caught before anything is used.
 */
export const kdfAlgorithm = 'PBKDF2-SHA256';
export const cipherAlgorithm = 'AES-256-GCM';
export const defaultIterations = 600_000;
export const minIterations = 310_000;
export const maxIterations = 10_000_000;

export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Strict base64: throws on anything that is not canonical base64. */
export function fromBase64(text: string): Uint8Array {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new Error('not base64');
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function hex(bytes: ArrayBuffer | Uint8Array): string {
  return [...new Uint8Array(bytes)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
}

async function deriveKey(passphrase: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: salt as BufferSource, iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

export interface Sealed {
  kdf: { algorithm: typeof kdfAlgorithm; iterations: number; salt: string };
  cipher: { algorithm: typeof cipherAlgorithm; iv: string };
  ciphertext: Uint8Array;
}

/** Encrypt; `associated` (e.g. the serialized header) is authenticated but not encrypted. */
export async function seal(
  plaintext: Uint8Array,
  passphrase: string,
  associated: (header: Omit<Sealed, 'ciphertext'>) => Uint8Array,
  iterations = defaultIterations,
): Promise<Sealed> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const header = { kdf: { algorithm: kdfAlgorithm, iterations, salt: toBase64(salt) }, cipher: { algorithm: cipherAlgorithm, iv: toBase64(iv) } } as const;
  const key = await deriveKey(passphrase, salt, iterations);
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv as BufferSource, additionalData: associated(header) as BufferSource, tagLength: 128 }, key, plaintext as BufferSource),
  );
  return { ...header, ciphertext };
}

/** Decrypt; throws when the passphrase is wrong or anything authenticated was changed (GCM cannot tell which). */
export async function open(sealed: Sealed, passphrase: string, associated: Uint8Array): Promise<Uint8Array> {
  const key = await deriveKey(passphrase, fromBase64(sealed.kdf.salt), sealed.kdf.iterations);
  const plaintext = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: fromBase64(sealed.cipher.iv) as BufferSource, additionalData: associated as BufferSource, tagLength: 128 },
    key,
    sealed.ciphertext as BufferSource,
  );
  return new Uint8Array(plaintext);
}

/** HMAC-SHA256 of `data` with `key`, as 64 hex digits (bundles are authenticated with it). */
export async function hmacSha256Hex(key: Uint8Array, data: Uint8Array): Promise<string> {
  const cryptoKey = await crypto.subtle.importKey('raw', key as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return hex(await crypto.subtle.sign('HMAC', cryptoKey, data as BufferSource));
}

/** Which key: the first 16 hex digits of SHA-256 over it (names a key, reveals nothing of it). */
export async function keyId(key: Uint8Array): Promise<string> {
  return (await sha256Hex(key)).slice(0, 16);
}

/** Compare two hex strings in time that does not depend on where they differ. */
export function timingSafeEqualHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
