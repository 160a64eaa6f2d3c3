/**
 * The endpoint contract (lib/pve/api-contract.json) as the simulator uses it: a route table built from the
 * path templates, and parameter validation that mirrors pve-common's JSONSchema.pm (check_type, enum,
 * pattern, bounds, lengths, a few formats) with its exact reason strings.
 */
import { splitList } from './lists.ts';
import contractJson from '../pve/api-contract.json' with { type: 'json' };
import type { HttpMethod } from '../pve/types.ts';

export interface ParamSpec {
  /** `"9"`: absent in PVE 8.4; `until: "8"`: removed in 9.x. */
  until?: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object';
  format?: string;
  enum?: string[] | null;
  minimum?: number | string;
  maximum?: number | string;
  pattern?: string;
  maxLength?: number;
  minLength?: number;
  default?: unknown;
  optional?: number;
  items?: { type: string; format?: string };
  /** Inclusive index range for a name like `net[n]`. */
  index?: [number, number];
  since?: string;
}

export interface EndpointSpec {
  returns_upid: boolean | string;
  returns: string | null;
  allowtoken?: number;
  permissions: PermissionSpec | null;
  /** `"9"`: absent in PVE 8.4. */
  since?: string;
  /** `"8"`: removed in PVE 9.x. */
  until?: string;
  params: Record<string, ParamSpec>;
  /** What differs on PVE 8.4: its permission check and parameter facts (a null value removes the fact). */
  '8.4'?: { permissions?: PermissionSpec | null; params?: Record<string, Partial<Record<keyof ParamSpec, unknown>>> };
}

/** The Proxmox VE versions the simulator speaks. */
export type PveVersion = '8.4' | '9.1';
export const PVE_VERSIONS: readonly PveVersion[] = ['8.4', '9.1'];

export function isPveVersion(v: unknown): v is PveVersion {
  return v === '8.4' || v === '9.1';
}

export interface PermissionSpec {
  check?: unknown[];
  user?: string;
  description?: string;
}

export const contract = contractJson as unknown as { endpoints: Record<string, EndpointSpec> };

const resolved = new Map<PveVersion, Record<string, EndpointSpec>>();

/**
 * The contract as one version's schema has it: endpoints and parameters of that version only, with the
 * 8.4 patch applied on 8.4. Requests to the simulator are validated against this.
 */
export function endpointsFor(version: PveVersion): Record<string, EndpointSpec> {
  let out = resolved.get(version);
  if (out) return out;
  out = {};
  const v8 = version === '8.4';
  for (const [key, spec] of Object.entries(contract.endpoints)) {
    if (v8 ? spec.since === '9' : spec.until === '8') continue;
    const patch = v8 ? spec['8.4'] : undefined;
    const params: Record<string, ParamSpec> = {};
    for (const [name, p] of Object.entries(spec.params)) {
      if (v8 ? p.since === '9' : p.until === '8') continue;
      const change = patch?.params?.[name];
      if (!change) {
        params[name] = p;
        continue;
      }
      const merged: Record<string, unknown> = { ...p };
      for (const [k, v] of Object.entries(change)) {
        if (v === null) delete merged[k];
        else merged[k] = v;
      }
      params[name] = merged as unknown as ParamSpec;
    }
    const { '8.4': _patch, ...rest } = spec;
    out[key] = { ...rest, permissions: patch && 'permissions' in patch ? (patch.permissions ?? null) : spec.permissions, params };
  }
  resolved.set(version, out);
  return out;
}

/** Concrete value after validation: integers and booleans become numbers (booleans 0/1). */
export type ParamValue = string | number | string[];
export type Params = Record<string, ParamValue>;

interface RouteNode {
  literal: Map<string, RouteNode>;
  param?: { name: string; node: RouteNode };
  /** method -> template key ("GET /nodes/{node}") */
  methods: Map<string, string>;
}

const newNode = (): RouteNode => ({ literal: new Map(), methods: new Map() });

export interface RouteMatch {
  key: string;
  template: string;
  spec: EndpointSpec;
  pathParams: Record<string, string>;
}

/** A trie over path segments; literal segments win over `{param}` ones, as in PVE's router. */
export class RouteTable {
  private readonly root = newNode();

  constructor(endpoints: Record<string, EndpointSpec>, private readonly specs = endpoints) {
    for (const key of Object.keys(endpoints)) {
      const [method, template] = splitKey(key);
      let node = this.root;
      for (const seg of template.split('/').filter(Boolean)) {
        const m = /^\{(.+)\}$/.exec(seg);
        if (m) {
          node.param ??= { name: m[1], node: newNode() };
          node = node.param.node;
        } else {
          let next = node.literal.get(seg);
          if (!next) node.literal.set(seg, (next = newNode()));
          node = next;
        }
      }
      node.methods.set(method, key);
    }
  }

