/**
 * The client behind the call that is running, for rules that depend on who asks (the /access rule).
 * The runtime runs each tool inside callerScope (lib/runtime/invoke.ts), so requests a handler derives
 * itself (execute_command's translated CLI requests) are judged for the same caller as the ones that
 * pass the client guard.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Caller } from '../tool.ts';

export type PolicyCaller = Pick<Caller, 'role' | 'name'>;

export const callerScope = new AsyncLocalStorage<PolicyCaller>();

export function currentCaller(): PolicyCaller | undefined {
  return callerScope.getStore();
}
