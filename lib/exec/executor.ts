/**
 * The contract for running one host command on a Proxmox node. The policy layer vets the command line
 * before it gets here; an executor only runs it (over SSH in production: `ssh.ts`) and reports back.
 */

export interface ExecRequest {
  /** The Proxmox node name; the executor resolves it to an address. */
  node: string;
  /** One shell command line, already vetted by the policy layer; run as given by the remote user's shell. */
  command: string;
  /** Kill the command after this long (default: the executor's default, 60 s for SSH). */
  timeoutMs?: number;
  /** Keep at most this many bytes of each of stdout and stderr (default 1 MiB). */
  maxOutputBytes?: number;
  /** Aborting kills the command; the result then has `cancelled: true`. */
  signal?: AbortSignal;
  /** Written to the command's standard input, which is then closed. Without it stdin is closed at once. */
  stdin?: string;
}

export interface ExecResult {
  node: string;
  /** The address the command ran on. */
  host: string;
  /** The exit status; null when the command was killed by a signal, timed out or was cancelled. */
  exitCode: number | null;
  /** The signal that ended the command, Node-style (`SIGTERM`), when the remote side reported one. */
  signal?: string;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  durationMs: number;
  timedOut: boolean;
  cancelled: boolean;
}

export interface HostCheck {
  ok: boolean;
  latencyMs?: number;
  error?: string;
  /** The host key the node presented (`SHA256:...`), when the handshake got that far. */
  hostKeyFingerprint?: string;
}

export interface CommandExecutor {
  /**
   * Run one command. Resolves with the outcome (non-zero exits, timeouts and cancellations included);
   * rejects with a ToolError only when the command could not be started (node unreachable, host key
   * not pinned or changed, authentication refused).
   */
  run(request: ExecRequest): Promise<ExecResult>;
  /** Can we reach the node and run a command there? Never throws. */
  check(node: string, opts?: { timeoutMs?: number }): Promise<HostCheck>;
  /** Close every connection. */
  close(): Promise<void>;
}
