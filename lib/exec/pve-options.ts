/**
 * How the Proxmox command-line tools read their options, so a translation of `qm`, `pct`, `pveum`,
 * `pvesh`, `pvesm`, `vzdump`, `pvecm` and `ha-manager` into API requests sees the parameters Proxmox will
 * see.
 *
 * Facts (pve-common PVE::JSONSchema get_options, Perl Getopt::Long defaults):
 *  - every schema property that is not fixed by the tool is an option, positional ones included;
 *  - `--name` and `-name` both work, `--name=value` too; names match case-insensitively and any unique
 *    prefix of a name is accepted (auto_abbrev); an exact name wins over longer names it prefixes; a
 *    prefix that fits two names is an error ("ambiguous"), so the command does nothing;
 *  - booleans take an optional value (a following word is taken unless it is `--` or starts with `-`
 *    and something after it); every other option takes the next word whatever it is;
 *  - list formats and arrays may repeat (joined with ","); a repeated single option keeps its last value;
 *  - options and arguments may be mixed; `--` ends the options.
 * Values are passed on as written: NUL, `;`, `,` and spaces are for the API policy to split as Proxmox does.
 *
 * The option names come from knowledge/pve-api-params.json, generated from the official API schemas.
 */
import { readFileSync } from 'node:fs';
import { projectPath } from '../paths.ts';

/** b boolean, l list format, a array, s single value, p path parameter. */
export type ParamKind = 'b' | 'l' | 'a' | 's' | 'p';
export type ParamSpec = Record<string, ParamKind>;

/** The output options pvesh takes on every call besides the endpoint's own parameters (PVE::CLIFormatter). */
export const PVESH_OUTPUT_OPTIONS: ReadonlyMap<string, ParamKind> = new Map<string, ParamKind>([
  ['output-format', 's'],
  ['human-readable', 'b'],
  ['noborder', 'b'],
  ['noheader', 'b'],
  ['quiet', 'b'],
  ['noproxy', 'b'],
]);
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface ApiParams {
  indexRanges: Record<string, Record<string, [number, number]>>;
  endpoints: Record<string, Partial<Record<Method, ParamSpec>>>;
}

let cached: { data: ApiParams; templates: { template: string; segments: string[] }[] } | undefined;

function load() {
  if (!cached) {
    const data = JSON.parse(readFileSync(projectPath('knowledge', 'pve-api-params.json'), 'utf8')) as ApiParams;
    const templates = Object.keys(data.endpoints).map((template) => ({ template, segments: template.split('/').filter(Boolean) }));
    cached = { data, templates };
  }
  return cached;
}

export interface EndpointMatch {
  template: string;
  /** Path parameter values by name. */
  pathParams: Record<string, string>;
  params: ParamSpec;
}

/**
 * The schema endpoint a concrete path reaches with this method (literal segments preferred over
 * `{param}` ones), or null when there is none.
 */
export function findEndpoint(method: Method, path: string): EndpointMatch | null {
  const { data, templates } = load();
  const segments = path.split('/').filter(Boolean);
  let best: { template: string; score: number; pathParams: Record<string, string> } | null = null;
  for (const t of templates) {
    if (t.segments.length !== segments.length) continue;
    const spec = data.endpoints[t.template]?.[method];
    if (!spec) continue;
    let score = 0;
    const pathParams: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < segments.length; i++) {
      const want = t.segments[i]!;
      const m = /^\{(.+)\}$/.exec(want);
      if (m) pathParams[m[1]!] = segments[i]!;
      else if (want === segments[i]!.toLowerCase()) score++;
      else {
        ok = false;
        break;
      }
    }
    if (ok && (!best || score > best.score)) best = { template: t.template, score, pathParams };
  }
  if (!best) return null;
  return { template: best.template, pathParams: best.pathParams, params: data.endpoints[best.template]![method]! };
}

/** The parameters of one endpoint (by template), or null. */
export function endpointParams(method: Method, template: string): ParamSpec | null {
  return load().data.endpoints[template]?.[method] ?? null;
}

/** The index ranges of `name[n]` parameters: qemu, lxc, cluster_config, node_config. */
function indexRangeFor(template: string, name: string): [number, number] {
  const ranges = load().data.indexRanges;
  const group = template.includes('/qemu') ? 'qemu' : template.includes('/lxc') ? 'lxc' : template.startsWith('/cluster/config') ? 'cluster_config' : 'node_config';
  return ranges[group]?.[name] ?? ranges.qemu?.[name] ?? ranges.lxc?.[name] ?? [0, 31];
}

