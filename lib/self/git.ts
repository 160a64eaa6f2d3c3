/**
 * The few git operations self-management needs, through the `git` command line (no library): each runs
 * with a time limit, never prompts (no terminal, no credential helper questions, SSH in batch mode), and
 * reports failures as GitError with git's own message.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export class GitError extends Error {
  constructor(
    message: string,
    readonly args: string[],
    readonly stderr: string,
    readonly kind: 'missing' | 'timeout' | 'failed',
  ) {
    super(message);
    this.name = 'GitError';
  }
}

export interface GitOptions {
  timeoutMs?: number;
}

const quietEnv = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_ASKPASS: 'true',
  SSH_ASKPASS: 'true',
  GIT_SSH_COMMAND: 'ssh -o BatchMode=yes -o ConnectTimeout=10',
  LC_ALL: 'C',
};

export function git(cwd: string, args: string[], options: GitOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      { cwd, timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, ...quietEnv }, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const failure = error as NodeJS.ErrnoException & { killed?: boolean; signal?: string };
        const text = String(stderr).trim();
        if (failure.code === 'ENOENT') return reject(new GitError('git is not installed (or not on PATH)', args, text, 'missing'));
        if (failure.killed || failure.signal === 'SIGKILL') {
          return reject(new GitError(`git ${args[0]} gave no answer within ${Math.round((options.timeoutMs ?? 30_000) / 1000)} s`, args, text, 'timeout'));
        }
        reject(new GitError(text.split('\n').filter(Boolean).slice(-3).join(' ') || `git ${args[0]} failed`, args, text, 'failed'));
      },
    );
  });
}

/** True when `dir` is the top of a git work tree (has .git). Cheap; runs no process. */
export function isGitCheckout(dir: string): boolean {
  return existsSync(join(dir, '.git'));
}

/** The commit HEAD points at, or undefined outside git (or without git installed). */
export async function headCommit(dir: string): Promise<string | undefined> {
  if (!isGitCheckout(dir)) return undefined;
  try {
    return (await git(dir, ['rev-parse', 'HEAD'], { timeoutMs: 5000 })).trim();
  } catch {
    return undefined;
  }
}

/** The tag exactly at HEAD (`v0.2.0`), if there is one. */
export async function tagAtHead(dir: string): Promise<string | undefined> {
  try {
    const tags = (await git(dir, ['tag', '--points-at', 'HEAD'], { timeoutMs: 5000 })).split('\n').map((t) => t.trim()).filter(Boolean);
    return tags.find((tag) => /^v\d+\.\d+\.\d+$/.test(tag)) ?? tags[0];
  } catch {
    return undefined;
  }
}

/** The branch HEAD is on, or undefined when detached. */
export async function currentBranch(dir: string): Promise<string | undefined> {
  try {
    const name = (await git(dir, ['symbolic-ref', '--quiet', '--short', 'HEAD'], { timeoutMs: 5000 })).trim();
    return name || undefined;
  } catch {
    return undefined;
  }
}

/** Tags on a remote, peeled to the commit they name. */
export async function remoteTags(dir: string, remote = 'origin', options: GitOptions = {}): Promise<{ tag: string; commit: string }[]> {
  const out = await git(dir, ['ls-remote', '--tags', remote], { timeoutMs: options.timeoutMs ?? 20_000 });
  const byTag = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [commit, ref] = line.trim().split(/\s+/);
    if (!commit || !ref?.startsWith('refs/tags/')) continue;
    const peeled = ref.endsWith('^{}');
    const tag = ref.slice('refs/tags/'.length).replace(/\^\{\}$/, '');
    if (peeled || !byTag.has(tag)) byTag.set(tag, commit);
  }
  return [...byTag].map(([tag, commit]) => ({ tag, commit }));
}

export async function remoteUrl(dir: string, remote = 'origin'): Promise<string | undefined> {
  try {
    return (await git(dir, ['remote', 'get-url', remote], { timeoutMs: 5000 })).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Files changed or untracked (ignored files do not count). Empty list = clean. */
export async function dirtyFiles(dir: string): Promise<string[]> {
  const out = await git(dir, ['status', '--porcelain', '--untracked-files=normal'], { timeoutMs: 15_000 });
  return out.split('\n').map((line) => line.trimEnd()).filter(Boolean);
}

export async function fetchTag(dir: string, tag: string, remote = 'origin', options: GitOptions = {}): Promise<void> {
  await git(dir, ['fetch', '--quiet', '--no-tags', remote, `+refs/tags/${tag}:refs/tags/${tag}`], { timeoutMs: options.timeoutMs ?? 120_000 });
}

/** A file's content at a revision (`git show v0.2.0:package.json`). */
export async function fileAt(dir: string, revision: string, path: string): Promise<string> {
  return git(dir, ['show', `${revision}:${path}`], { timeoutMs: 10_000 });
}

/** Detached checkout of a tag or commit; refuses (git does) to overwrite local changes. */
export async function checkout(dir: string, revision: string): Promise<void> {
  await git(dir, ['-c', 'advice.detachedHead=false', 'checkout', '--quiet', revision], { timeoutMs: 60_000 });
}
