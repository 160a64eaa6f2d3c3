/**
 * The protections for host commands (execute_command), judged on the parsed command line, never on its
 * text: every simple command the line would run (after quotes, escapes, env prefixes, absolute paths,
 * `sh -c`, `sudo`, `$(...)`, backticks, pipes and lists) is looked at on its own.
 *
 * Proxmox's own CLI tools are translated into the API request they make (pvesh, pveum, qm, pct,
 * qmrestore, pvecm) and that request is judged by the SAME rules as every API call (protections.ts),
 * so `pveum user delete root@pam`, `pvesh delete /access/users/root%40pam` and
 * `DELETE /access/users/root@pam` are one and the same thing to the policy. Whatever still names a
 * protected identity (root@pam, this server's user or token) and is not a plain read is refused too, and
 * so is an id only known at run time where a protected one could hide.
 *
 * This sits beside the knowledge-driven classification (lib/exec/classify.ts): that one says how risky a
 * command is; this one makes sure the protections hold even for a command the knowledge base does not
 * describe.
 */
import { ToolError } from '../errors.ts';
import { tryParseCommandLine, type SimpleCommand } from '../exec/shell-parse.ts';
import { checkProtections, protectedUser, type ProtectionContext } from './protections.ts';

export interface CommandGuardContext extends ProtectionContext {
  /** The node the command runs on (qm/pct act on guests there). */
  node: string;
}

interface ApiRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  params: Record<string, string>;
}

interface Words {
  positionals: { text: string; dynamic: boolean }[];
  options: Record<string, string>;
  dynamicOption: boolean;
}

/** Proxmox CLI argument style: `--name value`, `-name value`, `--name=value`; a flag followed by an option gets "1". */
function splitWords(command: SimpleCommand, from = 1): Words {
  const positionals: Words['positionals'] = [];
  const options: Record<string, string> = {};
  let dynamicOption = false;
  const words = command.words;
  for (let i = from; i < words.length; i++) {
    const word = words[i];
    const text = word.text;
    if (/^--?[a-zA-Z]/.test(text)) {
      const body = text.replace(/^--?/, '');
      const eq = body.indexOf('=');
      if (eq >= 0) {
        options[body.slice(0, eq).toLowerCase()] = body.slice(eq + 1);
        if (word.dynamic) dynamicOption = true;
        continue;
      }
      const next = words[i + 1];
      if (next && !/^--?[a-zA-Z]/.test(next.text)) {
        options[body.toLowerCase()] = next.text;
        if (next.dynamic) dynamicOption = true;
        i++;
      } else options[body.toLowerCase()] = '1';
      continue;
    }
    positionals.push({ text, dynamic: word.dynamic });
  }
  return { positionals, options, dynamicOption };
}

const pveshMethods: Record<string, ApiRequest['method']> = { get: 'GET', ls: 'GET', usage: 'GET', create: 'POST', set: 'PUT', delete: 'DELETE' };

class Unknowable extends Error {}

function need(words: Words, index: number, what: string): string {
  const word = words.positionals[index];
  if (!word) return '';
  if (word.dynamic) throw new Unknowable(`the ${what} is only known at run time`);
  return word.text;
}

