/**
 * self_update wired to a tool's ctx: the backup, the default build, the trial health check against a
 * copy of the live database, and the restart. Tests replace any of these through `overrides`
 * (setSelfUpdateOverrides), which is how a failing health check is injected end to end.
 */
import type { ToolContext } from '../tool.ts';
import { localPathOf } from '../store/store.ts';
import { backupFromContext, packageInfo } from './context.ts';
import { selfUpdate, trialHealthCheck, type SelfUpdateDeps, type SelfUpdateOutcome, type SelfUpdateRequest } from './self-update.ts';

type Overridable = Pick<SelfUpdateDeps, 'build' | 'healthCheck' | 'restart' | 'inContainer' | 'waitMs' | 'checkWaitMs' | 'pollMs'>;
let overrides: Partial<Overridable> = {};

/** For tests (and embedders): replace parts of the update machinery; `{}` restores the defaults. */
export function setSelfUpdateOverrides(next: Partial<Overridable>): void {
  overrides = next;
}

export async function runSelfUpdate(ctx: ToolContext, request: SelfUpdateRequest & { waitSeconds?: number; backupPassphrase?: string }): Promise<SelfUpdateOutcome> {
  const store = ctx.services.store;
  const deps: SelfUpdateDeps = {
    installDir: ctx.config.installDir,
    updateDir: ctx.config.updateDir,
    currentVersion: ctx.services.runtime?.version ?? packageInfo().version,
    requestedBy: ctx.caller.name,
    inContainer: ctx.config.container.inside,
    backup: async () => {
      const result = await backupFromContext(ctx, {
        includeHistory: true,
        includeCluster: true,
        ...(request.backupPassphrase ? { includeSecrets: true, passphrase: request.backupPassphrase } : {}),
      });
      return result.file;
    },
    healthCheck: trialHealthCheck({
      copyDatabase: async (path) => {
        // A consistent copy of an embedded database; a libSQL server cannot be copied, so the trial then starts empty.
        if (localPathOf(store.url)) await store.client.execute({ sql: 'VACUUM INTO ?', args: [path] });
      },
    }),
    waitMs: request.waitSeconds !== undefined ? request.waitSeconds * 1000 : undefined,
    signal: ctx.signal,
    progress: (message) => ctx.progress({ progress: 0, message }),
    ...overrides,
  };
  return selfUpdate(deps, request);
}
