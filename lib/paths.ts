/**
 * Where the project's own files are, whether we run from source (tests, Deno) or from dist/ (Node).
 * The project root is the nearest folder above this module that holds package.json.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findProjectRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'knowledge'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`Cannot find the proxmox-mcp project root above ${start}`);
    dir = parent;
  }
}

export const projectRoot = findProjectRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the project root (source files: knowledge/, db/migrations/, CHANGELOG.md...). */
export function projectPath(...parts: string[]): string {
  return join(projectRoot, ...parts);
}
