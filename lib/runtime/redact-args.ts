/**
 * Arguments as history stores them: any field whose name means a secret (lib/policy/secret-params.ts:
 * the official schema's password, key, keyring, token... judged one by one, plus secret wording) is
 * replaced, at any depth, and long values are cut. What remains is enough to see what was asked.
 */
import { isSecretName } from '../policy/secret-params.ts';
import { redactStrings, redactText } from '../policy/redact-text.ts';

export function redactArgs(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[nested]';
  if (Array.isArray(value)) return value.slice(0, 50).map((item) => redactArgs(item, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      // A flag such as include_secrets: true names secrets but holds none; keep it readable.
      const holdsValue = inner !== undefined && inner !== null && inner !== '' && typeof inner !== 'boolean';
      out[key] = isSecretName(key) && holdsValue ? '[redacted]' : redactArgs(inner, depth + 1);
    }
    return out;
  }
  if (typeof value === 'string' && value.length > 2000) return value.slice(0, 2000) + '…';
  return value;
}

/**
 * A stored history row made safe again on its way out (backup bundles): rows written by an older version,
 * before a rule existed, must not carry a secret into a file. Arguments and message get today's rules.
 */
export function redactHistoryRow<T extends Record<string, unknown>>(row: T): T {
  const out: Record<string, unknown> = { ...row };
  if (typeof row.args === 'string') {
    try {
      out.args = JSON.stringify(redactStrings(redactArgs(JSON.parse(row.args))));
    } catch {
      out.args = redactText(row.args);
    }
  }
  if (typeof row.message === 'string') out.message = redactText(row.message);
  return out as T;
}
