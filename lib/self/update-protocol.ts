/**
 * THE definition of the handshake between the server in its container and the host-side updater
 * (deploy/host-update.sh, started by the systemd path unit proxmox-mcp-update.path, which watches the two
 * request files in MCP_UPDATE_DIR). The container never gets the Docker socket; it only writes request
 * files. host-update.sh implements exactly this; tests/self-update.test.ts runs it against these readers.
 *
 * Requests, written by the server atomically (`<file>.<id>.tmp`, then a hard link, which fails when a
 * request of that kind is already waiting, so one request never overwrites another). Exactly these keys,
 * all strings; the host refuses any other key, a missing key, or a value outside these forms:
 *   request.json        { "id", "action": "update", "target_tag": "v0.2.0", "previous_tag": "v0.1.0",
 *                         "requested_at": "2026-01-01T12:00:00.000Z", "requested_by": "<client token name>" }
 *   check-request.json  { "id", "action": "check", "requested_at", "requested_by" }
 *   id: 1-100 of A-Z a-z 0-9 . _ : -    tags: releaseTagPattern (at most 64 characters)
 *   requested_at: ISO 8601 in UTC (…Z)  requested_by: 1-100 characters, no control characters
 * A check has its own file so that a host updater older than this protocol (which only knew request.json
 * and read any request as "update to the newest") never sees one; self_update in a container asks for a
 * check first, so it never sends an update to such a host either.
 *
 * The host takes a request (reads it into memory without following links, only when the container's user
 * owns it, and removes it, so it runs once; checks before updates), then:
 *   update: `git fetch --tags` (never --force), verifies the tag (signed by a key pinned on the host, not
 *           moved since first seen), refuses a checkout with local changes, a downgrade the admin did not
 *           allow ON THE HOST, and a release whose compose files ask the host for more; `git checkout <target_tag>`
 *           `docker compose up -d --build` with GIT_COMMIT/GIT_TAG of the checkout exported, and waits for
 *           GET /health to report the target's version; on failure it checks out the commit it started
 *           from (previous_tag is for people and logs), rebuilds, and waits for /health again.
 *   check:  `git fetch --tags`, then lists the release tags and what is checked out.
 *
 * Answers, written by the host through a new file and a rename (never half-written) into `answers/` inside
 * MCP_UPDATE_DIR: on the host that is a root-owned directory of the updater's own
 * (/var/lib/proxmox-mcp-updater/answers), mounted read-only into the container there, so the host never
 * writes into a directory the container can change (deploy/host-update.sh). Exactly these keys:
 *   result.json (update)  { "id", "status": "ok" | "rolled_back" | "failed", "version": "0.2.0",
 *                           "message": "<what happened, for a person>", "finished_at": "<ISO 8601>" }
 *     `version`: the package.json version checked out (and so running) afterwards; "" when unknown.
 *   tags.json (check)     { "id", "status": "ok" | "failed", "tags": ["v0.2.0", ...],
 *                           "checked_out_tag": "v0.1.0" | "", "checked_out_commit": "<full hash>" | "",
 *                           "message", "finished_at" }
 *     `tags`: release tags the checkout knows after the fetch, at most 100; `failed`: the fetch failed (the
 *     tags are then the ones known before) or the request was refused.
 *   A request the host refuses (not JSON, a symlink, an unknown field or value) is answered `failed` with
 *   the reason in `message`; `id` is "" when the request had no usable id.
 *
 * result.json stays until the next update request, so the new container can read how its update went
 * (check_updates, last_update); a check never touches it.
 */
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { sleep } from '../abort.ts';

export const requestFileName = 'request.json';
export const resultFileName = 'result.json';
export const checkRequestFileName = 'check-request.json';
export const checkResultFileName = 'tags.json';
/** Where the host's answers are, inside the update dir (a read-only mount of a root-owned host directory). */
const answerDirName = 'answers';
export const answerDir = (updateDir: string) => join(updateDir, answerDirName);

