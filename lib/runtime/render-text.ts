/**
 * The text block of an MCP tool answer: what the model reads. A short summary, the warnings and
 * suggestions, the scalar facts as `key: value` lines and the lists as compact tables; never the JSON
 * envelope again (structuredContent carries the full data for programs).
 */

const maxCell = 60;
const maxLine = 400;

function formatBytes(value: number): string {
  const units = ['B', 'K', 'M', 'G', 'T', 'P'];
  let size = value;
  let unit = 0;
  while (Math.abs(size) >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit++;
  }
  return `${unit === 0 ? size : size.toFixed(size >= 100 ? 0 : 1)}${units[unit]}`;
}

/** Fields that hold bytes in our answers (mem, maxmem, disk, size, used...). */
const bytesField = /^(max)?(mem|disk|swap)$|(^|_)(bytes|size|used|total|avail|free)$/;

function cell(key: string, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return bytesField.test(key) && Math.abs(value) >= 1024 * 1024 ? formatBytes(value) : String(value);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value)) return value.every((item) => typeof item !== 'object' || item === null) ? value.join(',') : `[${value.length}]`;
  // Our measured values carry their own words ({used, total, percent, text: "3.1 GiB of 8 GiB"}).
  const worded = typeof value === 'object' && typeof (value as { text?: unknown }).text === 'string' ? (value as { text: string }).text : undefined;
  const text = worded ?? (typeof value === 'string' ? value : JSON.stringify(value));
  const flat = text.replace(/\s+/g, ' ').replace(/\|/g, '/');
  return flat.length > maxCell ? `${flat.slice(0, maxCell - 1)}…` : flat;
}

function isRow(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Rows as a Markdown table; columns in order of first appearance, empty columns left out. */
export function table(rows: Record<string, unknown>[]): string {
  const columns: string[] = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  const used = columns.filter((key) => rows.some((row) => cell(key, row[key]) !== '' && row[key] !== false));
  if (used.length === 0) return '';
  const lines = [`| ${used.join(' | ')} |`, `|${used.map(() => '---').join('|')}|`];
  for (const row of rows) lines.push(`| ${used.map((key) => cell(key, row[key])).join(' | ')} |`);
  return lines.join('\n');
}

function line(key: string, value: unknown): string {
  const text = isRow(value) || (Array.isArray(value) && value.some((item) => typeof item === 'object' && item !== null))
    ? JSON.stringify(value)
    : typeof value === 'string'
      ? value
      : cell(key, value);
  return `${key}: ${text.length > maxLine ? `${text.slice(0, maxLine - 1)}…` : text}`;
}

/** The data of an answer, for a model: facts as lines, lists of objects as tables. */
export function renderData(data: unknown, headline = ''): string {
  if (data === null || data === undefined) return '';
  if (Array.isArray(data)) return data.every(isRow) ? table(data) : line('items', data);
  if (!isRow(data)) return String(data);
  const facts: string[] = [];
  const tables: string[] = [];
  for (const [key, value] of Object.entries(data)) {
    if (value === undefined || value === null || value === '') continue;
    // A text the summary already says (help_llm's guide) is not said twice.
    if (typeof value === 'string' && headline.includes(value)) continue;
    if (Array.isArray(value) && value.length > 0 && value.every(isRow)) {
      tables.push(`${key} (${value.length}):\n${table(value)}`);
    } else if (typeof value === 'string' && value.includes('\n')) {
      tables.push(`${key}:\n${value}`);
    } else if (!(Array.isArray(value) && value.length === 0)) {
      facts.push(line(key, value));
    }
  }
  return [facts.join('\n'), ...tables].filter(Boolean).join('\n\n');
}

export interface TextAnswer {
  headline: string;
  data?: unknown;
  warnings?: string[];
  suggestions?: string[];
  explanation?: string;
  stdout?: string;
  stderr?: string;
}

/** The whole text block of one answer. */
export function renderAnswer(answer: TextAnswer): string {
  const parts = [answer.headline];
  if (answer.explanation && !answer.headline.includes(answer.explanation)) parts.push(answer.explanation);
  if (answer.warnings?.length) parts.push(answer.warnings.map((warning) => `Warning: ${warning}`).join('\n'));
  const body = renderData(answer.data, answer.headline);
  if (body) parts.push(body);
  if (answer.stdout) parts.push(`stdout:\n${answer.stdout}`);
  if (answer.stderr) parts.push(`stderr:\n${answer.stderr}`);
  if (answer.suggestions?.length) parts.push(answer.suggestions.map((suggestion) => `Next: ${suggestion}`).join('\n'));
  return parts.join('\n\n');
}
