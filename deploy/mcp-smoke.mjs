// Smoke test of a running proxmox-mcp server, as a client sees it (used by deploy/test-setup.sh and
// deploy/test-container.sh; plain node, no dependencies):
//   node deploy/mcp-smoke.mjs http://127.0.0.1:3001 <token> [--call]
// 1. GET /health answers 200 with {status, version} and no token needed
// 2. POST /mcp without a token is refused (401)
// 3. initialize + notifications/initialized + tools/list with `Authorization: Bearer <token>` lists tools
// 4. with --call: calls a read-only tool that reaches the Proxmox API (when one is served) and checks it
//    did not fail: the server really talks to Proxmox, e.g. the simulator with the token setup.sh created
// Prints one line per check; exits 1 on the first failure.
const [base, token, ...flags] = process.argv.slice(2);
if (!base || !token) {
  console.error('usage: node deploy/mcp-smoke.mjs <base url> <token> [--call]');
  process.exit(2);
}
const call = flags.includes('--call');
const timeout = () => AbortSignal.timeout(20_000);

function fail(message) {
  console.error(`FAIL ${message}`);
  process.exit(1);
}

/** The JSON-RPC message in a Streamable HTTP response: plain JSON, or the last `data:` event of an SSE stream. */
async function rpcBody(response) {
  const text = await response.text();
  if ((response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const events = text.split(/\r?\n/).filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trim()).filter(Boolean);
    if (!events.length) fail(`empty event stream (HTTP ${response.status})`);
    return JSON.parse(events[events.length - 1]);
  }
  try {
    return JSON.parse(text);
  } catch {
    fail(`not JSON (HTTP ${response.status}): ${text.slice(0, 200)}`);
  }
}

const health = await fetch(`${base}/health`, { signal: timeout() }).catch((error) => fail(`GET /health: ${error.message}`));
if (health.status !== 200) fail(`GET /health answered HTTP ${health.status}`);
const healthBody = await health.json();
if (!healthBody.status || !healthBody.version) fail(`GET /health body lacks status/version: ${JSON.stringify(healthBody)}`);
console.log(`ok /health: ${JSON.stringify(healthBody)}`);

const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'deploy-smoke', version: '1' } },
};

const anonymous = await fetch(`${base}/mcp`, { method: 'POST', headers, body: JSON.stringify(initialize), signal: timeout() });
if (anonymous.status !== 401) fail(`POST /mcp without a token answered HTTP ${anonymous.status}, expected 401`);
console.log('ok /mcp without a token: 401');

const auth = { ...headers, authorization: `Bearer ${token}` };
const init = await fetch(`${base}/mcp`, { method: 'POST', headers: auth, body: JSON.stringify(initialize), signal: timeout() });
if (init.status !== 200) fail(`initialize answered HTTP ${init.status}: ${(await init.text()).slice(0, 300)}`);
const initBody = await rpcBody(init);
if (!initBody.result?.protocolVersion) fail(`initialize gave no result: ${JSON.stringify(initBody).slice(0, 300)}`);
const session = init.headers.get('mcp-session-id');
const sessionHeaders = { ...auth, 'mcp-protocol-version': initBody.result.protocolVersion, ...(session ? { 'mcp-session-id': session } : {}) };
console.log(`ok initialize: ${initBody.result.serverInfo?.name ?? '?'} ${initBody.result.serverInfo?.version ?? ''} (protocol ${initBody.result.protocolVersion})`);

const initialized = await fetch(`${base}/mcp`, {
  method: 'POST',
  headers: sessionHeaders,
  body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  signal: timeout(),
});
if (initialized.status >= 300) fail(`notifications/initialized answered HTTP ${initialized.status}`);
await initialized.body?.cancel();

async function rpc(id, method, params) {
  const response = await fetch(`${base}/mcp`, { method: 'POST', headers: sessionHeaders, body: JSON.stringify({ jsonrpc: '2.0', id, method, params }), signal: timeout() });
  if (response.status !== 200) fail(`${method} answered HTTP ${response.status}: ${(await response.text()).slice(0, 300)}`);
  const body = await rpcBody(response);
  if (body.error) fail(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

const { tools } = await rpc(2, 'tools/list', {});
if (!Array.isArray(tools) || tools.length === 0) fail('tools/list returned no tools');
console.log(`ok tools/list: ${tools.length} tools`);

if (call) {
  // A read-only tool that reaches the Proxmox API, so the call proves the server's Proxmox token works.
  const preferred = ['get_system_info', 'get_cluster_status', 'node_status', 'list_nodes', 'list_vms', 'list_guests'];
  const noArgs = (tool) => !(tool.inputSchema?.required ?? []).length;
  const tool = preferred.map((name) => tools.find((t) => t.name === name)).find((t) => t && noArgs(t));
  if (!tool) {
    console.log(`skip tools/call: none of ${preferred.join(', ')} is served yet`);
  } else {
    const result = await rpc(3, 'tools/call', { name: tool.name, arguments: {} });
    const text = (result.content ?? []).map((part) => part.text ?? '').join(' ').slice(0, 200);
    if (result.isError) fail(`tools/call ${tool.name} failed: ${text}`);
    console.log(`ok tools/call ${tool.name}: ${text}`);
  }
}
