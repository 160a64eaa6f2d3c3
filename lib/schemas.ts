/**
 * Input fragments the tools share, with messages a person can act on. Facts from the Proxmox schema:
 * VMIDs are 100..999999999, node names are DNS labels, storage ids are pve-storage-id, sizes take a
 * K/M/G/T suffix.
 */
import { z } from 'zod';

export const vmid = z.coerce
  .number({ error: 'vmid must be a number such as 101' })
  .int('vmid must be a whole number')
  .min(100, 'vmid must be 100 or more (Proxmox reserves 0-99)')
  .max(999_999_999, 'vmid must be at most 999999999')
  .describe('VMID');

export const nodeName = z
  .string()
  .regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/, 'node must be a Proxmox node name such as pve1 (letters, digits, dashes)')
  .max(63, 'node names are at most 63 characters')
  .describe('Node');

export const storageId = z
  .string()
  .regex(/^[a-z][a-z0-9\-_.]*[a-z0-9]$/i, 'storage must be a storage id such as local-lvm')
  .describe('Storage id, e.g. local-lvm');

/** Disk and memory sizes: 32G, 512M, 1T, or a number of GiB. */
export const sizeText = z
  .string()
  .regex(/^\+?\d+(\.\d+)?[KMGT]?$/i, 'size must look like 32G, 512M or 1T')
  .describe('Size with unit, e.g. 32G');

export const snapshotName = z
  .string()
  .regex(/^[a-zA-Z][a-zA-Z0-9_-]{1,39}$/, 'snapshot names start with a letter, use letters, digits, - or _, 2-40 characters')
  .describe('Snapshot name, e.g. before_upgrade');

export const timeoutSeconds = z.coerce
  .number()
  .int()
  .min(1)
  .max(3600)
  .default(300)
  .describe('Seconds to wait for the task');

export const waitForTask = z.boolean().default(true).describe('false: return the UPID at once');

/** "24h", "7d", "30m" or an ISO date, as epoch milliseconds. */
export const timePoint = z
  .string()
  .transform((text, ctx) => {
    const relative = /^(\d+)\s*(m|h|d)$/.exec(text.trim());
    if (relative) {
      const unit = { m: 60_000, h: 3600_000, d: 86400_000 }[relative[2] as 'm' | 'h' | 'd'];
      return Date.now() - Number(relative[1]) * unit;
    }
    const parsed = Date.parse(text);
    if (Number.isNaN(parsed)) {
      ctx.addIssue({ code: 'custom', message: 'use a duration back from now (30m, 24h, 7d) or an ISO date (2026-11-24T10:00:00Z)' });
      return z.NEVER;
    }
    return parsed;
  });
