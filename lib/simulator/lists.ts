/**
 * pve-common's PVE::Tools::split_list, the one way Proxmox splits list-valued parameters (`delete`,
 * `revert`, `users`, `groups`, `tokens`, `roles`, `privs`, vmid lists, ...): a value holding a NUL is split on
 * NUL only (so `a,b\0c` is the two items `a,b` and `c`); any other value has `,` and `;` turned into spaces,
 * leading whitespace dropped, and is split on runs of whitespace. Perl's split drops trailing empty fields.
 * Parameter values reach split_list as decoded character strings (decode_urlencoded runs Encode::decode),
 * so `\s` has Unicode rules: besides space, \t, \n, \v, \f and \r it matches U+0085 (NEL), U+00A0,
 * U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F and U+3000, but not U+FEFF (unlike JavaScript's
 * `\s`, which lacks U+0085 and has U+FEFF). Checked against perl. Nothing is cleaned before splitting.
 */
const PERL_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const LEADING = new RegExp(`^${PERL_SPACE}+`);
const RUNS = new RegExp(`${PERL_SPACE}+`);

export function splitList(value: unknown): string[] {
  const text = value === undefined || value === null ? '' : String(value);
  if (!text) return [];
  const parts = text.includes('\0') ? text.split('\0') : text.replace(/[,;]/g, ' ').replace(LEADING, '').split(RUNS);
  while (parts.length && parts[parts.length - 1] === '') parts.pop();
  return parts;
}
