/**
 * The API policy as data: every Proxmox request any door makes (typed tools through the client guard,
 * proxmox_api, execute_command's translated CLI lines) is judged by each rule here, on each reading of
 * its path (normalize.ts requestViews). A new rule is one file in this folder and one row below.
 */
import type { PolicyRule } from './common.ts';
import { accessAdminRule } from './access-admin.ts';
import { rootPamRule } from './root.ts';
import { serviceIdentityRule } from './service-identity.ts';
import { mainNodeRule } from './main-node.ts';
import { protectedGuestRule } from './protected-guest.ts';
import { viewerReadsRule } from './viewer-reads.ts';
import { firewallSelfAccessRule } from './firewall-self-access.ts';

export const apiRules: readonly PolicyRule[] = [
  rootPamRule,
  serviceIdentityRule,
  mainNodeRule,
  protectedGuestRule,
  firewallSelfAccessRule,
  // last, so that a protected object is refused as protected whoever asks
  viewerReadsRule,
  accessAdminRule,
];
