/**
 * Approvals from the host: npm run approve -- list|show ID|yes ID|no ID|history|approver add NAME|
 * approver list|approver reset NAME|approver remove NAME|url [URL]. Talks to the same database as the server (DATABASE_URL / the data
 * directory from .env). The logic is lib/approval/cli.ts.
 */
import { userInfo } from 'node:os';
import { cliFail, parseCli, type CliSpec } from '../lib/cli.ts';
import { ConfigError, loadConfig } from '../lib/config.ts';
import { openStore } from '../lib/store/store.ts';
import { approveUsageDetails, CliUsageError, runApproveCli } from '../lib/approval/cli.ts';

const spec: CliSpec = {
  command: 'npm run approve --',
  summary: 'Approve or deny calls that need proof of a human, and manage the approvers (TOTP) who may approve them on the approval page.',
  positionals: '<command> [ID|NAME]',
  details: approveUsageDetails,
  options: {},
  examples: ['npm run approve -- list', 'npm run approve -- yes approval_0123456789abcdef0123', 'npm run approve -- approver add alice'],
};

async function main(): Promise<void> {
  const { positionals } = parseCli(spec);
  const config = loadConfig();
  const store = await openStore(config.databaseUrl, { authToken: config.databaseAuthToken });
  let user = process.env.SUDO_USER || process.env.USER || '';
  try {
    user ||= userInfo().username;
  } catch {
    // no passwd entry (a container): 'unknown'
  }
  try {
    process.exitCode = await runApproveCli(store, positionals, { out: (text) => process.stdout.write(text), user });
  } catch (error) {
    if (error instanceof CliUsageError) cliFail(spec, error.message);
    throw error;
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : `approve: ${(error as Error).message}`}\n`);
  process.exit(1);
});