/** The API request a Proxmox CLI command makes, when it is one the protections care about. */
function translate(command: SimpleCommand, node: string): ApiRequest[] {
  const program = command.program;
  const argv = command.argv;
  const sub = (argv[1] ?? '').toLowerCase();
  const sub2 = (argv[2] ?? '').toLowerCase();
  switch (program) {
    case 'pvesh': {
      const method = pveshMethods[sub];
      if (!method) return [];
      const words = splitWords(command, 2);
      const path = need(words, 0, 'API path');
      return [{ method, path: path.startsWith('/') ? path : `/${path}`, params: words.options }];
    }
    case 'pveum':
    case 'pveum.pl': {
      const aliases: Record<string, [string, string]> = {
        useradd: ['user', 'add'],
        usermod: ['user', 'modify'],
        userdel: ['user', 'delete'],
        aclmod: ['acl', 'modify'],
        acldel: ['acl', 'delete'],
        groupmod: ['group', 'modify'],
        groupdel: ['group', 'delete'],
      };
      let group = sub;
      let verb = sub2;
      let rest = 3;
      if (aliases[sub]) {
        [group, verb] = aliases[sub];
        rest = 2;
      }
      if (group === 'passwd') {
        const words = splitWords(command, 2);
        return [{ method: 'PUT', path: '/access/password', params: { userid: need(words, 0, 'user'), ...words.options } }];
      }
      if (group === 'acl') {
        const words = splitWords(command, rest);
        const params = { path: need(words, 0, 'ACL path'), ...words.options };
        if (words.dynamicOption) throw new Unknowable('a user, token or role of the ACL change is only known at run time');
        if (['modify', 'set', 'add'].includes(verb)) return [{ method: 'PUT', path: '/access/acl', params }];
        if (['delete', 'remove', 'del', 'rm'].includes(verb)) return [{ method: 'PUT', path: '/access/acl', params: { ...params, delete: '1' } }];
        return [];
      }
      if (group === 'user' && verb === 'token') {
        const tokenVerb = (argv[3] ?? '').toLowerCase();
        const words = splitWords(command, 4);
        if (['list', 'permissions', 'perms'].includes(tokenVerb)) return [];
        const user = need(words, 0, 'user');
        const token = need(words, 1, 'token');
        const method = ['add', 'create'].includes(tokenVerb) ? 'POST' : ['modify', 'set', 'update'].includes(tokenVerb) ? 'PUT' : ['remove', 'delete', 'del', 'rm'].includes(tokenVerb) ? 'DELETE' : 'PUT';
        return [{ method, path: `/access/users/${user}/token/${token}`, params: words.options }];
      }
      if (group === 'user' && verb === 'tfa') {
        const words = splitWords(command, 4);
        const user = need(words, 0, 'user');
        return [{ method: 'DELETE', path: `/access/tfa/${user}`, params: words.options }];
      }
      if (group === 'user') {
        const words = splitWords(command, rest);
        if (['list', 'permissions', 'perms'].includes(verb)) return [];
        const user = need(words, 0, 'user');
        if (['add', 'create'].includes(verb)) return [{ method: 'POST', path: '/access/users', params: { userid: user, ...words.options } }];
        if (['delete', 'remove', 'del', 'rm'].includes(verb)) return [{ method: 'DELETE', path: `/access/users/${user}`, params: words.options }];
        return [{ method: 'PUT', path: `/access/users/${user}`, params: words.options }];
      }
      if (group === 'group') {
        const words = splitWords(command, rest);
        if (verb === 'list') return [];
        return [{ method: ['delete', 'remove', 'del'].includes(verb) ? 'DELETE' : 'PUT', path: `/access/groups/${need(words, 0, 'group')}`, params: words.options }];
      }
      return [];
    }
    case 'qm':
    case 'pct': {
      const type = program === 'qm' ? 'qemu' : 'lxc';
      const words = splitWords(command, 2);
      if (sub === 'destroy') return [{ method: 'DELETE', path: `/nodes/${node}/${type}/${need(words, 0, 'guest id')}`, params: words.options }];
      if (sub === 'set') {
        if (!('protection' in words.options) && !('delete' in words.options) && !('revert' in words.options)) return [];
        if (words.dynamicOption) throw new Unknowable('the new protection setting is only known at run time');
        return [{ method: 'PUT', path: `/nodes/${node}/${type}/${need(words, 0, 'guest id')}/config`, params: words.options }];
      }
      if (program === 'pct' && sub === 'restore') {
        return [{ method: 'POST', path: `/nodes/${node}/lxc`, params: { vmid: need(words, 0, 'guest id'), ...words.options } }];
      }
      return [];
    }
    case 'qmrestore': {
      const words = splitWords(command, 1);
      return [{ method: 'POST', path: `/nodes/${node}/qemu`, params: { vmid: need(words, 1, 'guest id'), ...words.options } }];
    }
    case 'pvecm': {
      if (sub !== 'delnode') return [];
      const words = splitWords(command, 2);
      return [{ method: 'DELETE', path: `/cluster/config/nodes/${need(words, 0, 'node')}`, params: {} }];
    }
    default:
      return [];
  }
}

