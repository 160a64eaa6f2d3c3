/**
 * This server's own address as the Proxmox host sees it: the local address the kernel picks to reach the
 * API host (a UDP socket "connect" sends nothing). Unknown for a simulated cluster, a name that does not
 * resolve, or a path through NAT we cannot see; the firewall rule then fails closed.
 */
import { createSocket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { lookup } from 'node:dns/promises';

const cache = new Map<string, Promise<string | undefined>>();

export function serverSourceAddress(baseUrl: string): Promise<string | undefined> {
  let found = cache.get(baseUrl);
  if (!found) {
    found = probe(baseUrl);
    cache.set(baseUrl, found);
  }
  return found;
}

async function probe(baseUrl: string): Promise<string | undefined> {
  let host: string;
  try {
    host = new URL(baseUrl).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return undefined;
  }
  try {
    const address = isIPv4(host) ? host : (await lookup(host, { family: 4 })).address;
    return await new Promise<string | undefined>((resolve) => {
      const socket = createSocket('udp4');
      const done = (value: string | undefined) => {
        socket.close();
        resolve(value);
      };
      socket.once('error', () => done(undefined));
      socket.connect(8006, address, () => {
        const local = socket.address().address;
        done(isIPv4(local) && local !== '0.0.0.0' ? local : undefined);
      });
    });
  } catch {
    return undefined;
  }
}
