/**
 * Paths and parameters as Proxmox will understand them, so a rule cannot be dodged by spelling:
 * percent-encoding (also double), case, repeated slashes, dot segments, a trailing slash, the /api2/json
 * prefix, control characters, `;` path parameters, and parameters given in the query string instead of
 * the body.
 *
 * Values are never cleaned: control characters stay (a NUL makes Proxmox split a list on NUL only, see
 * split-list.ts), and a rule reads every spelling of a value (as sent and each percent-decoding of it).
 *
 * Two different jobs live here:
 *  - normalizeRequest: the view a protection JUDGES. It is deliberately more suspicious than pveproxy
 *    (it decodes until nothing changes, lower-cases everything, treats an encoded slash as a slash), so
 *    that every spelling Proxmox could read as a protected object is read that way here too.
 *  - canonicalApiPath: the path proxmox_api SENDS. It removes the tricks (prefix, dot segments, doubled
 *    slashes, a query string in the path) but keeps the caller's case and re-encodes each segment once,
 *    so what leaves is exactly what was judged, spelled plainly.
 */
import { ToolError } from '../errors.ts';
import { listItems } from './split-list.ts';

/** A value percent-decoded until nothing changes (at most 8 rounds): the last of its decodings. */
export function decodeFully(value: string): string {
  return decodings(value).at(-1)!;
}

export interface NormalizedRequest {
  method: string;
  /** Lower-case, decoded, no prefix, single slashes, no dot segments, no trailing slash. */
  path: string;
  segments: string[];
  /** The same segments in the caller's case (snapshot names and volume ids are case-sensitive). */
  originalSegments: string[];
  /** Query and body parameters together, names lower-case, values fully decoded, trimmed, lower-case (control characters kept). */
  params: Record<string, string[]>;
  /** The same parameters with their values exactly as they will be sent. */
  raw: Record<string, string[]>;
}

// eslint-disable-next-line no-control-regex
const controlCharacters = /[\x00-\x1f\x7f]/g;

/** One path segment as judged: decoded, without control characters or `;params`, trimmed (lower-case unless asked). */
function judgedSegment(segment: string, keepCase = false): string {
  const judged = segment.replace(controlCharacters, '').split(';')[0].trim();
  return keepCase ? judged : judged.toLowerCase();
}

/**
 * `dots: 'resolve'` (default) lets `..` remove the segment before it, as a URL parser would; `'drop'`
 * ignores `..` segments, as a server that routes literal segments would see the rest. A protection is
 * judged on both views, so neither reading can hide a protected object.
 */
export function normalizePath(rawPath: string, dots: 'resolve' | 'drop' = 'resolve'): { path: string; query: string; original: string[] } {
  const [pathPart, ...queryParts] = rawPath.split('?');
  const decoded = decodeFully(pathPart.split('#')[0]).replace(/\\/g, '/');
  const stack: string[] = [];
  const original: string[] = [];
  for (const raw of decoded.split('/')) {
    const segment = judgedSegment(raw);
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (dots === 'resolve') {
        stack.pop();
        original.pop();
      }
    } else {
      stack.push(segment);
      original.push(judgedSegment(raw, true));
    }
  }
  while (stack[0] === 'api2' || stack[0] === 'json' || stack[0] === 'extjs') {
    stack.shift();
    original.shift();
  }
  return { path: '/' + stack.join('/'), query: queryParts.join('?'), original };
}

export function normalizeRequest(method: string, rawPath: string, params: Record<string, unknown> = {}, dots: 'resolve' | 'drop' = 'resolve'): NormalizedRequest {
  const { path, query, original } = normalizePath(rawPath, dots);
  const merged: Record<string, string[]> = {};
  const raw: Record<string, string[]> = {};
  const add = (key: string, value: unknown) => {
    if (value === undefined || value === null) return;
    const name = decodeFully(key).replace(controlCharacters, '').trim().toLowerCase();
    const values = Array.isArray(value) ? value : [value];
    const sent = values.map((item) => (typeof item === 'boolean' ? (item ? '1' : '0') : String(item)));
    raw[name] = [...(raw[name] ?? []), ...sent];
    merged[name] = [...(merged[name] ?? []), ...sent.map((text) => decodeFully(text).trim().toLowerCase())];
  };
  for (const [key, value] of Object.entries(params)) add(key, value);
  if (query) for (const [key, value] of new URLSearchParams(query)) add(key, value);
  return { method: method.toUpperCase(), path, segments: path.split('/').filter(Boolean), originalSegments: original, params: merged, raw };
}

/** `/a/./b//../c` -> `/a/c`: empty and `.` segments dropped, each `..` takes one back (never above `/`). */
export function resolveDotSegments(path: string): string {
  const stack: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') stack.pop();
    else stack.push(segment);
  }
  return '/' + stack.join('/');
}

