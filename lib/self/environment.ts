/**
 * Where this server runs, asked now: MCP_IN_CONTAINER (the image sets 1), else Docker's /.dockerenv or
 * Podman's /run/.containerenv. Prefer `config.container.inside` (the same rule, read once at start-up);
 * this remains for restore_config, whose tests switch the variable while a server runs.
 */
import { existsSync } from 'node:fs';

export function inContainer(env: Record<string, string | undefined> = process.env): boolean {
  const flag = env.MCP_IN_CONTAINER;
  if (flag === '1' || flag === 'true') return true;
  if (flag === '0' || flag === 'false') return false;
  return existsSync('/.dockerenv') || existsSync('/run/.containerenv');
}
