/**
 * pve-common's PVE::Tools::split_list, the one way Proxmox splits list-valued parameters (`delete`,
 * `revert`, `users`, `groups`, `tokens`, `roles`, `privs`, vmid lists, ...): a value holding a NUL is split on
 * NUL only (so `a,b\0c` is the two items `a,b` and `c`); any other value has `,` and `;` turned into spaces,
 * leading whitespace dropped, and is split on runs of whitespace. Perl's split drops trailing empty fields.
 * Whitespace here is Perl's ASCII `\s` (space, \t, \n, \v, \f, \r); nothing is cleaned before splitting.
 */
export function splitList(value: unknown): string[] {
  const text = value === undefined || value === null ? '' : String(value);
  if (!text) return [];
  const parts = text.includes('\0') ? text.split('\0') : text.replace(/[,;]/g, ' ').replace(/^[ \t\n\v\f\r]+/, '').split(/[ \t\n\v\f\r]+/);
  while (parts.length && parts[parts.length - 1] === '') parts.pop();
  return parts;
}
