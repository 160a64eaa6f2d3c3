/**
 * Paths and parameters as Proxmox will understand them, so a rule cannot be dodged by spelling:
 * percent-encoding (also double), case, repeated slashes, dot segments, a trailing slash, the /api2/json
 * prefix, and parameters given in the query string instead of the body.
 */
export function decodeFully(value: string): string {
  let current = value;
  for (let i = 0; i < 5; i++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      next = current.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    }
    if (next === current) return current;
    current = next;
  }
  return current;
}

export interface NormalizedRequest {
  method: string;
  /** Lower-case, decoded, no prefix, single slashes, no dot segments, no trailing slash. */
  path: string;
  segments: string[];
  /** Query and body parameters together, names lower-case, values decoded strings. */
  params: Record<string, string[]>;
}

export function normalizePath(rawPath: string): { path: string; query: string } {
  const [pathPart, ...queryParts] = rawPath.split('?');
  const decoded = decodeFully(pathPart).replace(/\\/g, '/').toLowerCase();
  const stack: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') stack.pop();
    else stack.push(segment.trim());
  }
  while (stack[0] === 'api2' || stack[0] === 'json' || stack[0] === 'extjs') stack.shift();
  return { path: '/' + stack.join('/'), query: queryParts.join('?') };
}

export function normalizeRequest(method: string, rawPath: string, params: Record<string, unknown> = {}): NormalizedRequest {
  const { path, query } = normalizePath(rawPath);
  const merged: Record<string, string[]> = {};
  const add = (key: string, value: unknown) => {
    if (value === undefined || value === null) return;
    const name = decodeFully(key).toLowerCase();
    const values = Array.isArray(value) ? value : [value];
    merged[name] = [...(merged[name] ?? []), ...values.map((item) => decodeFully(String(item)).toLowerCase())];
  };
  for (const [key, value] of Object.entries(params)) add(key, value);
  if (query) for (const [key, value] of new URLSearchParams(query)) add(key, value);
  return { method: method.toUpperCase(), path, segments: path.split('/').filter(Boolean), params: merged };
}
