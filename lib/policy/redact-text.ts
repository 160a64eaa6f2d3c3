/**
 * Secrets written inside free text (a command line, an API path with a query string, an error message, a
 * log line) rather than under a telling key. Applied to every string history keeps (after the key-based
 * redaction in lib/runtime/redact-args.ts), to error messages, to log lines and to backup bundles.
 *
 * What is recognised (tests/secrets-redaction.test.ts has a case for each):
 * - options by meaning: `--password X`, `--password=X`, any unambiguous prefix of a PVE secret option
 *   (`--passw`, `--encr`, `--cipass`), options with secret wording (`--http-password`, `--api-key`,
 *   `-passphrase`); `name=VALUE` for secret names (`password=`, `encryption-key=`, `keyring=`, in URLs,
 *   `mount -o` lists and property strings); `"password": "X"` in JSON text;
 * - per program: `curl -u user:PW` / `--user user:PW` / `--proxy-user`, `smbclient -U user%PW`,
 *   `sshpass -p PW`, `mysql -pPW` (mysql, mysqldump, mysqladmin, mariadb...), `redis-cli -a PW`,
 *   `ldapsearch -w PW`, `htpasswd -b FILE USER PW`, `echo user:PW | chpasswd`, openssl `pass:PW`;
 * - headers: `Authorization:`, `Proxy-Authorization:`, `Cookie:`, `X-API-Key:`, `X-Auth-Token:`, any
 *   `*-Token:`/`*-Key:`/`*-Secret:` header; `PVEAPIToken=user@realm!id=SECRET`, `PVEAuthCookie=`,
 *   `Bearer X`;
 * - URLs with credentials (`https://user:PW@host`, any scheme); environment prefixes such as
 *   `PGPASSWORD=`, `MYSQL_PWD=`, `SSHPASS=`, `AWS_SECRET_ACCESS_KEY=`;
 * - private key blocks.
 * It over-masks rather than under-masks: a masked non-secret costs a little readability, a missed secret
 * is a leak.
 */
import { isSecretName, isSecretOption } from './secret-params.ts';

const R = '[redacted]';
/** A value on a command line: quoted (with escapes), a JSON object, or a run of non-separators. */
const value = String.raw`("(?:[^"\\]|\\.){0,4096}"|'[^']{0,4096}'|\{[^}]{0,4096}\}|[^\s;&|'"]{1,4096})`;

