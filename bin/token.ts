/**
 * Client tokens from the command line: npm run token -- create|list|revoke|rotate|mode|proof.
 * Talks to the same database as the server (DATABASE_URL / the data directory from .env).
 */
import { cliFail, parseCli, type CliSpec } from '../lib/cli.ts';
import { modeRank } from '../lib/store/tokens.ts';
import { proofSettings, type ProofSetting } from '../lib/approval/policy.ts';
import { ConfigError, loadConfig } from '../lib/config.ts';
import { openStore } from '../lib/store/store.ts';
import { SHELL_FEATURES, updateShellFeatureGrant } from '../lib/exec/shell-features.ts';
import type { Mode, Role } from '../lib/tool.ts';
import { enabledToolsets, parseToolsetList, settingsKeyForToolsets, TOOLSETS } from '../lib/toolsets.ts';

const spec = {
  command: 'npm run token --',
  summary:
    'Client tokens: create, list, revoke, rotate, and (only here, never through a tool call) set a client\'s mode and which of its calls need proof. ' +
    'A new token starts in safe mode (every change needs a human yes); its ceiling is the highest mode it may be raised to. The token is printed once.',
  positionals: '<command> [NAME] [VALUE]',
  details: [
    'commands:',
    '  create --name NAME [--role R] [--ceiling M] [--mode M] [--expires 90d|12h|never]',
    '  list [--all]                 tokens (revoked ones too with --all)',
    '  revoke NAME                  the token stops working at once',
    '  rotate NAME                  a new secret; the old one stops working',
    '  mode NAME read-only|safe|normal',
    '                               set the mode (up to the ceiling); an admin\'s word at the host, no approval needed',
    '  proof NAME default|destructive|changes',
    '                               which calls need proof (an approver\'s code or npm run approve -- yes):',
    '                               default: destructive calls in safe mode, changes where the client cannot ask;',
    '                               in every mode raising a mode, self_update, restore_config',
    '                               destructive: also destructive calls in normal mode',
    '                               changes: every change, in every mode, even where the client could ask',
    '  shell NAME [--allow F,F] [--deny F,F]',
    `                               shell features execute_command refuses unless allowed here: ${SHELL_FEATURES.join(', ')}`,
    '  toolsets NAME [LIST]         toolsets whose tools this client sees beyond the everyday ones',
    `                               (${Object.keys(TOOLSETS).join(', ')}, all, none); without LIST: show them`,
  ],
  options: {
    name: { type: 'string', value: 'NAME', description: 'token name (create)' },
    role: { type: 'string', value: 'ROLE', default: 'operator', description: 'admin, operator or viewer (create)' },
    ceiling: { type: 'string', value: 'MODE', description: 'highest mode: read-only, safe or normal (create)' },
    mode: { type: 'string', value: 'MODE', description: 'starting mode (create; default safe)' },
    expires: { type: 'string', value: 'WHEN', description: '90d, 12h, 4w or never (create)' },
    all: { type: 'boolean', default: false, description: 'list revoked tokens too' },
    json: { type: 'boolean', default: false, description: 'machine-readable output (create, list)' },
    allow: { type: 'string', value: 'FEATURES', description: 'shell features to allow (shell), comma-separated' },
    deny: { type: 'string', value: 'FEATURES', description: 'shell features to take back (shell), comma-separated' },
  },
  examples: [
    'npm run token -- create --name claude-code --role operator',
    'npm run token -- mode claude-code normal',
    'npm run token -- proof claude-code destructive',
    'npm run token -- toolsets claude-code ha,metrics',
  ],
} satisfies CliSpec;

function fail(message: string): never {
  cliFail(spec, message);
}

const roles = ['admin', 'operator', 'viewer'] as const;
const modes = ['read-only', 'safe', 'normal'] as const;

function parseDuration(text: string | undefined): number | null {
  if (!text || text === 'never') return null;
  const match = /^(\d+)\s*([hdw])$/.exec(text.trim());
  if (!match) throw new Error(`--expires '${text}' is not a duration: use e.g. 12h, 90d, 4w or never`);
  const unit = { h: 3600_000, d: 86400_000, w: 7 * 86400_000 }[match[2] as 'h' | 'd' | 'w'];
  return Date.now() + Number(match[1]) * unit;
}

function isoOrDash(value: number | null): string {
  return value ? new Date(value).toISOString().replace(/\.\d+Z$/, 'Z') : '-';
}

async function main(): Promise<void> {
  const { positionals, values } = parseCli(spec);
  const [command, target, setting] = positionals;
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
      case 'mode': {
        if (!target || !setting) fail('mode needs the token name and the mode: npm run token -- mode NAME normal');
        if (!modes.includes(setting as Mode)) fail(`the mode must be one of ${modes.join(', ')}`);
        const token = await store.tokens.byName(target);
        if (!token || token.revokedAt !== null) fail(`No active token named '${target}'.`);
        if (modeRank[setting as Mode] > modeRank[token.ceiling]) fail(`'${target}' has the ceiling ${token.ceiling}; it cannot be put in ${setting} mode (create a token with a higher ceiling).`);
        await store.tokens.setMode(token.id, setting as Mode);
        process.stdout.write(`'${target}' is now in ${setting} mode (was ${token.mode}).\n`);
        break;
      }
      case 'proof': {
        if (!target || !setting) fail('proof needs the token name and a setting: npm run token -- proof NAME default|destructive|changes');
        if (!proofSettings.includes(setting as ProofSetting)) fail(`the proof setting must be one of ${proofSettings.join(', ')}`);
        const token = await store.tokens.byName(target);
        if (!token) fail(`No token named '${target}'.`);
        await store.tokens.setProof(token.id, setting as ProofSetting);
        process.stdout.write(`'${target}' now needs proof for: ${{ default: 'destructive calls in safe mode and changes where it cannot ask; raising a mode, self_update, restore_config', destructive: 'destructive calls in every mode, plus the defaults', changes: 'every change in every mode' }[setting as ProofSetting]}.\n`);
        break;
      }
      case 'shell': {
        if (!target) fail(`shell needs the token name: npm run token -- shell NAME --allow ${SHELL_FEATURES[0]}`);
        const token = await store.tokens.byName(target);
        if (!token) fail(`No token named '${target}'.`);
        const result = await updateShellFeatureGrant(store.settings, token.id, values.allow as string | undefined, values.deny as string | undefined);
        if ('error' in result) fail(result.error);
        process.stdout.write(`'${target}' may use these shell features in execute_command: ${result.granted.length ? result.granted.join(', ') : 'none'}.\n`);
        break;
      }
      case 'toolsets': {
        if (!target) fail(`toolsets needs the token name: npm run token -- toolsets NAME ${Object.keys(TOOLSETS).join(',')}`);
        const token = await store.tokens.byName(target);
        if (!token) fail(`No token named '${target}'.`);
        if (setting !== undefined) {
          let next: string[];
          try {
            next = parseToolsetList(setting);
          } catch (error) {
            fail((error as Error).message);
          }
          await store.settings.set(settingsKeyForToolsets(token.id), next);
        }
        const now = await enabledToolsets(store.settings, token.id);
        process.stdout.write(`'${target}' sees these toolsets beyond the everyday tools: ${now.length ? now.join(', ') : 'none'} (the client reloads its tool list on its next session).\n`);
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