const files = {
  update: { request: requestFileName, answer: resultFileName },
  check: { request: checkRequestFileName, answer: checkResultFileName },
} as const;
export type RequestKind = keyof typeof files;

/** A release tag: vMAJOR.MINOR.PATCH with an optional pre-release. host-update.sh has the same ERE (RELEASE_TAG_ERE). */
export const releaseTagPattern = /^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

const releaseTag = z.string().max(64).regex(releaseTagPattern, 'must be a release tag such as v0.2.0');
const requestId = z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/);
const timestamp = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/);
const requester = z.string().regex(/^[^\x00-\x1f\x7f]{1,100}$/);

export const updateRequestSchema = z
  .object({ id: requestId, action: z.literal('update'), target_tag: releaseTag, previous_tag: releaseTag, requested_at: timestamp, requested_by: requester })
  .strict();
export type UpdateRequest = z.infer<typeof updateRequestSchema>;

export const checkRequestSchema = z.object({ id: requestId, action: z.literal('check'), requested_at: timestamp, requested_by: requester }).strict();
export type CheckRequest = z.infer<typeof checkRequestSchema>;

export const hostRequestSchema = z.discriminatedUnion('action', [updateRequestSchema, checkRequestSchema]);
export type HostRequest = z.infer<typeof hostRequestSchema>;

export const updateResultSchema = z
  .object({ id: z.string(), status: z.enum(['ok', 'rolled_back', 'failed']), version: z.string(), message: z.string(), finished_at: z.string() })
  .strict();
export type UpdateResult = z.infer<typeof updateResultSchema>;

export const checkResultSchema = z
  .object({
    id: z.string(),
    status: z.enum(['ok', 'failed']),
    tags: z.array(releaseTag).max(100),
    checked_out_tag: z.string(),
    checked_out_commit: z.string(),
    message: z.string(),
    finished_at: z.string(),
  })
  .strict();
export type CheckResult = z.infer<typeof checkResultSchema>;

/** A request of the same kind is already waiting for the host (its file exists and was not taken yet). */
export class RequestWaitingError extends Error {
  constructor(readonly waiting: HostRequest | undefined) {
    super(waiting ? `a ${waiting.action} request (${waiting.id}, ${waiting.requested_at}) is waiting for the host-side updater` : 'a request file is waiting that is not a valid request');
    this.name = 'RequestWaitingError';
  }
}

/**
 * Write a request for the host. Never replaces a waiting request of the same kind (RequestWaitingError;
 * take a stale one back first with withdrawRequest). Removes the earlier answer of the same kind first,
 * so that only the answer to this request can appear.
 */
export function writeHostRequest(updateDir: string, request: HostRequest): string {
  hostRequestSchema.parse(request);
  mkdirSync(updateDir, { recursive: true });
  const kind = files[request.action];
  const path = join(updateDir, kind.request);
  if (existsSync(path)) throw new RequestWaitingError(readRequest(updateDir, request.action));
  const temporary = join(updateDir, `${kind.request}.${request.id}.tmp`);
  writeFileSync(temporary, JSON.stringify(request, null, 2) + '\n', { mode: 0o640 });
  try {
    try {
      rmSync(join(answerDir(updateDir), kind.answer), { force: true });
    } catch {
      // the answers are the host's (read-only here): the new answer is told apart by its id
    }
    linkSync(temporary, path); // unlike a rename, fails when another request got there first
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new RequestWaitingError(readRequest(updateDir, request.action));
    throw error;
  } finally {
    rmSync(temporary, { force: true });
  }
  return path;
}

export function writeUpdateRequest(updateDir: string, request: UpdateRequest): string {
  return writeHostRequest(updateDir, request);
}

function readRequest(updateDir: string, kind: RequestKind): HostRequest | undefined {
  return kind === 'update' ? readUpdateRequest(updateDir) : readCheckRequest(updateDir);
}

/** The update request waiting for the host, if any. */
export function readUpdateRequest(updateDir: string): UpdateRequest | undefined {
  return readJson(join(updateDir, requestFileName), updateRequestSchema);
}