/** name=VALUE; the value stops at a comma too (property strings, mount -o lists: `user=a,password=b`). */
const namedValue = new RegExp(String.raw`(^|[\s?&;,"'(])([A-Za-z%][A-Za-z0-9_.%-]{0,128})(=)` + String.raw`("(?:[^"\\]|\\.){0,4096}"|'[^']{0,4096}'|\{[^}]{0,4096}\}|[^\s;&|'",]{1,4096})`, 'g');
const optionAssignment = new RegExp(String.raw`(?<![A-Za-z0-9_-])(--?)([A-Za-z][A-Za-z0-9_-]*)=` + value, 'g');
const colonValue = /((?<![A-Za-z0-9_-])([A-Za-z][A-Za-z0-9_-]{0,128})\s*:[ \t]*)([^\s,;:{}'"\]]{1,4096})/g;
const everydayNames = new Set(['key', 'value', 'data', 'header']);
/**
 * One shell word: quoted parts, escapes and unquoted runs glued together (an unclosed quote runs to the
 * end); unquoted control characters (`;` `&` `|` `(` `)` `<` `>` backquote `$`) end it and are left as they are.
 */
const shellWord = /(?:"(?:[^"\\]|\\.)*"?|'[^']*'?|\\[\s\S]|[^\s"'\\;&|()<>`$])+/g;
const optionWord = /^(--?)([A-Za-z][A-Za-z0-9_-]*)(=?)([\s\S]*)$/;

/** The PVE command-line tools: Perl Getopt::Long, long options with one or two dashes, any unique prefix. */
const pveCli = /^(pveum|pvesm|pvesh|qm|pct|pvenode|pvecm|pveceph|vzdump|pvesr|ha-manager|pve-firewall|pvesubscription|pvescheduler|proxmox-backup-client|proxmox-backup-manager)$/;

/**
 * `--secret VALUE`, `--secret=VALUE` and `-secret VALUE` word by word, so that no other option can hide
 * the next one (`--batch --passphrase X`) and a value that starts with a dash is still the value.
 * A lone-letter option (-p, -u) means a secret only on a PVE CLI (`-p` is `--password` there when
 * unique); elsewhere the per-program rules above judge those.
 */
function redactOptions(text: string): string {
  let out = '';
  let last = 0;
  let valueIsSecret = false;
  let onPveCli = false;
  for (const match of text.matchAll(shellWord)) {
    let word = match[0];
    // A new command starts after ; | & ( backquote or a newline: the PVE CLI context ends with its command.
    if (/[\n;&|(`]/.test(text.slice(last, match.index))) onPveCli = false;
    if (pveCli.test(word.split('/').pop() ?? '')) onPveCli = true;
    // After `--` the words belong to another program (`pct exec 101 -- bash -c ...`): not PVE options.
    if (word === '--') onPveCli = false;
    // `--password $(cat f)`: the value is a substitution, whose command must stay visible.
    // After a line break the next word starts another command (`--password\nrm -rf /x`): not the value.
    if (valueIsSecret && /[^ \t]/.test(text.slice(last, match.index))) valueIsSecret = false;
    if (valueIsSecret) {
      valueIsSecret = false;
      if (!word.startsWith('[redacted')) word = R;
    } else {
      const option = optionWord.exec(word);
      if (option && (option[1] === '--' || option[2].length > 1 || onPveCli) && isSecretOption(option[2], onPveCli)) {
        if (option[3]) word = !option[4] || option[4].startsWith('[redacted') ? word : `${option[1]}${option[2]}=${R}`;
        else if (!option[4]) valueIsSecret = true;
      }
    }
    out += text.slice(last, match.index) + word;
    last = match.index + match[0].length;
  }
  return out + text.slice(last);
}
const jsonValue = /("((?:[^"\\]|\\.){1,64})"\s*:\s*)("(?:[^"\\]|\\.){0,4096}")/g;

/** A name as the receiver reads it: URL-decoded (`pass%77ord` in a query) or JSON-unescaped (`pass\u0077ord`). */
function decodedName(name: string, how: 'url' | 'json'): string {
  try {
    return how === 'url' ? decodeURIComponent(name.replace(/\+/g, ' ')) : (JSON.parse(`"${name}"`) as string);
  } catch {
    return name;
  }
}
/** The same inside a JSON string that holds JSON (`"args":"{\"password\":\"x\"}"`, as log lines carry it). */
const escapedJsonValue = /(\\"([A-Za-z][A-Za-z0-9_-]{0,128})\\"\s*:\s*)(\\"(?:[^"\\]|\\[^"]){0,4096}\\")/g;

/**
 * Where a masked value ends. A secret is one shell word, or the part of it inside the quotes it starts in:
 * it never runs past a break between words or an unquoted `;` `&` `|` `(` `)` `<` `>`, backquote or `$`
 * (nor past `$`, backquote or the closing quote inside double quotes, nor past the closing single quote),
 * so the commands and arguments around it stay visible in history, logs and errors (issue 13 red team:
 * `curl -H X-API-Key:abc;rm -rf /x` lost its `rm`). Quoted parts glued to an unquoted value belong to it
 * (`-u user:ab'c d'`), and so does what a backslash escapes. `quote` is the state at `start`.
 */
function wordEnd(text: string, start: number, limit: number, quote: number): number {
  const max = Math.min(limit, text.length);
  let q = quote;
  let i = start;
  while (i < max) {
    const ch = text[i]!;
    if (q === 1) {
      if (ch === "'") {
        if (quote === 1) return i;
        q = 0;
      }
      i++;
    } else if (q === 2) {
      if (ch === '\\') i += 2;
      else if (ch === '"') {
        if (quote === 2) return i;
        q = 0;
        i++;
      } else if (ch === '$' || ch === '`') return i;
      else i++;
    } else if (ch === '\\') i += 2;
    else if (ch === "'") {
      q = 1;
      i++;
    } else if (ch === '"') {
      q = 2;
      i++;
    } else if (' \t\n\r;&|()<>`$'.includes(ch)) return i;
    else i++;
  }
  return Math.min(i, max);
}

/**
 * The quote state before each character, as a shell reads the text (0 outside quotes, 1 in '...', 2 in
 * "..."). A quote that never closes is not a quote (an apostrophe in an error message): what follows it
 * counts as unquoted, so a mask stops at the first control character after it.
 */
function quoteStates(text: string): Uint8Array {
  const states = new Uint8Array(text.length + 1);
  let q = 0;
  let opened = -1;
  for (let i = 0; i < text.length; i++) {
    states[i] = q;
    const ch = text[i]!;
    if (q === 1) {
      if (ch === "'") q = 0;
    } else if (ch === '\\') {
      if (i + 1 < text.length) states[++i] = q;
    } else if (q === 2) {
      if (ch === '"') q = 0;
    } else if (ch === "'" || ch === '"') {
      q = ch === "'" ? 1 : 2;
      opened = i;
    }
  }
  if (q !== 0) states.fill(0, opened);
  return states;
}

/** An authentication scheme in front of the credential in a header value (`Authorization: Basic X`). */
const authScheme = /^(?:basic|bearer|digest|negotiate|ntlm|token|apikey|key|pveapitoken)$/i;

/**
 * Apply one rule: group 1 is what leads to the value, the value starts right after it. `word`: the value
 * is the rest of its shell word (wordEnd); `bounded`: it also ends where the rule's own match ends (the
 * password of a URL ends at `@`); `header`: as `word`, and after a bare scheme word the next word too.
 */
function applyRule(text: string, pattern: RegExp, how: string): string {
  pattern.lastIndex = 0;
  if (!pattern.test(text)) return text;
  pattern.lastIndex = 0;
  if (how !== 'word' && how !== 'bounded' && how !== 'header') return text.replace(pattern, how);
  const states = quoteStates(text);
  let out = '';
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    const start = match.index + (match[1]?.length ?? 0);
    if (start < last) continue;
    // The rule's lead ran over a line break outside quotes (`sshpass -p\nrm -rf /x`): the next line is
    // another command, not the value.
    if (states[start] === 0 && /[\r\n][ \t]*$/.test(match[1] ?? '')) continue;
    const regexEnd = match.index + match[0].length;
    let from = start;
    let end = wordEnd(text, start, how === 'bounded' ? regexEnd : start + 4096, states[start]!);
    if (how === 'header' && states[start] === 0 && authScheme.test(text.slice(start, end))) {
      // `Authorization: Basic dXNlcjpw` in a log line: the scheme stays, the credential after it goes.
      let next = end;
      while (text[next] === ' ' || text[next] === '\t') next++;
      if (next > end && next < text.length) {
        from = next;
        end = wordEnd(text, next, next + 4096, states[next]!);
      }
    }
    // Nothing of the secret in reach (`-p "$(cat f)"`: only the quote before the substitution): left as it is.
    if (end <= from || text.startsWith('[redacted', from) || /^["']*$/.test(text.slice(from, end))) continue;
    out += text.slice(last, from) + R;
    last = end;
  }
  return out + text.slice(last);
}

/**
 * A private key block: its BEGIN line, the key lines after it (base64 runs, `Proc-Type:`-style header
 * lines, separated by line breaks, written `\n` in JSON text too, or spaces) and its END line when it
 * follows them. Not everything up to an END line (or the end of the text): that took the commands after
 * an unterminated block with it (`echo -----BEGIN RSA PRIVATE KEY-----;rm -rf /x`). A short run counts
 * only with `=` padding or right before the END line, so a word such as `rm` on the next line stays.
 */
const keyBreak = String.raw`(?:\r?\n|(?:\\r)?\\n|[ \t]){1,8}`;
const privateKey = new RegExp(
  String.raw`-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----(?:${keyBreak}(?:[A-Za-z0-9+/]{20,4096}={0,2}|[A-Za-z0-9+/]{1,19}={1,2}|[A-Za-z0-9+/]{1,19}(?=${keyBreak}-----END )|[A-Z][A-Za-z-]{1,40}: [^\r\n;&|()<>\x60$\\]{0,256})){0,100000}(?:${keyBreak}-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----)?`,
  'g',
);

const fixed: Array<[RegExp, string]> = [
  [privateKey, '[redacted private key]'],
  [/(PVEAPIToken=[^=\s]{1,256}=)[^\s"',;}]{1,256}/gi, `$1${R}`],
  [/(PVEAuthCookie=)[^\s"';]+/gi, `$1${R}`],
  [/(\bBearer\s+)[A-Za-z0-9._~+/=-]{6,}/gi, `$1${R}`],
  // Headers whose value is a credential (curl -H, wget --header, http text).
  [/(\b(?:proxy-)?authorization\s*:\s*|\b(?:set-)?cookie\s*:\s*|\b(?:x-)?api-?key\s*:\s*|\bx-[a-z0-9-]{0,40}(?:key|token|secret|auth|password|session)[a-z0-9-]{0,40}\s*:\s*|\b[a-z0-9]{1,32}(?:-[a-z0-9]{1,32}){0,6}-(?:token|key|secret|password)\s*:\s*)[^\r\n'"]{1,4096}/gi, 'header'],
  // curl/wget -u user:pw, --user user:pw, --proxy-user user:pw (the value after the first colon).
  [/((?:^|[\s;&|(])(?:-u\s*|-U\s+|--(?:proxy-)?user(?:=|\s+))["']?[^:\s'"%]{1,256}:)[^\s'"]{1,1024}/g, `$1${R}`],
  // smbclient/rpcclient -U user%pw, --user=user%pw, -Uuser%pw, -U 'DOM\user%pw'.
  [/((?:^|[\s;&|(])(?:-U\s*|--user(?:=|\s+)|--authentication-file(?:=|\s+))["']?[^%\s'"]{1,256}%)[^\s'"]{1,1024}/g, `$1${R}`],
  [/(\bsshpass\b[^|;&\n]{0,400}?\s-p\s*)("[^"]{0,1024}"|'[^']{0,1024}'|\S{1,1024})/g, `$1${R}`],
  [/(\b(?:mysql\w{0,20}|mariadb[\w-]{0,20})\b[^|;&\n]{0,400}?\s-p)("[^"]{0,1024}"|'[^']{0,1024}'|\S{1,1024})/g, `$1${R}`],
  [/(\bredis-cli\b[^|;&\n]{0,400}?\s-a\s*)("[^"]{0,1024}"|'[^']{0,1024}'|\S{1,1024})/g, `$1${R}`],
  [/(\bldap\w{1,20}\b[^|;&\n]{0,400}?\s-w\s*)("[^"]{0,1024}"|'[^']{0,1024}'|\S{1,1024})/g, `$1${R}`],
  [/(\bhtpasswd\b(?:\s+-\w{1,8}){0,4}\s+-\w{0,8}b\w{0,8}(?:\s+-\w{1,8}){0,4}\s+(?:\S{1,512}\s+){1,2})("[^"]{0,1024}"|'[^']{0,1024}'|\S{1,1024})/g, `$1${R}`],
  [/(\becho\s+(?:-\w{1,4}\s+)?["']?[^:\s'"]{1,256}:)([^\s'"|]{1,1024})(?=["']?\s*\|\s*(?:sudo\s+)?chpasswd)/g, `$1${R}`],
  [/(\bpass:)("[^"]{0,1024}"|'[^']{0,1024}'|\S{1,1024})/g, `$1${R}`],
  // curl with combined short options (-su user:PW), lftp -u user,PW.
  [/(\bcurl\b[^|;&\n]{0,400}?\s-[A-Za-z]{1,8}u\s*["']?[^:\s'"%]{1,256}:)[^\s'"]{1,1024}/g, `$1${R}`],
  [/(\blftp\b[^|;&\n]{0,400}?\s-u\s*["']?[^,\s'"]{1,256},)[^\s'"]{1,1024}/g, `$1${R}`],
  // ipmitool -P PW, fence agents -p PW, docker/podman login -p PW.
  [/(\bipmitool\b[^|;&\n]{0,400}?\s-P\s*)("[^"]{0,1024}"|'[^']{0,1024}'|\S{1,1024})/g, `$1${R}`],
  [/(\bfence_\w{1,30}\b[^|;&\n]{0,400}?\s-p\s*)("[^"]{0,1024}"|'[^']{0,1024}'|\S{1,1024})/g, `$1${R}`],
  [/(\b(?:docker|podman|helm|skopeo)\s+(?:registry\s+)?login\b[^|;&\n]{0,400}?\s-p\s*)("[^"]{0,1024}"|'[^']{0,1024}'|\S{1,1024})/g, `$1${R}`],
  // A password piped into a program that reads it from stdin: echo PW | passwd / pveum passwd / qm guest passwd...
  [/(\b(?:echo(?:\s+-\w{1,4}){0,3}|printf(?:\s+-\w{1,4}){0,3}(?:\s+(?:'[^']{0,64}'|"[^"]{0,64}"|%\S{0,16}))?)\s+)("[^"]{0,1024}"|'[^']{0,1024}'|[^\s|;&]{1,1024})(?=\s*\|\s*(?:sudo\s+)?(?:passwd|smbpasswd|pveum\s+(?:user\s+)?passwd|qm\s+guest\s+passwd|cryptsetup|zfs\s+(?:load-key|change-key|create)|openssl|gpg|proxmox-backup-client|docker\s+login|podman\s+login)\b)/g, `$1${R}`],
  // Credentials in URLs, any scheme (https, smb, postgresql, mysql, redis, ftp...).
  [/(\b[a-z][a-z0-9+.-]{0,30}:\/\/[^\s:/@'"]{0,256}:)([^\s@/'"]{1,1024})(?=@)/gi, 'bounded'],
  // Environment prefixes and assignments: PGPASSWORD=, MYSQL_PWD=, SSHPASS=, AWS_SECRET_ACCESS_KEY=...
  // (Upper case, as environment variables are; lower-case name=value is judged by meaning below.)
  [/(\b[A-Z0-9_]{0,40}(?:PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?|SSHPASS|_PWD|_PASS)[A-Z0-9_]{0,40}=)("[^"]{0,1024}"|'[^']{0,1024}'|[^\s;&|]{1,1024})/g, `$1${R}`],
];

/**
 * A replace callback's value cut to its shell word: `(value start in the text, value) => [masked part
 * end]`. The quote states are computed once per text, on the first match.
 */
function valueCutter(text: string): (start: number, length: number) => number {
  let states: Uint8Array | undefined;
  return (start, length) => {
    states ??= quoteStates(text);
    return wordEnd(text, start, start + length, states[start]!) - start;
  };
}

/** `head` + the masked value + whatever of the value lies past its shell word (kept visible). */
function masked(head: string, val: string, cut: number): string {
  return cut <= 0 || /^["']*$/.test(val.slice(0, cut)) ? head + val : `${head}${R}${val.slice(cut)}`;
}

export function redactText(text: string): string {
  if (!text) return text;
  let out = text;
  for (const [pattern, how] of fixed) out = applyRule(out, pattern, how === `$1${R}` ? 'word' : how);
  out = redactOptions(out);
  // --secret=VALUE wherever it stands (also inside a quoted word, e.g. a command embedded in JSON).
  let cut = valueCutter(out);
  out = out.replace(optionAssignment, (match, dashes: string, name: string, val: string, offset: number) =>
    (dashes === '--' || name.length > 1) && isSecretOption(name) && !val.startsWith('[redacted') ? masked(`${dashes}${name}=`, val, cut(offset + match.length - val.length, val.length)) : match,
  );
  cut = valueCutter(out);
  out = out.replace(namedValue, (match, lead: string, name: string, eq: string, val: string, offset: number) =>
    isSecretName(decodedName(name, 'url')) && !val.startsWith('[redacted') ? masked(`${lead}${name}${eq}`, val, cut(offset + match.length - val.length, val.length)) : match,
  );
  out = out.replace(jsonValue, (match, head: string, name: string) => (isSecretName(decodedName(name, 'json')) ? `${head}"${R}"` : match));
  // `password: X` (YAML-like text, a config line, JSON shown without its quotes); only names that cannot
  // mean anything else (not key/value/data/header, which are everyday words in "name: value" text).
  cut = valueCutter(out);
  out = out.replace(colonValue, (match, head: string, name: string, val: string, offset: number) =>
    isSecretName(name) && !everydayNames.has(name.toLowerCase()) && !val.startsWith('[redacted') ? masked(head, val, cut(offset + match.length - val.length, val.length)) : match,
  );
  out = out.replace(escapedJsonValue, (match, head: string, name: string) => (isSecretName(name) ? `${head}\\"${R}\\"` : match));
  return out;
}

/** redactText on every string inside a JSON-like value. */
export function redactStrings(value: unknown, depth = 0): unknown {
  if (depth > 32) return value;
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map((item) => redactStrings(item, depth + 1));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, inner]) => [key, redactStrings(inner, depth + 1)]));
  return value;
}

const marker = /\[redacted(?: private key)?\]/;

/** Remember a secret value (and each line of a multi-line one); tiny values would mask everyday text. */
function remember(found: Set<string>, raw: string): void {
  const text = raw.trim().replace(/^(["'])([\s\S]*)\1$/, '$2');
  if (text.length >= 4 && !marker.test(text)) found.add(text);
  if (text.includes('\n')) for (const line of text.split(/\r?\n/)) if (line.trim().length >= 4 && !/^-----(BEGIN|END) /.test(line.trim())) found.add(line.trim());
  // A JSON value (an encryption key file): every string in it.
  if (/^[{[]/.test(text)) {
    try {
      const leaves = (value: unknown): void => {
        if (typeof value === 'string' && value.length >= 5) found.add(value);
        else if (value && typeof value === 'object') for (const inner of Object.values(value)) leaves(inner);
      };
      leaves(JSON.parse(text));
    } catch {
      // not JSON
    }
  }
  // A credential with its user or name in front (`user@realm!id=SECRET`, `user:SECRET`, `user%SECRET`),
  // also as one word of a longer value (`echo root:SECRET | chpasswd`).
  for (const word of text.split(/\s+/)) {
    const tail = /[=:%]([^=:%\s'"]{5,})["']?$/.exec(word);
    if (tail) found.add(tail[1]);
  }
  // A value of several words (`Bearer X`, a quoted passphrase) may come back word by word.
  if (/\s|\\[nrt]/.test(text)) for (const word of text.split(/\s+|\\[nrt]/)) if (word.length >= 5 && !/^-----|^(BEGIN|END|PRIVATE|Bearer|Basic)$/.test(word)) found.add(word.replace(/^["']|["']$/g, ''));
}

/**
 * The secret values inside a call's arguments: the values of secret-named keys, and what the text rules
 * take out of each string (found by lining the redacted text up with the original: the rules only ever
 * replace a value with the marker). Used to mask those exact values wherever they come back, e.g. in an
 * explanation that shows a command word by word, where no pattern could recognise them.
 */
export function secretsIn(value: unknown, found = new Set<string>(), depth = 0): Set<string> {
  // Bounded: a call with thousands of secrets gets the first ones masked exactly, the rest by the patterns.
  if (depth > 12 || found.size >= maxRemembered) return found;
  if (typeof value === 'string') {
    return secretsInText(value.length > 65_536 ? value.slice(0, 65_536) : value, found);
  }
  if (Array.isArray(value)) {
    for (const item of value) secretsIn(item, found, depth + 1);
  } else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      if (isSecretName(key) && (typeof inner === 'string' || typeof inner === 'number')) remember(found, String(inner));
      else secretsIn(inner, found, depth + 1);
    }
  }
  return found;
}

/** A secret is a short thing near its option: the start of a huge string is enough (and keeps this linear). */
function secretsInText(value: string, found: Set<string>): Set<string> {
  const redacted = redactText(value);
  const parts = redacted.split(marker);
  let position = parts[0].length;
  for (let i = 1; i < parts.length && position <= value.length; i++) {
    const segment = parts[i];
    const end = i === parts.length - 1 ? value.length - segment.length : segment ? value.indexOf(segment, position) : position;
    if (end < position) break;
    remember(found, value.slice(position, end));
    position = end + segment.length;
  }
  return found;
}

const maxRemembered = 200;

/** Every string inside a JSON-like value with the given secret values masked (longest first). */
export function maskKnown<T>(value: T, secrets: Set<string>): T {
  if (secrets.size === 0) return value;
  const ordered = [...secrets].sort((a, b) => b.length - a.length);
  const mask = (inner: unknown, depth: number): unknown => {
    if (depth > 32) return inner;
    if (typeof inner === 'string') {
      let out = inner;
      for (const secret of ordered) if (out.includes(secret)) out = out.split(secret).join(R);
      return out;
    }
    if (Array.isArray(inner)) return inner.map((item) => mask(item, depth + 1));
    if (inner && typeof inner === 'object') return Object.fromEntries(Object.entries(inner as Record<string, unknown>).map(([key, item]) => [key, mask(item, depth + 1)]));
    return inner;
  };
  return mask(value, 0) as T;
}
