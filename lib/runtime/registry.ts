/**
 * Finds the tool definitions in functions/ at start-up and checks each before the server serves
 * anything: a name MCP clients accept, a flat object input schema, an output schema, an effect, a run
 * function, and no name twice. A wrong definition stops the start with a message naming the file.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { AnyTool } from '../tool.ts';

export const toolNamePattern = /^[a-z][a-z0-9_]{0,63}$/;
const effects = new Set(['read', 'write', 'destructive']);

export class ToolDefinitionError extends Error {
  constructor(problems: string[]) {
    super(`Tool definitions are not valid, the server will not start:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ToolDefinitionError';
  }
}

/** functions/ beside lib/ (from source) or dist/functions beside dist/lib (built). */
export function defaultFunctionsDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'functions');
}

function isModuleFile(file: string): boolean {
  return /\.(ts|js|mjs)$/.test(file) && !file.endsWith('.d.ts') && !file.startsWith('_') && !/\.test\./.test(file);
}

/** The problems with one definition (empty when it is fine). */
export function checkTool(tool: unknown, source: string): string[] {
  const problems: string[] = [];
  if (!tool || typeof tool !== 'object') return [`${source}: the default export is not a tool definition (use defineTool from lib/tool.ts)`];
  const t = tool as Partial<AnyTool>;
  if (typeof t.name !== 'string' || !toolNamePattern.test(t.name)) {
    problems.push(`${source}: name '${String(t.name)}' must match ${toolNamePattern} (lowercase, digits, underscore; at most 64)`);
  }
  const name = typeof t.name === 'string' ? t.name : source;
  if (typeof t.title !== 'string' || t.title.length === 0) problems.push(`${name}: needs a title`);
  if (typeof t.description !== 'string' || t.description.length < 20) problems.push(`${name}: needs a description an agent can choose by (20+ characters)`);
  if (!effects.has(t.effect as string)) problems.push(`${name}: effect must be read, write or destructive`);
  if (typeof t.run !== 'function') problems.push(`${name}: needs a run(input, ctx) function`);
  if (!(t.input instanceof z.ZodObject)) {
    problems.push(`${name}: input must be a z.object(...) (MCP wants a flat type: object root)`);
  } else {
    const json = z.toJSONSchema(t.input, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    if (json.type !== 'object' || 'anyOf' in json || 'oneOf' in json || '$ref' in json || 'allOf' in json) {
      problems.push(`${name}: input schema root must be a plain type: object (no anyOf/oneOf/allOf/$ref at the root)`);
    }
  }
  if (!(t.output instanceof z.ZodType)) problems.push(`${name}: needs an output schema (zod) for the data it returns`);
  return problems;
}

export function checkTools(entries: { tool: unknown; source: string }[]): AnyTool[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const { tool, source } of entries) {
    const found = checkTool(tool, source);
    problems.push(...found);
    const name = (tool as { name?: unknown } | undefined)?.name;
    if (typeof name === 'string') {
      const earlier = seen.get(name);
      if (earlier) problems.push(`${name}: defined twice (${earlier} and ${source})`);
      seen.set(name, source);
    }
  }
  if (problems.length > 0) throw new ToolDefinitionError(problems);
  return entries.map((entry) => entry.tool as AnyTool).sort((a, b) => a.name.localeCompare(b.name));
}

export async function discoverTools(dir = defaultFunctionsDir()): Promise<AnyTool[]> {
  const files = readdirSync(dir).filter(isModuleFile).sort();
  const entries = await Promise.all(
    files.map(async (file) => {
      const module = (await import(pathToFileURL(join(dir, file)).href)) as { default?: unknown };
      return { tool: module.default, source: `functions/${basename(file)}` };
    }),
  );
  return checkTools(entries);
}