  /** Segments are URL-decoded; a trailing `{volume}` may swallow the rest of the path (volids hold slashes). */
  match(method: string, segments: string[]): RouteMatch | undefined {
    const params: Record<string, string> = {};
    const found = this.walk(this.root, segments, 0, params);
    if (!found) return undefined;
    const key = found.methods.get(method);
    if (!key) return undefined;
    return { key, template: splitKey(key)[1], spec: this.specs[key], pathParams: { ...params } };
  }

  private walk(node: RouteNode, segs: string[], i: number, params: Record<string, string>): RouteNode | undefined {
    if (i === segs.length) return node;
    const lit = node.literal.get(segs[i]);
    if (lit) {
      const r = this.walk(lit, segs, i + 1, params);
      if (r) return r;
    }
    if (node.param) {
      const { name, node: child } = node.param;
      if (name === 'volume' && child.literal.size === 0 && !child.param) {
        params[name] = segs.slice(i).join('/');
        return child;
      }
      params[name] = segs[i];
      const r = this.walk(child, segs, i + 1, params);
      if (r) return r;
      delete params[name];
    }
    return undefined;
  }
}

export function splitKey(key: string): [HttpMethod, string] {
  const i = key.indexOf(' ');
  return [key.slice(0, i) as HttpMethod, key.slice(i + 1)];
}

// ---------- validation ----------

const regexCache = new Map<string, RegExp | null>();

/** Perl qr// strings look like `(?^:...)`; JS wants `(?:...)`. PVE anchors patterns: m/^$pattern$/. */
function compilePattern(pattern: string): RegExp | null {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(`^(?:${pattern.replace(/\(\?\^([a-z]*):/g, '(?:').replace(/\\z/g, '$').replace(/\\A/g, '^')})$`, 'u');
    } catch {
      try {
        re = new RegExp(`^(?:${pattern.replace(/\(\?\^([a-z]*):/g, '(?:')})$`);
      } catch {
        re = null;
      }
    }
    regexCache.set(pattern, re);
  }
  return re;
}

const FORMAT_CHECKS: Record<string, (v: string) => string | undefined> = {
  'pve-node': (v) => (/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(v) ? undefined : 'value does not look like a valid node name'),
  'pve-configid': (v) => (/^[a-z][a-z0-9_-]+$/i.test(v) ? undefined : `invalid configuration ID '${v}'`),
  'pve-storage-id': (v) => (/^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(v) ? undefined : `storage ID '${v}' contains illegal characters`),
  'pve-poolid': (v) => (/^[A-Za-z0-9_\-/]+$/.test(v) ? undefined : `pool ID '${v}' contains illegal characters`),
  'pve-iface': (v) => (/^[a-zA-Z][a-zA-Z0-9_]{1,20}([:.]\d+)?$/.test(v) ? undefined : `invalid network interface name '${v}'`),
  'pve-userid': (v) => (/^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+$/.test(v) && v.length <= 64 ? undefined : `value '${v}' does not look like a valid user name`),
  'pve-groupid': (v) => (/^[A-Za-z0-9.\-_]+$/.test(v) ? undefined : `group ID '${v}' contains illegal characters`),
  'pve-roleid': (v) => (/^[A-Za-z0-9.\-_]+$/.test(v) ? undefined : `role ID '${v}' contains illegal characters`),
  'pve-vmid-list': (v) => splitList(v).every((x) => /^[1-9][0-9]{2,8}$/.test(x)) ? undefined : `value '${v}' does not look like a valid VM ID`,
  'pve-configid-list': (v) => {
    const bad = splitList(v).find((x) => !/^[a-z][a-z0-9_-]+$/i.test(x));
    return bad === undefined ? undefined : `invalid configuration ID '${bad}'`;
  },
  'pve-iface-list': (v) => {
    const bad = splitList(v).find((x) => !/^[a-zA-Z][a-zA-Z0-9_]{1,20}([:.]\d+)?$/.test(x));
    return bad === undefined ? undefined : `invalid network interface name '${bad}'`;
  },
  ipv4: (v) => (/^(\d{1,3})(\.\d{1,3}){3}$/.test(v) && v.split('.').every((o) => Number(o) < 256) ? undefined : `value does not look like a valid IPv4 address`),
  CIDRv4: (v) => (/^(\d{1,3})(\.\d{1,3}){3}\/(\d|[12]\d|3[0-2])$/.test(v) ? undefined : `value does not look like a valid IPv4 network configuration`),
};

