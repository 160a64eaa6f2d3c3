/**
 * TOTP (RFC 6238) over HMAC-SHA1 (RFC 4226), the variant every authenticator app speaks: 6 digits, 30 s
 * steps, a 160-bit secret in base32. Only node:crypto; the secret never leaves this module except as the
 * otpauth URI printed once when an approver is added.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const totpPeriodSeconds = 30;
export const totpDigits = 6;

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Encode(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text: string): Uint8Array {
  const clean = text.toUpperCase().replace(/[\s=-]/g, '');
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of clean) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error('not a base32 secret');
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return new Uint8Array(out);
}

/** A new random secret: 20 bytes (the HMAC-SHA1 block RFC 4226 recommends), base32. */
export function newTotpSecret(): string {
  return base32Encode(randomBytes(20));
}

/** The time step a moment falls in. */
export function timeStep(nowMs = Date.now(), period = totpPeriodSeconds): number {
  return Math.floor(nowMs / 1000 / period);
}

/** HOTP value of one counter (RFC 4226 section 5.3), as a zero-padded string. */
export function hotp(secret: Uint8Array, counter: number, digits = totpDigits): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', secret).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
  return String(binary % 10 ** digits).padStart(digits, '0');
}

export function totp(secretBase32: string, nowMs = Date.now(), digits = totpDigits): string {
  return hotp(base32Decode(secretBase32), timeStep(nowMs), digits);
}

/**
 * The time step a code belongs to, looking one step either side of now (clock drift, a code typed just
 * as it rolled over), or undefined. The caller makes the step single-use.
 */
export function matchingStep(secretBase32: string, code: string, nowMs = Date.now(), window = 1): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const secret = base32Decode(secretBase32);
  const now = timeStep(nowMs);
  const given = Buffer.from(code);
  for (let delta = -window; delta <= window; delta++) {
    const expected = Buffer.from(hotp(secret, now + delta));
    if (timingSafeEqual(expected, given)) return now + delta;
  }
  return undefined;
}

/** The otpauth URI an authenticator app reads (as a QR code or pasted). */
export function otpauthUri(secretBase32: string, account: string, issuer = 'proxmox-mcp'): string {
  const label = encodeURIComponent(`${issuer}:${account}`);
  const params = new URLSearchParams({ secret: secretBase32, issuer, algorithm: 'SHA1', digits: String(totpDigits), period: String(totpPeriodSeconds) });
  return `otpauth://totp/${label}?${params.toString()}`;
}
