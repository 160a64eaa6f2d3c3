/**
 * Client tokens from the command line: npm run token -- create|list|revoke|rotate.
 * Talks to the same database as the server (DATABASE_URL / the data directory from .env).
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../lib/config.ts';
import { openStore } from '../lib/store/store.ts';
import type { Mode, Role } from '../lib/tool.ts';

const usage = `Usage:
  npm run token -- create --name NAME [--role admin|operator|viewer] [--ceiling read-only|safe|normal] [--mode read-only|safe|normal] [--expires 90d|12h|never]
  npm run token -- list [--all]
  npm run token -- revoke NAME
  npm run token -- rotate NAME

A new token starts in safe mode (every change needs a human yes); its ceiling is the highest mode it may
be raised to. The token is printed once: store it, it cannot be shown again.`;

const roles = ['admin', 'operator', 'viewer'] as const;
const modes = ['read-only', 'safe', 'normal'] as const;

function parseDuration(text: string | undefined): number | null {
  if (!text || text === 'never') return null;
  const match = /^(\d+)\s*([hdw])$/.exec(text.trim());
  if (!match) throw new Error(`--expires '${text}' is not a duration: use e.g. 12h, 90d, 4w or never`);
  const unit = { h: 3600_000, d: 86400_000, w: 7 * 86400_000 }[match[2] as 'h' | 'd' | 'w'];
  return Date.now() + Number(match[1]) * unit;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${usage}\n`);
  process.exit(2);
}

function isoOrDash(value: number | null): string {
  return value ? new Date(value).toISOString().replace(/\.\d+Z$/, 'Z') : '-';
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      role: { type: 'string', default: 'operator' },
      ceiling: { type: 'string' },
      mode: { type: 'string' },
      expires: { type: 'string' },
      all: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const [command, target] = positionals;
  if (!command || command === 'help') fail('Which command?');
  const config = loadConfig();
  const store = await openStore(config.databaseUrl, { authToken: config.databaseAuthToken });
  try {
    switch (command) {
      case 'create': {
        const name = values.name ?? target;
        if (!name) fail('create needs --name NAME');
        if (!roles.includes(values.role as Role)) fail(`--role must be one of ${roles.join(', ')}`);
        if (values.ceiling && !modes.includes(values.ceiling as Mode)) fail(`--ceiling must be one of ${modes.join(', ')}`);
        if (values.mode && !modes.includes(values.mode as Mode)) fail(`--mode must be one of ${modes.join(', ')}`);
        if (await store.tokens.byName(name)) fail(`A token named '${name}' exists already; rotate it or pick another name.`);
        const { token, secret } = await store.tokens.create({
          name,
          role: values.role as Role,
          ceiling: values.ceiling as Mode | undefined,
          mode: values.mode as Mode | undefined,
          expiresAt: parseDuration(values.expires),
        });
        if (values.json) {
          process.stdout.write(JSON.stringify({ name: token.name, role: token.role, mode: token.mode, ceiling: token.ceiling, expires_at: token.expiresAt, token: secret }) + '\n');
        } else {
          process.stdout.write(`Created token '${token.name}' (role ${token.role}, mode ${token.mode}, ceiling ${token.ceiling}, expires ${isoOrDash(token.expiresAt)}).\n`);
          process.stdout.write(`Token (shown once, store it now):\n${secret}\n`);
        }
        break;
      }
      case 'list': {
        const tokens = await store.tokens.list(values.all);
        if (values.json) {
          process.stdout.write(JSON.stringify(tokens.map(({ tokenHash: _hash, ...rest }) => rest)) + '\n');
          break;
        }
        process.stdout.write(`${'NAME'.padEnd(20)} ${'ROLE'.padEnd(9)} ${'MODE'.padEnd(10)} ${'CEILING'.padEnd(10)} ${'HINT'.padEnd(10)} ${'LAST USED'.padEnd(21)} ${'EXPIRES'.padEnd(21)} STATE\n`);
        for (const token of tokens) {
          const state = token.revokedAt ? 'revoked' : token.expiresAt && token.expiresAt < Date.now() ? 'expired' : 'active';
          process.stdout.write(`${token.name.padEnd(20)} ${token.role.padEnd(9)} ${token.mode.padEnd(10)} ${token.ceiling.padEnd(10)} ${(token.tokenHint + '…').padEnd(10)} ${isoOrDash(token.lastUsedAt).padEnd(21)} ${isoOrDash(token.expiresAt).padEnd(21)} ${state}\n`);
        }
        break;
      }
      case 'revoke': {
        if (!target) fail('revoke needs the token name');
        if (!(await store.tokens.revoke(target))) fail(`No token named '${target}'.`);
        process.stdout.write(`Revoked '${target}'. Clients using it get 401 from now on.\n`);
        break;
      }
      case 'rotate': {
        if (!target) fail('rotate needs the token name');
        const secret = await store.tokens.rotate(target);
        if (!secret) fail(`No token named '${target}'.`);
        process.stdout.write(`New token for '${target}' (the old one stopped working; shown once):\n${secret}\n`);
        break;
      }
      default:
        fail(`Unknown command '${command}'.`);
    }
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : `token: ${(error as Error).message}`}\n`);
  process.exit(1);
});
