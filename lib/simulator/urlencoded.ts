/**
 * pve-http-server's decode_urlencoded (AnyEvent.pm), which decodes both the query string and a form body, done
 * the way Perl does it rather than the way URLSearchParams does:
 * - pairs are split on `&` **and** `;`; Perl's split drops trailing empty fields, but an empty field inside
 *   the list (`a=1&&b=2`) becomes a key `''` (which validation then rejects);
 * - a pair is split on **every** `=`, and only the first two fields count: `k=a=b` is `k` = `a`, and `k=`
 *   or a bare `k` has no value (undefined, which validation treats as absent);
 * - `+` is a space and `%XX` a byte, in keys and values; only the value is then decoded as UTF-8 (malformed
 *   bytes become U+FFFD); a bad escape such as `%zz` stays as it is;
 * - a repeated key collects its values in an array, unless the earlier value was undefined; a repeated key
 *   without a value resets it to undefined.
 * The input is a "binary string": one char per byte (see `bytesToBinary`).
 */
export function decodeUrlencoded(data: string): Record<string, unknown> {
  const res: Record<string, unknown> = {};
  if (!data) return res;
  for (const kv of perlSplit(data, /[&;]/)) {
    const [rawKey, rawValue] = perlSplit(kv, /=/);
    const key = unescape(rawKey ?? '');
    if (rawValue === undefined) {
      res[key] = undefined;
      continue;
    }
    let value: unknown = utf8(unescape(rawValue));
    const old = res[key];
    if (old !== undefined) value = Array.isArray(old) ? [...old, value] : [old, value];
    res[key] = value;
  }
  return res;
}

/** Perl `split(/re/, $s)` without a limit: trailing empty fields are dropped (an empty string gives none). */
function perlSplit(s: string, re: RegExp): string[] {
  const parts = s.split(re);
  while (parts.length && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

function unescape(s: string): string {
  return s.replace(/\+/g, ' ').replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

const decoder = new TextDecoder('utf-8');

/** Encode::decode('utf8', $bytes) on a binary string. */
function utf8(binary: string): string {
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i) & 0xff;
  return decoder.decode(bytes);
}

/** Bytes as a binary string (one char per byte, like a Perl byte string). */
export function bytesToBinary(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 0x8000) out += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return out;
}
