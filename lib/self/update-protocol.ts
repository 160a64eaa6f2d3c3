/**
 * THE definition of the self-update handshake between the server in its container and the host-side
 * updater (deploy/host-update.sh, started by the systemd path unit proxmox-mcp-update.path that watches
 * MCP_UPDATE_DIR). The container never gets the Docker socket; it only writes a request file.
 *
 *   1. The server writes `request.json` (atomically: `request.json.tmp`, then rename):
 *        { "id": "<uuid>", "action": "update", "target_tag": "v0.2.0", "previous_tag": "v0.1.0",
 *          "requested_at": "<ISO 8601>", "requested_by": "<client token name>" }
 *      and removes any `result.json` left from an earlier request first.
 *   2. The host updater reads it, and in the install directory: `git fetch --tags`, checks out
 *      `target_tag`, `docker compose up -d --build`, waits for GET /health to answer; when the new version
 *      fails, it checks out `previous_tag`, rebuilds and starts that again.
 *   3. The host writes `result.json` (atomically, same id):
 *        { "id": "<same uuid>", "status": "ok" | "rolled_back" | "failed", "version": "0.2.0",
 *          "message": "<what happened, for a person>", "finished_at": "<ISO 8601>" }
 *      `version` is the version running afterwards. It then removes `request.json`.
 *
 * Both files are JSON objects with exactly these keys; extra keys are ignored by both sides. The server
 * waits for the result for a while (its container is usually replaced meanwhile, so the answer is then
 * read by the new instance: self_update with action "status").
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export const requestFileName = 'request.json';
export const resultFileName = 'result.json';

export const updateRequestSchema = z.object({
  id: z.string().min(1),
  action: z.literal('update'),
  target_tag: z.string().regex(/^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/),
  previous_tag: z.string(),
  requested_at: z.string(),
  requested_by: z.string(),
});
export type UpdateRequest = z.infer<typeof updateRequestSchema>;

export const updateResultSchema = z.object({
  id: z.string().min(1),
  status: z.enum(['ok', 'rolled_back', 'failed']),
  version: z.string(),
  message: z.string(),
  finished_at: z.string(),
});
export type UpdateResult = z.infer<typeof updateResultSchema>;

function writeAtomically(path: string, value: unknown): void {
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, JSON.stringify(value, null, 2) + '\n', { mode: 0o640 });
  renameSync(temporary, path);
}

export function writeUpdateRequest(updateDir: string, request: UpdateRequest): string {
  updateRequestSchema.parse(request);
  mkdirSync(updateDir, { recursive: true });
  rmSync(join(updateDir, resultFileName), { force: true });
  const path = join(updateDir, requestFileName);
  writeAtomically(path, request);
  return path;
}

export function readUpdateRequest(updateDir: string): UpdateRequest | undefined {
  return readJson(join(updateDir, requestFileName), updateRequestSchema);
}

export function readUpdateResult(updateDir: string): UpdateResult | undefined {
  return readJson(join(updateDir, resultFileName), updateResultSchema) ?? readJson(join(updateDir, resultFileName), legacyHostResult);
}

/**
 * The result as deploy/host-update.sh wrote it before it followed this protocol
 * (`status: succeeded | rolled_back | failed | rejected`, `from`/`to` tags instead of `version`),
 * mapped onto UpdateResult so that an answer from such a host is never lost.
 */
const legacyHostResult = z
  .object({
    id: z.string().min(1),
    status: z.enum(['succeeded', 'rolled_back', 'failed', 'rejected']),
    from: z.string().default(''),
    to: z.string().default(''),
    message: z.string().default(''),
    finished_at: z.string().default(''),
  })
  .transform(
    (legacy): UpdateResult => ({
      id: legacy.id,
      status: legacy.status === 'succeeded' ? 'ok' : legacy.status === 'rejected' ? 'failed' : legacy.status,
      version: (legacy.status === 'succeeded' ? legacy.to : legacy.from).replace(/^v/, ''),
      message: legacy.message,
      finished_at: legacy.finished_at,
    }),
  );

/** For the host side and tests: write the result the way the host updater does. */
export function writeUpdateResult(updateDir: string, result: UpdateResult): void {
  updateResultSchema.parse(result);
  writeAtomically(join(updateDir, resultFileName), result);
  rmSync(join(updateDir, requestFileName), { force: true });
}

function readJson<T>(path: string, schema: z.ZodType<T, any>): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // half-written or damaged: treat as not there yet
  }
}

/** Wait for the host's answer to request `id`; undefined when it did not come within `timeoutMs`. */
export async function waitForUpdateResult(updateDir: string, id: string, options: { timeoutMs: number; pollMs?: number; signal?: AbortSignal }): Promise<UpdateResult | undefined> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const result = readUpdateResult(updateDir);
    if (result?.id === id) return result;
    if (Date.now() >= deadline || options.signal?.aborted) return undefined;
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.pollMs ?? 1000, Math.max(0, deadline - Date.now()))));
  }
}
