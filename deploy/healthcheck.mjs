// Container health probe (Dockerfile HEALTHCHECK): exit 0 when GET /health answers 2xx within the timeout.
// Uses node's own fetch, so the image needs no curl. It asks the address the server listens on, with
// loopback standing in for a wildcard bind (0.0.0.0 / ::).
const port = process.env.MCP_PORT || '3001';
const bind = (process.env.MCP_HOST || '127.0.0.1').trim();
const host = bind === '0.0.0.0' || bind === '' ? '127.0.0.1' : bind === '::' || bind === '[::]' ? '[::1]' : bind;
const address = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
try {
  const response = await fetch(`http://${address}:${port}/health`, { signal: AbortSignal.timeout(4000) });
  if (!response.ok) {
    console.error(`health: HTTP ${response.status}`);
    process.exit(1);
  }
  process.exit(0);
} catch (error) {
  console.error(`health: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
