/**
 * The first admin token. With MCP_ADMIN_TOKEN set, that secret is the admin token (created or updated
 * at start). Otherwise, when no token exists at all, one is created and written once to a 0600 file in
 * the data directory; the log gets the file's path, never the token.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/store.ts';

export const envAdminTokenName = 'admin-env';

export async function bootstrapAdminToken(store: Store, config: Config, log: Logger): Promise<{ created: boolean; file?: string }> {
  if (config.adminToken) {
    const existing = await store.tokens.byName(envAdminTokenName);
    if (!existing) {
      await store.tokens.create({ name: envAdminTokenName, role: 'admin', ceiling: 'normal', secret: config.adminToken, source: 'bootstrap-env' });
      log.info('Admin token from MCP_ADMIN_TOKEN registered', { name: envAdminTokenName });
      return { created: true };
    }
    await store.tokens.replaceSecret(existing.id, config.adminToken);
    return { created: false };
  }
  const tokens = await store.tokens.list(true);
  if (tokens.length > 0) return { created: false };
  const { secret } = await store.tokens.create({ name: 'admin', role: 'admin', ceiling: 'normal', source: 'bootstrap-file' });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const file = join(config.dataDir, 'admin-token');
  if (existsSync(file)) throw new Error(`${file} already exists but no token is in the database; remove the file and start again`);
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  log.info('First start: an admin client token was created. Read it once from the file, then delete the file.', { file });
  return { created: true, file };
}