/** The option names a CLI accepts for an endpoint: `net[n]` becomes net0..net31, fixed names left out. */
export function optionNames(template: string, spec: ParamSpec, fixed: string[] = []): Map<string, ParamKind> {
  const names = new Map<string, ParamKind>();
  for (const [name, kind] of Object.entries(spec)) {
    if (fixed.includes(name)) continue;
    const indexed = /^(.+)\[n\]$/.exec(name);
    if (indexed) {
      const [from, to] = indexRangeFor(template, name);
      for (let i = from; i <= to; i++) names.set(`${indexed[1]}${i}`, kind);
    } else names.set(name, kind);
  }
  return names;
}

export interface CliWord {
  text: string;
  dynamic: boolean;
}

export interface ParsedCliOptions {
  /** Option values by full name; every occurrence kept (a superset of what Proxmox keeps). */
  options: Record<string, string[]>;
  positionals: CliWord[];
  /** Some option name or value is only known at run time. */
  dynamic: boolean;
  /** Why Proxmox would refuse the line (ambiguous or unknown option, missing value): it does nothing. */
  errors: string[];
  /** Options written as a prefix, with what they expand to (for explanations). */
  expanded: { written: string; name: string }[];
}

/** Resolves an option name as Getopt::Long does with auto_abbrev and ignore_case. */
export function resolveOptionName(written: string, names: Map<string, ParamKind>): { name: string } | { error: string } {
  const lower = written.toLowerCase();
  if (names.has(lower)) return { name: lower };
  const hits = [...names.keys()].filter((name) => name.startsWith(lower));
  if (hits.length === 1) return { name: hits[0]! };
  if (hits.length === 0) return { error: `unknown option --${written}` };
  return { error: `option --${written} is ambiguous (${hits.slice(0, 6).join(', ')}${hits.length > 6 ? ', ...' : ''})` };
}

/** Parses CLI words against a tool's option names exactly as PVE::JSONSchema get_options does. */
export function parseCliOptions(words: CliWord[], names: Map<string, ParamKind>): ParsedCliOptions {
  const out: ParsedCliOptions = { options: {}, positionals: [], dynamic: false, errors: [], expanded: [] };
  let onlyPositionals = false;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const text = word.text;
    if (onlyPositionals) {
      out.positionals.push(word);
      continue;
    }
    if (text === '--') {
      onlyPositionals = true;
      continue;
    }
    const m = /^--?([^=]+)(=([\s\S]*))?$/.exec(text);
    if (!m || text === '-') {
      out.positionals.push(word);
      continue;
    }
    if (word.dynamic) out.dynamic = true;
    const resolved = resolveOptionName(m[1]!, names);
    if ('error' in resolved) {
      out.errors.push(resolved.error);
      if (/ambiguous/.test(resolved.error)) continue;
      // Proxmox refuses an unknown option, so nothing is sent; the policy still sees it as written (more
      // suspicious, never less): a value is the `=` part or the next word that is not an option.
      const name = m[1]!.toLowerCase();
      let value = '1';
      if (m[2] !== undefined) value = m[3]!;
      else if (words[i + 1] && !/^--?./.test(words[i + 1]!.text)) {
        value = words[i + 1]!.text;
        if (words[i + 1]!.dynamic) out.dynamic = true;
        i++;
      }
      (out.options[name] ??= []).push(value);
      continue;
    }
    const name = resolved.name;
    if (name !== m[1]) out.expanded.push({ written: m[1]!, name });
    const kind = names.get(name)!;
    let value: string;
    if (m[2] !== undefined) value = m[3]!;
    else if (kind === 'b') {
      const next = words[i + 1];
      if (next && next.text !== '--' && !/^--?./.test(next.text)) {
        value = next.text;
        if (next.dynamic) out.dynamic = true;
        i++;
      } else value = '1';
      if (value === '') value = '1';
    } else {
      const next = words[i + 1];
      if (!next) {
        out.errors.push(`option --${name} requires an argument`);
        continue;
      }
      value = next.text;
      if (next.dynamic) out.dynamic = true;
      i++;
    }
    (out.options[name] ??= []).push(value);
  }
  return out;
}
