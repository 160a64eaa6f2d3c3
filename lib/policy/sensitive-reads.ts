/**
 * GET requests that are not plain reads: they hand out what is inside a guest or a backup (the guest
 * agent's file-read and exec-status, file-restore downloads). They are judged like changes: read-only
 * mode and viewer tokens do not get them, whichever door asks (proxmox_api here; `pvesh get` in the
 * shell is judged by the same endpoint).
 */
import { requestViews } from './normalize.ts';

/** Guest-agent GETs that only describe the guest (everything else under /agent/ is not a read). */
const agentInfo = new Set(['info', 'get-fsinfo', 'get-host-name', 'get-memory-block-info', 'get-memory-blocks', 'get-osinfo', 'get-time', 'get-timezone', 'get-users', 'get-vcpus', 'network-get-interfaces']);

export function isSensitiveRead(path: string): boolean {
  return requestViews('GET', path).some((req) => {
    const [first, , kind, , action, command] = req.segments;
    if (first !== 'nodes') return false;
    if (kind === 'qemu' && action === 'agent') return command === undefined ? false : !agentInfo.has(command);
    if (kind === 'storage' && req.segments[4] === 'file-restore') return req.segments[5] !== 'list';
    return false;
  });
}
