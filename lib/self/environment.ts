/** Where this server runs: in a container (Docker's /.dockerenv, or MCP_IN_CONTAINER=1 set by the image). */
import { existsSync } from 'node:fs';

export function inContainer(env: Record<string, string | undefined> = process.env): boolean {
  const flag = env.MCP_IN_CONTAINER;
  if (flag === '1' || flag === 'true') return true;
  if (flag === '0' || flag === 'false') return false;
  return existsSync('/.dockerenv') || existsSync('/run/.containerenv');
}
