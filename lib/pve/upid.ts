/**
 * Proxmox task ids (UPIDs). Format from pve-common Tools.pm upid_encode/upid_decode:
 * UPID:<node>:<pid %08X>:<pstart %08X or 9 digits>:<starttime %08X>:<type>:<id>:<user>:  (trailing colon)
 */
export interface Upid {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  /** Unix epoch seconds when the task started. */
  starttime: number;
  type: string;
  /** Often the vmid; empty for tasks without an object (e.g. aptupdate). */
  id: string;
  /** `user@realm` or `user@realm!tokenid`. */
  user: string;
}

const upidPattern =
  /^UPID:([a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/;

/** The parts of a UPID, or undefined when the text is not one. */
export function parseUpid(text: string): Upid | undefined {
  const match = upidPattern.exec(text.trim());
  if (!match) return undefined;
  return {
    upid: text.trim(),
    node: match[1],
    pid: parseInt(match[2], 16),
    pstart: parseInt(match[3], 16),
    starttime: parseInt(match[4], 16),
    type: match[5],
    id: match[6],
    user: match[7],
  };
}

export function isUpid(value: unknown): value is string {
  return typeof value === 'string' && parseUpid(value) !== undefined;
}
