/**
 * The tool definitions of the running server, for tools that reason about other tools' calls
 * (explain_command explains a tool call with that tool's own explain). Handlers never import each other;
 * the call wrapper (lib/runtime/invoke.ts) registers the catalog against the shared services object,
 * and a handler looks it up through its ctx.services.
 */
import type { AnyTool, Services } from '../tool.ts';

const catalogs = new WeakMap<Services, ReadonlyMap<string, AnyTool>>();

export function registerToolCatalog(services: Services, tools: ReadonlyMap<string, AnyTool>): void {
  if (catalogs.get(services) !== tools) catalogs.set(services, tools);
}

export function toolCatalog(services: Services): ReadonlyMap<string, AnyTool> | undefined {
  return catalogs.get(services);
}
