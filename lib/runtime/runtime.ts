/**
 * The long-lived pieces a call needs, built once at start-up (lib/runtime/start.ts) and shared by
 * every door. Nothing here is per-request.
 */
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { PveClient, PveRequestGuard } from '../pve/types.ts';
import type { Store } from '../store/store.ts';
import type { AnyTool, Caller, PrivilegeNeed, Services } from '../tool.ts';

export interface PermissionCheck {
  check(needs: PrivilegeNeed[], signal?: AbortSignal): Promise<{ ok: true } | { ok: false; message: string }>;
}

/** Builds the guard that every Proxmox request of one call passes (protections, mode). */
export type GuardFactory = (caller: Caller, effect: 'read' | 'write' | 'destructive') => PveRequestGuard;

export interface Runtime {
  config: Config;
  log: Logger;
  store: Store;
  pve: PveClient;
  tools: Map<string, AnyTool>;
  services: Services;
  permissions?: PermissionCheck;
  guardFor?: GuardFactory;
  /** How long a confirmation id stays valid. */
  confirmationTtlMs: number;
  /** Default time a call may take before it is cancelled (tools waiting for tasks set their own). */
  callTimeoutMs: number;
}