/** Programs that only read or print their arguments: naming root@pam there changes nothing. */
const readers = new Set(['echo', 'printf', 'grep', 'egrep', 'fgrep', 'rg', 'cat', 'less', 'more', 'head', 'tail', 'wc', 'sort', 'uniq', 'jq', 'true', 'test', '[', 'cut', 'tr', 'awk', 'column']);

const pveReadVerbs = /^(list|ls|get|show|status|config|pending|permissions|perms|usage|help|version|listsnapshot|cleanup-help)$/;

function protectedIdentities(ctx: ProtectionContext): string[] {
  const token = ctx.serviceTokenId.toLowerCase();
  return [protectedUser, token.split('!')[0], token];
}

function mentionsIdentity(text: string, identities: string[]): string | undefined {
  const lower = text.toLowerCase();
  for (const identity of identities) {
    const escaped = identity.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    if (new RegExp(`(^|[^a-z0-9._-])${escaped}($|[^a-z0-9._-]|!)`).test(lower) || lower.includes(encodeURIComponent(identity))) return identity;
  }
  return undefined;
}

function describe(command: SimpleCommand): string {
  return command.argv.join(' ').slice(0, 200);
}

/**
 * Every reason the line must not run because of a protection (empty when none applies). Throws nothing:
 * the caller decides how to refuse.
 */
export async function commandProtectionFindings(line: string, ctx: CommandGuardContext): Promise<string[]> {
  const parsed = tryParseCommandLine(line);
  if (!parsed.ok) return [`the command line cannot be parsed (${parsed.error.message}); it will not be run`];
  const findings: string[] = [];
  const identities = protectedIdentities(ctx);
  for (const command of parsed.parsed.commands) {
    if (!command.program && command.functionName === undefined && command.argv.length === 0) continue;
    const program = command.program ?? '';
    const named = command.words.map((word) => mentionsIdentity(word.text, identities)).find(Boolean) ?? command.env.map((env) => mentionsIdentity(env.value, identities)).find(Boolean);
    if (command.dynamicProgram) {
      if (named) findings.push(`${describe(command)}: a program only known at run time, given ${named}`);
      continue;
    }
    let requests: ApiRequest[];
    try {
      requests = translate(command, ctx.node);
    } catch (error) {
      if (error instanceof Unknowable) {
        findings.push(`${describe(command)}: ${error.message}, so the protections cannot be checked; write the value out`);
        continue;
      }
      throw error;
    }
    for (const request of requests) {
      try {
        await checkProtections(request.method, request.path, request.params, ctx);
      } catch (error) {
        if (error instanceof ToolError && error.code === 'protected') findings.push(`${describe(command)}: ${error.message}`);
        else throw error;
      }
    }
    if (named && !readers.has(program) && requests.every((request) => request.method !== 'GET')) {
      const verb = (command.argv[1] ?? '').toLowerCase();
      const readOnlyPveCall = ['pveum', 'pvesh', 'qm', 'pct', 'pvecm', 'pvesm', 'pveam', 'pvenode'].includes(program) && (pveReadVerbs.test(verb) || (program === 'pveum' && pveReadVerbs.test((command.argv[2] ?? '').toLowerCase()) && !/token|tfa/.test(verb)));
      const alreadyJudged = requests.length > 0;
      if (!readOnlyPveCall && !alreadyJudged) findings.push(`${describe(command)}: names ${named}, which is protected; only reads may mention it`);
    }
    if (['passwd', 'usermod', 'userdel', 'deluser', 'chpasswd', 'chage', 'chsh'].includes(program) && command.argv.slice(1).some((arg) => arg === 'root')) {
      findings.push(`${describe(command)}: the Linux root account is protected`);
    }
  }
  return [...new Set(findings)];
}
