/**
 * Arguments as history stores them: any field whose name says it carries a secret is replaced, at any
 * depth, and long values are cut. What remains is enough to see what was asked.
 */
const secretKey = /(pass(word|phrase)?|secret|token_?value|private|api_?key|cipassword|ssh[-_]?keys?|^value$|^key$)/i;

export function redactArgs(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[nested]';
  if (Array.isArray(value)) return value.slice(0, 50).map((item) => redactArgs(item, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      // A flag such as include_secrets: true names secrets but holds none; keep it readable.
      const holdsValue = inner !== undefined && inner !== null && inner !== '' && typeof inner !== 'boolean';
      out[key] = secretKey.test(key) && holdsValue ? '[redacted]' : redactArgs(inner, depth + 1);
    }
    return out;
  }
  if (typeof value === 'string' && value.length > 2000) return value.slice(0, 2000) + '…';
  return value;
}
