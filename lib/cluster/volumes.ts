/**
 * Storage volume ids (`local:backup/vzdump-qemu-100-2024_01_01-00_00_00.vma.zst`, `local-lvm:vm-100-disk-0`)
 * and the facts the tools read from them: which storage, which guest a backup belongs to and when it was
 * made, and which volumes a guest config uses. Formats from pve-storage (PVE/Storage.pm, archive_info).
 */

export interface Volid {
  storage: string;
  /** The part after the colon, e.g. `backup/vzdump-...` or `vm-100-disk-0`. */
  name: string;
}

export function parseVolid(volid: string): Volid | undefined {
  const match = /^([a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]):(.+)$/.exec(volid.trim());
  if (!match) return undefined;
  return { storage: match[1], name: match[2] };
}

export interface BackupName {
  guestType: 'qemu' | 'lxc';
  vmid: number;
  /** Epoch seconds from the file name (UTC, as vzdump writes it). */
  time?: number;
}

/** vzdump-qemu-100-2024_01_01-00_00_00.vma.zst -> { qemu, 100, time }. `openvz` is the old name of lxc. */
export function parseBackupName(volidOrName: string): BackupName | undefined {
  const match = /vzdump-(qemu|lxc|openvz)-(\d+)-(\d{4})_(\d{2})_(\d{2})-(\d{2})_(\d{2})_(\d{2})/.exec(volidOrName);
  if (!match) return undefined;
  const [, kind, vmid, y, mo, d, h, mi, s] = match;
  const time = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000;
  return { guestType: kind === 'qemu' ? 'qemu' : 'lxc', vmid: Number(vmid), time: Number.isFinite(time) ? time : undefined };
}

const diskKey = /^(ide|sata|scsi|virtio|efidisk|tpmstate|unused|mp)\d+$|^rootfs$/;

/** The volume ids a guest config refers to (disks, container volumes, unused disks; no CD-ROM media). */
export function configVolids(config: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(config)) {
    if (!diskKey.test(key) || typeof value !== 'string') continue;
    const [volid, ...options] = value.split(',');
    if (!volid || volid === 'none' || !volid.includes(':')) continue;
    if (options.some((option) => option === 'media=cdrom')) continue;
    out.set(volid, key);
  }
  return out;
}

/** `local:iso/debian.iso` and `iso/debian.iso` on storage `local` name the same volume. */
export function fullVolid(storage: string, volume: string): string {
  return volume.includes(':') ? volume : `${storage}:${volume}`;
}
