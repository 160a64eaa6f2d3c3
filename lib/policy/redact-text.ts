/**
 * Secrets written inside free text (a command line, an API path with a query string) rather than under a
 * telling key: `--password x`, `-pSECRET` for mysql, `password=x`, `PVEAPIToken=user@realm!id=secret`,
 * `Authorization: Bearer x`, private key blocks. Applied to the string values history keeps, after the
 * key-based redaction in lib/runtime/redact-args.ts.
 */
const patterns: Array<[RegExp, string]> = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, '[redacted private key]'],
  [/(PVEAPIToken=[^=\s]+=)\S+/gi, '$1[redacted]'],
  [/(\b(?:authorization|proxy-authorization)\s*:\s*(?:bearer|basic|pveapitoken)?\s*)\S+/gi, '$1[redacted]'],
  [/(--?(?:password|passwd|pass|secret|token|api[-_]?key|cipassword|passphrase|auth)(?:[-_][a-z]+)?(?:=|\s+))("[^"]*"|'[^']*'|\S+)/gi, '$1[redacted]'],
  [/(\b[a-z0-9_]*(?:password|passwd|secret|token|api[-_]?key|passphrase)[a-z0-9_]*=)("[^"]*"|'[^']*'|[^\s&;]+)/gi, '$1[redacted]'],
  [/(\bmysql(?:dump)?\b[^|;&]*?\s-p)(\S+)/gi, '$1[redacted]'],
  [/(\b(?:https?|ftp|smb|cifs):\/\/[^\s:/@]+:)[^\s@/]+@/gi, '$1[redacted]@'],
];

export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of patterns) out = out.replace(pattern, replacement);
  return out;
}

/** redactText on every string inside a JSON-like value. */
export function redactStrings(value: unknown, depth = 0): unknown {
  if (depth > 8) return value;
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map((item) => redactStrings(item, depth + 1));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, inner]) => [key, redactStrings(inner, depth + 1)]));
  return value;
}