/** A value as sent and after each round of percent-decoding (any of them may be what Proxmox reads). */
export function decodings(value: string): string[] {
  const out = [value];
  let current = value;
  for (let i = 0; i < 8; i++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      next = current.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    }
    if (next === current) break;
    out.push(next);
    current = next;
  }
  return out;
}

/** Every reading of a parameter's values (each spelling), trimmed and lower-case: for booleans and ids. */
export function paramReadings(req: NormalizedRequest, name: string): string[] {
  const values = req.raw[name];
  if (!values) return [];
  return [...new Set(values.flatMap(decodings).map((value) => value.trim().toLowerCase()))];
}

/**
 * Every item Proxmox could read in a list parameter (split_list, with the NUL rule, over the values
 * joined as pveproxy joins repeated values, in every spelling), trimmed and lower-case.
 */
export function paramItems(req: NormalizedRequest, name: string): string[] {
  const values = req.raw[name];
  if (!values) return [];
  const spellings = values.map(decodings);
  const depth = Math.max(...spellings.map((list) => list.length));
  const items = new Set<string>();
  for (let level = 0; level < depth; level++) {
    const reading = spellings.map((list) => list[Math.min(level, list.length - 1)]);
    for (const item of listItems(reading)) {
      const judged = item.trim().toLowerCase();
      if (judged) items.add(judged);
    }
  }
  for (const list of spellings) for (const spelling of list) for (const item of listItems([spelling])) if (item.trim()) items.add(item.trim().toLowerCase());
  return [...items];
}

/** Every distinct reading of one request a protection must judge (see normalizePath). */
export function requestViews(method: string, rawPath: string, params: Record<string, unknown> = {}): NormalizedRequest[] {
  const resolved = normalizeRequest(method, rawPath, params, 'resolve');
  const dropped = normalizeRequest(method, rawPath, params, 'drop');
  return dropped.path === resolved.path ? [resolved] : [resolved, dropped];
}

/** Proxmox's boolean spellings (PVE::JSONSchema parse_boolean). */
export function isTrue(value: string): boolean {
  return ['1', 'true', 'yes', 'on'].includes(value.trim().toLowerCase());
}

/** Characters left as they are in a sent segment (Proxmox ids use them: root@pam!tok, local:iso/x). */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%40/g, '@').replace(/%3A/gi, ':').replace(/%21/g, '!').replace(/%2C/gi, ',').replace(/%3D/gi, '=');
}

export interface CanonicalApiPath {
  /** Starts with `/`, no /api2/json prefix, no dot segments, single slashes, no trailing slash. */
  path: string;
  /** Parameters that came in a query string inside the path. */
  queryParams: Record<string, string | string[]>;
}

/**
 * The path proxmox_api sends. Refuses what is not a path below /api2/json; keeps the caller's case;
 * resolves `.` and `..` (also encoded ones) so nothing is resolved after the guard looked; moves a query
 * string into parameters; re-encodes each segment once (a segment that decodes to text with a slash, like
 * a volume id, keeps it as %2F).
 */
export function canonicalApiPath(rawPath: string): CanonicalApiPath {
  const trimmed = rawPath.trim();
  if (!trimmed.startsWith('/')) {
    throw new ToolError('invalid_input', `The API path "${rawPath}" must start with "/" (a path below /api2/json, e.g. /nodes/pve1/status).`);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    throw new ToolError('invalid_input', `The API path "${rawPath}" must be a path such as /cluster/resources, not a URL.`);
  }
  const hashAt = trimmed.indexOf('#');
  const withoutFragment = hashAt >= 0 ? trimmed.slice(0, hashAt) : trimmed;
  const queryAt = withoutFragment.indexOf('?');
  const pathPart = queryAt >= 0 ? withoutFragment.slice(0, queryAt) : withoutFragment;
  const query = queryAt >= 0 ? withoutFragment.slice(queryAt + 1) : '';
  const stack: string[] = [];
  for (const raw of pathPart.split('/')) {
    const decoded = decodeFully(raw).replace(controlCharacters, '');
    if (/[\\]/.test(decoded)) throw new ToolError('invalid_input', `The API path "${rawPath}" contains a backslash; Proxmox paths use "/".`);
    if (decoded.trim() === '' || decoded.trim() === '.') continue;
    if (decoded.trim() === '..') {
      stack.pop();
      continue;
    }
    stack.push(decoded);
  }
  if (stack[0]?.toLowerCase() === 'api2' && stack[1]?.toLowerCase() === 'json') stack.splice(0, 2);
  const queryParams: Record<string, string | string[]> = {};
  if (query) {
    for (const [key, value] of new URLSearchParams(query)) {
      const previous = queryParams[key];
      queryParams[key] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
    }
  }
  return { path: '/' + stack.map(encodeSegment).join('/'), queryParams };
}
