/**
 * `npm run approve -- ...`: approvals and approvers from a shell on the host. Having that shell is the
 * proof (an agent with only a client token has none), so `yes` needs no code. The logic lives here so
 * tests run exactly what the command runs; bin/approve.ts only wires it to the process.
 */
import type { Store } from '../store/store.ts';
import type { Plan } from '../tool.ts';
import { approvalSettingKey, approvalTtlMs } from './gate.ts';
import { approvalsOf, globalCeiling, type ApprovalRow } from './store.ts';

export const approveUsageDetails = [
  'commands:',
  '  list                       pending approvals (newest first) and recent decisions',
  '  show ID                    one approval: the plan, the client, the exact arguments',
  '  yes ID                     approve it (the client then runs it once, if its target has not changed)',
  '  no ID                      deny it',
  '  approver add NAME          a new approver; prints its otpauth URI ONCE (scan it into an authenticator app)',
  '  approver list              the approvers (never their secrets)',
  '  approver remove NAME       an approver who may no longer approve',
  '  approver reset NAME        forget its wrong codes (after an attack: the page no longer slows its tries)',
  '  history                    recent decisions and everything on record (refused tries too)',
  '  url [URL]                  show or set the approval page address given to clients (e.g. https://pve.example:3001)',
];

export interface CliIo {
  out: (text: string) => void;
  /** Who is at the host shell (recorded as host:<user>). */
  user: string;
}

export class CliUsageError extends Error {}

function iso(ms: number | null): string {
  return ms ? new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z') : '-';
}

function describe(row: ApprovalRow): string {
  const plan = JSON.parse(row.plan) as Plan;
  return [
    `${row.id}  ${row.status}`,
    `  client:   ${row.client}`,
    `  tool:     ${row.tool}`,
    `  plan:     ${plan.summary}`,
    `  risk:     ${plan.risk}, ${plan.reversible ? 'can be undone' : 'cannot be undone'}${plan.undo ? ` (undo: ${plan.undo})` : ''}`,
    ...(plan.apiCalls?.length ? [`  requests: ${plan.apiCalls.join('\n            ')}`] : []),
    ...(plan.cliEquivalent ? [`  command:  ${plan.cliEquivalent}`] : []),
    ...(plan.warnings?.length ? [`  warnings: ${plan.warnings.join('\n            ')}`] : []),
    `  why:      ${row.reason}`,
    `  args:     ${row.args}`,
    `  asked:    ${iso(row.createdAt)}, expires ${iso(row.expiresAt)}`,
    ...(row.decidedBy ? [`  decided:  ${row.status === 'denied' ? 'denied' : 'approved'} by ${row.decidedBy} (${row.decidedHow}) at ${iso(row.decidedAt)}`] : []),
  ].join('\n');
}

