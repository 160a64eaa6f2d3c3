/**
 * Lists as Proxmox reads them (pve-common PVE::Tools::split_list): a value that contains a NUL is split on
 * NUL only; any other value is split on `,`, `;` and whitespace. pveproxy also joins a parameter given
 * more than once with NUL (pve-http-server decode_urlencoded), so repeated values and arrays are one
 * NUL-separated list to Proxmox.
 *
 * Whitespace is Perl's `\s` on decoded strings (Unicode rules): it includes U+0085 (NEL), U+00A0, U+1680,
 * U+2000-U+200A, U+2028, U+2029, U+202F, U+205F and U+3000, which JavaScript's `\s` mostly has too, but
 * not U+0085. The policy splits on the union of both (U+FEFF as well): splitting on more can only show a
 * rule more items, never hide one Proxmox would read.
 *
 * A rule never judges a cleaned value: it judges every item Proxmox could read, in every reading the
 * request allows (as sent, and percent-decoded), so no spelling can hide an item.
 */
const space = '[\\s\\u0085]';
const leading = new RegExp(`^${space}+`);
const runs = new RegExp(`${space}+`);

export function splitList(value: string): string[] {
  if (value.includes('\0')) return value.split('\0');
  return value
    .replace(/[,;]/g, ' ')
    .replace(leading, '')
    .split(runs)
    .filter((item) => item !== '');
}

/** The items of several values of one parameter, as pveproxy joins them (NUL) and as each is alone. */
export function listItems(values: readonly string[]): string[] {
  const items = new Set<string>();
  const readings = values.length > 1 ? [values.join('\0'), ...values] : values;
  for (const reading of readings) for (const item of splitList(reading)) items.add(item);
  return [...items];
}