/** The check request waiting for the host, if any. */
export function readCheckRequest(updateDir: string): CheckRequest | undefined {
  return readJson(join(updateDir, checkRequestFileName), checkRequestSchema);
}

/** Take back request `id` of this kind if the host has not taken it yet (any waiting one when `id` is undefined). */
export function withdrawRequest(updateDir: string, kind: RequestKind, id?: string): void {
  const path = join(updateDir, files[kind].request);
  if (!existsSync(path)) return;
  if (id === undefined || readRequest(updateDir, kind)?.id === id) rmSync(path, { force: true });
}

export function readUpdateResult(updateDir: string): UpdateResult | undefined {
  return readJson(join(answerDir(updateDir), resultFileName), updateResultSchema);
}

export function readCheckResult(updateDir: string): CheckResult | undefined {
  return readJson(join(answerDir(updateDir), checkResultFileName), checkResultSchema);
}

/**
 * When result.json / tags.json exists but does not follow this protocol: what is wrong with it (typically
 * a host-update.sh older than this server: re-run ./setup.sh on the host). Undefined when it is fine or absent.
 */
export function answerProblem(updateDir: string, kind: RequestKind): string | undefined {
  const file = join(answerDir(updateDir), files[kind].answer);
  if (!existsSync(file)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return `${file} is not JSON`;
  }
  const parsed = (kind === 'check' ? checkResultSchema : updateResultSchema).safeParse(value);
  if (parsed.success) return undefined;
  return `${file} does not follow the update protocol (${parsed.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || 'object'}: ${issue.message}`)
    .join('; ')})`;
}

function writeAtomically(path: string, value: unknown): void {
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, JSON.stringify(value, null, 2) + '\n', { mode: 0o644 });
  renameSync(temporary, path);
}

/** For tests that play the host: answer an update the way host-update.sh does. */
export function writeUpdateResult(updateDir: string, result: UpdateResult): void {
  updateResultSchema.parse(result);
  rmSync(join(updateDir, requestFileName), { force: true });
  mkdirSync(answerDir(updateDir), { recursive: true });
  writeAtomically(join(answerDir(updateDir), resultFileName), result);
}

/** For tests that play the host: answer a check the way host-update.sh does. */
export function writeCheckResult(updateDir: string, result: CheckResult): void {
  checkResultSchema.parse(result);
  rmSync(join(updateDir, checkRequestFileName), { force: true });
  mkdirSync(answerDir(updateDir), { recursive: true });
  writeAtomically(join(answerDir(updateDir), checkResultFileName), result);
}

function readJson<T>(path: string, schema: z.ZodType<T>): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // damaged, or removed meanwhile: treat as not there
  }
}

interface WaitOptions {
  timeoutMs: number;
  pollMs?: number;
  signal?: AbortSignal;
}

async function waitFor<T extends { id: string }>(read: () => T | undefined, kind: RequestKind, updateDir: string, id: string, options: WaitOptions): Promise<T | undefined> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const answer = read();
    if (answer?.id === id) return answer;
    // An answer that is not in this protocol will not turn into one: stop (the caller reads answerProblem).
    if (Date.now() >= deadline || options.signal?.aborted || (!answer && answerProblem(updateDir, kind))) return undefined;
    await sleep(Math.min(options.pollMs ?? 1000, Math.max(0, deadline - Date.now())));
  }
}

/** Wait for the host's answer to update request `id`; undefined when it did not come within `timeoutMs` (or is not in this protocol). */
export function waitForUpdateResult(updateDir: string, id: string, options: WaitOptions): Promise<UpdateResult | undefined> {
  return waitFor(() => readUpdateResult(updateDir), 'update', updateDir, id, options);
}

/** Wait for the host's answer to check request `id`; undefined when it did not come within `timeoutMs` (or is not in this protocol). */
export function waitForCheckResult(updateDir: string, id: string, options: WaitOptions): Promise<CheckResult | undefined> {
  return waitFor(() => readCheckResult(updateDir), 'check', updateDir, id, options);
}