const LIST_FORMATS = /-list$/;

export interface ValidationResult {
  params: Params;
  errors: Record<string, string>;
}

/** Find the spec of a (possibly indexed) parameter name: `net3` -> `net[n]` when 3 is in range. */
function specFor(specs: Record<string, ParamSpec>, name: string): ParamSpec | undefined {
  const direct = specs[name];
  if (direct && !direct.index) return direct;
  const m = /^([a-z_-]+?)(\d+)$/i.exec(name);
  if (!m) return undefined;
  const indexed = specs[`${m[1]}[n]`];
  if (!indexed?.index) return undefined;
  const n = Number(m[2]);
  return String(n) === m[2] && n >= indexed.index[0] && n <= indexed.index[1] ? indexed : undefined;
}

const isIntString = (s: string) => /^-?\d+$/.test(s);
const isNumString = (s: string) => /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s);

export function validateParams(spec: EndpointSpec, raw: Record<string, unknown>): ValidationResult {
  const params: Params = {};
  const errors: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    const p = specFor(spec.params, name);
    if (!p) {
      errors[name] = 'property is not defined in schema and the schema does not allow additional properties';
      continue;
    }
    if (value === undefined) continue; // a form key without a value: absent (a required one is reported below)
    const checked = checkValue(p, value);
    if (typeof checked === 'object' && checked !== null && 'error' in checked) errors[name] = checked.error;
    else params[name] = checked as ParamValue;
  }
  for (const [name, p] of Object.entries(spec.params)) {
    if (!p.optional && !p.index && raw[name] === undefined) errors[name] = 'property is missing and it is not optional';
  }
  return { params, errors };
}

function checkValue(p: ParamSpec, input: unknown): ParamValue | { error: string } {
  let value = input;
  if (p.type === 'array') {
    const list = Array.isArray(value) ? value : [value];
    for (const item of list) {
      if (item !== null && typeof item === 'object') return { error: `type check ('string') failed - got ${Array.isArray(item) ? 'ARRAY' : 'HASH'}` };
    }
    return list.map((x) => String(x));
  }
  if (Array.isArray(value)) {
    if (p.type === 'string' && p.format && LIST_FORMATS.test(p.format)) value = value.map(String).join(',');
    else return { error: `type check ('${p.type}') failed - got ARRAY` };
  }
  if (value !== null && typeof value === 'object') return { error: `type check ('${p.type}') failed - got HASH` };
  let result: ParamValue;
  switch (p.type) {
    case 'boolean': {
      if (value === true || value === 1 || value === '1') result = 1;
      else if (value === false || value === 0 || value === '0') result = 0;
      else return { error: `type check ('boolean') failed - got '${String(value)}'` };
      return result;
    }
    case 'integer': {
      const s = String(value);
      if (typeof value === 'number' ? !Number.isInteger(value) : !isIntString(s)) return { error: `type check ('integer') failed - got '${s}'` };
      result = Number(s);
      break;
    }
    case 'number': {
      const s = String(value);
      if (typeof value !== 'number' && !isNumString(s)) return { error: `type check ('number') failed - got '${s}'` };
      result = Number(s);
      break;
    }
    default:
      result = value === null || value === undefined ? '' : String(value);
  }
  if (typeof result === 'number') {
    if (p.minimum !== undefined && result < Number(p.minimum)) return { error: `value must have a minimum value of ${p.minimum}` };
    if (p.maximum !== undefined && result > Number(p.maximum)) return { error: `value must have a maximum value of ${p.maximum}` };
    return result;
  }
  const s = result as string;
  if (p.maxLength !== undefined && s.length > p.maxLength) return { error: `value may only be ${p.maxLength} characters long` };
  if (p.minLength !== undefined && s.length < p.minLength) return { error: `value must be at least ${p.minLength} characters long` };
  if (p.format) {
    const check = FORMAT_CHECKS[p.format];
    const problem = check?.(s);
    if (problem) return { error: `invalid format - ${problem}` };
  }
  if (p.pattern) {
    const re = compilePattern(p.pattern);
    if (re && !re.test(s)) return { error: 'value does not match the regex pattern' };
  }
  if (p.enum && !p.enum.includes(s)) return { error: `value '${s}' does not have a value in the enumeration '${p.enum.join(', ')}'` };
  return s;
}
