/**
 * proxmox-mcp: start the server. Configuration comes from the environment and .env (see README).
 */
import { ConfigError } from './lib/config.ts';
import { buildServer } from './lib/runtime/start.ts';
import { listen } from './lib/runtime/listen.ts';

async function main(): Promise<void> {
  const server = await buildServer();
  const listening = await listen(server);
  const base = `${listening.protocol}://${listening.host.includes(':') ? `[${listening.host}]` : listening.host}:${listening.port}`;
  server.log.info(`proxmox-mcp ${server.info.version} listening`, {
    url: `${base}/mcp`,
    // Where a newcomer goes next (README quick start): the REST door's description and the liveness check.
    openapi: `${base}/v1/openapi.json`,
    health: `${base}/health`,
    runtime: server.info.runtime,
    tools: server.info.tools.length,
    proxmox: server.info.simulated ? 'SIMULATED cluster' : server.pve.baseUrl,
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.log.info('Stopping', { signal });
    await listening.close().catch(() => undefined);
    await server.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\nSee .env.example and the README for every variable.\n`);
  } else {
    process.stderr.write(`proxmox-mcp could not start: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
});
