/**
 * One way to page, sort and trim every list (guests, backups, storage content, tasks, history):
 * `limit` (a page), `cursor` (where the next page starts, given back as next_cursor), `sort` (a field,
 * `-` for descending, several with commas: "-mem,name") and `fields` (which columns; the key column
 * always stays). Every answer says how many matched and how to get the next page.
 */
import { z } from 'zod';
import { ToolError } from '../errors.ts';
import { closestNames } from '../runtime/strict-input.ts';

export interface PageInput {
  limit: number;
  cursor?: string;
  sort?: string;
  fields?: string[];
}

/** The paging arguments of a list; `sortable` names the fields in the help text. */
export function pageShape(options: { defaultLimit: number; maxLimit: number; sortable: string[]; defaultSort: string }) {
  return {
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(options.maxLimit)
      .default(options.defaultLimit)
      .describe(`Default ${options.defaultLimit}, max ${options.maxLimit}`),
    cursor: z.union([z.string().max(32), z.number().int().min(0)]).transform(String).optional().describe('next_cursor of the last page'),
    sort: z
      .string()
      .max(200)
      .optional()
      .describe(`${options.sortable.join(', ')}; -x: descending (default ${options.defaultSort})`),
    fields: z
      .union([z.array(z.string().max(64)).max(64), z.string().max(1000)])
      .transform((value) => (Array.isArray(value) ? value : value.split(',')).map((field) => field.trim()).filter(Boolean))
      .optional()
      .describe('Columns to keep'),
  };
}

export interface Page<Row> {
  /** How many rows matched the filters, over all pages. */
  total: number;
  returned: number;
  /** Pass as cursor for the next page; null on the last page. */
  next_cursor: string | null;
  rows: Partial<Row>[];
}

/** The offset a cursor stands for (a cursor is the offset written in base 10; anything else is refused). */
export function cursorOffset(cursor: string | undefined): number {
  if (cursor === undefined || cursor === '') return 0;
  if (!/^\d{1,9}$/.test(cursor)) {
    throw new ToolError('invalid_input', `cursor '${cursor.slice(0, 32)}' is not one this server gave: pass next_cursor from the previous page, or leave it out for the first page.`);
  }
  return Number(cursor);
}

function compare(a: unknown, b: unknown): number {
  // Missing values sort last in either direction.
  const missingA = a === undefined || a === null || a === '';
  const missingB = b === undefined || b === null || b === '';
  if (missingA || missingB) return missingA === missingB ? 0 : missingA ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const text = (value: unknown) => (Array.isArray(value) ? value.join(',') : String(value));
  return text(a).localeCompare(text(b), 'en', { numeric: true });
}

/** A sort spec ("-mem,name") checked against the fields a list can sort by. */
export function sortKeys(spec: string | undefined, sortable: string[], aliases: Record<string, string> = {}): { field: string; descending: boolean }[] {
  if (!spec) return [];
  return spec
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const descending = part.startsWith('-');
      const raw = part.replace(/^[-+]/, '').trim();
      const field = aliases[raw] ?? raw;
      if (!sortable.includes(field)) {
        const near = closestNames(raw, sortable);
        throw new ToolError('invalid_input', `Cannot sort by '${raw}'${near.length ? ` (did you mean ${near.map((name) => `'${name}'`).join(' or ')}?)` : ''}. Sort by: ${sortable.join(', ')}; put - before a field for descending, e.g. "-${sortable[1] ?? sortable[0]}".`);
      }
      return { field, descending };
    });
}

/** Fields checked against the row's columns; the key column is always kept. */
export function pickFields(fields: string[] | undefined, columns: string[], key: string[]): string[] | undefined {
  if (!fields?.length) return undefined;
  const unknown = fields.filter((field) => !columns.includes(field));
  if (unknown.length) {
    const hints = unknown.map((field) => {
      const near = closestNames(field, columns);
      return near.length ? `'${field}' (did you mean ${near.map((name) => `'${name}'`).join(' or ')}?)` : `'${field}'`;
    });
    throw new ToolError('invalid_input', `Unknown field ${hints.join(', ')}. Fields: ${columns.join(', ')}.`);
  }
  return [...new Set([...key, ...fields])];
}

export interface PageOptions {
  sortable: string[];
  /** Applied after the caller's keys, so pages are stable. */
  tieBreak: string[];
  columns: string[];
  key: string[];
  aliases?: Record<string, string>;
}

/** Sort, cut one page, keep only the asked-for fields. */
export function paginate<Row extends object>(rows: Row[], input: PageInput, options: PageOptions): Page<Row> {
  const keys = [...sortKeys(input.sort, options.sortable, options.aliases), ...options.tieBreak.map((field) => ({ field, descending: false }))];
  const fields = pickFields(input.fields, options.columns, options.key);
  const offset = cursorOffset(input.cursor);
  const sorted = [...rows].sort((a, b) => {
    for (const { field, descending } of keys) {
      const order = compare((a as Record<string, unknown>)[field], (b as Record<string, unknown>)[field]);
      if (order !== 0) {
        const missing = (row: object) => {
          const value = (row as Record<string, unknown>)[field];
          return value === undefined || value === null || value === '';
        };
        // missing values stay last even when descending
        return descending && !missing(a) && !missing(b) ? -order : order;
      }
    }
    return 0;
  });
  const slice = sorted.slice(offset, offset + input.limit);
  const picked = fields
    ? slice.map((row) => Object.fromEntries(fields.filter((field) => field in row).map((field) => [field, (row as Record<string, unknown>)[field]])) as Partial<Row>)
    : slice;
  const end = offset + slice.length;
  return { total: rows.length, returned: slice.length, next_cursor: end < rows.length ? String(end) : null, rows: picked };
}

/** "showing 1-100 of 2000 (sorted by -mem); next page: cursor "100"" */
export function pageLine(page: { total: number; returned: number; next_cursor: string | null }, cursor: string | undefined, sort: string | undefined, noun: string): string {
  const from = cursorOffset(cursor);
  if (page.returned === 0) return from > 0 ? `no ${noun} past ${from} (${page.total} matched)` : `no ${noun} matched`;
  const range = page.returned === page.total ? `all ${page.total} ${noun}` : `${noun} ${from + 1}-${from + page.returned} of ${page.total}`;
  return `${range}${sort ? ` sorted by ${sort}` : ''}${page.next_cursor ? `; next page: cursor "${page.next_cursor}"` : ''}`;
}
