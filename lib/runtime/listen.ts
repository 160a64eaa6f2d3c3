/**
 * Listening: Deno.serve under Deno, @hono/node-server under Node. Resolves once the port accepts.
 */
import type { Server } from './start.ts';

export interface Listening {
  port: number;
  host: string;
  close(): Promise<void>;
}

interface DenoLike {
  serve(options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void }, handler: (request: Request, info: unknown) => Response | Promise<Response>): { finished: Promise<void>; shutdown(): Promise<void>; addr: { port: number } };
}

export async function listen(server: Server, port = server.config.port, host = server.config.host): Promise<Listening> {
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  if (deno) {
    const handle = deno.serve({ port, hostname: host, onListen: () => undefined }, (request, info) => server.fetch(request, info));
    return { port: handle.addr.port, host, close: () => handle.shutdown() };
  }
  const { serve } = await import('@hono/node-server');
  return new Promise((resolve, reject) => {
    const nodeServer = serve({ fetch: server.fetch, port, hostname: host }, (info) => {
      resolve({
        port: info.port,
        host,
        close: () => new Promise<void>((done) => {
          (nodeServer as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          nodeServer.close(() => done());
        }),
      });
    });
    nodeServer.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new Error(`Port ${port} on ${host} is already in use. Stop what uses it (\`ss -ltnp | grep :${port}\`) or set MCP_PORT.`) : error);
    });
  });
}