export async function runApproveCli(store: Store, positionals: string[], io: CliIo): Promise<number> {
  const approvals = approvalsOf(store);
  const [command, target, extra] = positionals;
  const by = `host:${io.user || 'unknown'}`;
  switch (command) {
    case 'list': {
      const pending = await approvals.pending();
      io.out(pending.length ? `Waiting for a decision:\n${pending.map((row) => `  ${row.id}  ${row.client.padEnd(16)} ${row.tool.padEnd(18)} ${(JSON.parse(row.plan) as Plan).summary}`).join('\n')}\n` : 'Nothing is waiting for a decision.\n');
      const recent = await approvals.recent(10);
      if (recent.length) io.out(`Recent:\n${recent.map((row) => `  ${row.id}  ${row.status.padEnd(8)} ${row.client.padEnd(16)} ${row.tool.padEnd(18)} ${row.decidedBy ?? '-'}`).join('\n')}\n`);
      return 0;
    }
    case 'show': {
      if (!target) throw new CliUsageError('show needs the approval id (npm run approve -- list shows them)');
      const row = await approvals.get(target);
      if (!row) {
        io.out(`There is no approval ${target}.\n`);
        return 1;
      }
      io.out(describe(row) + '\n');
      return 0;
    }
    case 'yes':
    case 'no': {
      if (!target) throw new CliUsageError(`${command} needs the approval id (npm run approve -- list shows them)`);
      const row = await approvals.get(target);
      if (!row) {
        await approvals.event({ actor: by, how: 'host-cli', outcome: 'refused', message: `unknown approval ${target.slice(0, 80)}` });
        io.out(`There is no approval ${target}. Nothing was decided.\n`);
        return 1;
      }
      const status = command === 'yes' ? 'approved' : 'denied';
      if (!(await approvals.decide(target, status, by, 'host-cli'))) {
        const now = await approvals.get(target);
        await approvals.event({ approvalId: target, actor: by, how: 'host-cli', outcome: 'refused', message: `already ${now?.status}` });
        io.out(`${target} is already ${now?.status ?? 'gone'}; it cannot be decided again. Nothing was changed.\n`);
        return 1;
      }
      await approvals.event({ approvalId: target, actor: by, how: 'host-cli', outcome: status, message: `${row.tool} for ${row.client}` });
      io.out(status === 'approved' ? `Approved ${target}: ${row.client} may run ${row.tool} once within ${Math.round(approvalTtlMs / 60_000)} minutes of the request, if its target has not changed.\n` : `Denied ${target}. Nothing will run.\n`);
      return 0;
    }
    case 'approver': {
      if (target === 'add') {
        if (!extra) throw new CliUsageError('approver add needs a NAME');
        const { uri } = await approvals.addApprover(extra);
        io.out(
          `Approver '${extra}' added. Scan this into an authenticator app now (it is shown only once and never stored anywhere but the database):\n${uri}\n` +
            `(A QR code: pipe the line above into \`qrencode -t ansiutf8\` if it is installed.)\n`,
        );
        await approvals.event({ actor: by, how: 'host-cli', outcome: 'approver', message: `added approver ${extra}` });
        return 0;
      }
      if (target === 'list') {
        const list = await approvals.listApprovers();
        io.out(list.length ? list.map((a) => `${a.name.padEnd(20)} added ${iso(a.createdAt)}${a.failures > 0 ? `  ${a.failures} wrong code(s) in a row${a.failures >= globalCeiling ? ' (page tries slowed down; approver reset NAME ends it)' : ''}` : ''}`).join('\n') + '\n' : 'No approver yet: npm run approve -- approver add NAME\n');
        return 0;
      }
      if (target === 'remove') {
        if (!extra) throw new CliUsageError('approver remove needs a NAME');
        if (!(await approvals.removeApprover(extra))) {
          io.out(`There is no approver '${extra}'.\n`);
          return 1;
        }
        await approvals.event({ actor: by, how: 'host-cli', outcome: 'approver', message: `removed approver ${extra}` });
        io.out(`Removed approver '${extra}'; their codes no longer count.\n`);
        return 0;
      }
      if (target === 'reset') {
        if (!extra) throw new CliUsageError('approver reset needs a NAME');
        if (!(await approvals.resetApprover(extra))) {
          io.out(`There is no approver '${extra}'.\n`);
          return 1;
        }
        await approvals.event({ actor: by, how: 'host-cli', outcome: 'approver', message: `reset the wrong-code count of ${extra}` });
        io.out(`Reset '${extra}': wrong codes forgotten, the page no longer slows its tries.\n`);
        return 0;
      }
      throw new CliUsageError(`approver needs add NAME, list, reset NAME or remove NAME`);
    }
    case 'history': {
      // What the page shows an approver only after a code: decisions and everything on record.
      const recent = await approvals.recent(30);
      const events = await approvals.events(50);
      io.out('Recent decisions:\n' + (recent.length ? recent.map((r) => `  ${iso(r.decidedAt ?? r.createdAt)}  ${r.id}  ${r.tool} for ${r.client}: ${r.status}${r.decidedBy ? ` by ${r.decidedBy} (${r.decidedHow})` : ''}`).join('\n') : '  none') + '\n');
      io.out('On record (decisions, refused tries):\n' + (events.length ? events.map((e) => `  ${iso(e.at)}  ${e.outcome.padEnd(8)} ${e.actor ?? '-'} (${e.how}) ${e.message}`).join('\n') : '  none') + '\n');
      return 0;
    }
    case 'url': {
      if (target) {
        if (!/^https?:\/\/[^\s/]+$/.test(target.replace(/\/+$/, ''))) throw new CliUsageError(`'${target}' is not a base address such as https://pve.example:3001`);
        await store.settings.set(approvalSettingKey, target.replace(/\/+$/, ''));
      }
      const url = await store.settings.get<string>(approvalSettingKey);
      io.out(url ? `Clients are sent to ${url}/approve/<id>.\n` : 'No address set: clients get the Host they reached the server at (MCP) or the bound address.\n');
      return 0;
    }
    default:
      throw new CliUsageError(command ? `unknown command '${command}'` : 'which command?');
  }
}
