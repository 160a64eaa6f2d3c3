/**
 * This server's own state on the host is not the shell's to touch (issue 13 red team): the database with
 * the approvals, client tokens and their modes, the configuration and its secrets, the backups, the
 * updater's requests, the approver and token CLIs, and the container the server runs in. On a host set up
 * by setup.sh the file modes and the sudo allow-list already keep the `proxmox-mcp` user out; with
 * SSH_USER=root (which the configuration accepts) nothing would, and `docker exec proxmox-mcp node
 * dist/bin/approve.js yes ID` or `sqlite3 .../proxmox-mcp.db "UPDATE client_tokens SET mode='normal'"`
 * would be proof made by the agent itself. So these lines are forbidden in every mode, for every token,
 * whatever shell features an admin granted.
 */
import type { SimpleCommand } from './shell-parse.ts';

/** Where setup.sh and docker-compose.yml keep this server's state, configuration, CLI and keys. */
const OWN_PATHS = /\/+(?:\.\/+)*(?:var\/+lib|etc|var\/+backups|etc\/+ssh|etc\/+sudoers\.d|opt|usr\/+local\/+lib|var\/+log)\/+proxmox-mcp/i;
const OWN_FILES = /proxmox-mcp[^\s/]*\.db\b|(^|\/)(approve|token)\.(js|ts)\b|(^|\/)bin\/+(approve|token)\b/i;
const CONTAINER_PROGRAMS = new Set(['docker', 'podman', 'nerdctl', 'ctr', 'crictl', 'runc', 'crun', 'docker-compose', 'podman-compose', 'lxc-attach', 'nsenter', 'systemd-nspawn', 'machinectl']);
/** Container-runtime subcommands that only list or describe. */
const CONTAINER_READS = new Set(['ps', 'images', 'version', 'info', '--version', '-v']);
const PACKAGE_RUNNERS = new Set(['npm', 'pnpm', 'yarn', 'npx', 'bun']);

/** A path with `//`, `/./` and `dir/..` spelled out (/var/lib//./x/../proxmox-mcp is /var/lib/proxmox-mcp). */
function plainPath(text: string): string {
  let out = text.replace(/\/(?:\.?\/)+/g, '/');
  for (let i = 0; i < 20 && /\/[^/\s]+\/\.\.(?=\/|$)/.test(out); i++) out = out.replace(/\/(?!\.\.\/)[^/\s]+\/\.\.(?=\/|$)/, '').replace(/\/(?:\.?\/)+/g, '/');
  return out;
}

/** Why this command reaches this server's own state, or null. */
export function ownStateReason(cmd: SimpleCommand): string | null {
  const texts = [...cmd.words.map((w) => w.text), ...cmd.redirections.map((r) => r.target), ...cmd.env.map((e) => e.value)];
  const path = texts.find((text) => OWN_PATHS.test(plainPath(text)));
  if (path) return `reaches this server's own files (${path.slice(0, 80)}): its database holds the approvals and the client tokens' modes; they are changed only on the approval page or the host CLI`;
  const file = texts.find((text) => OWN_FILES.test(text));
  if (file) return `reaches this server's database or its approver/token CLI (${file.slice(0, 80)}), which only an admin on the host runs`;
  const program = cmd.program ?? '';
  if (CONTAINER_PROGRAMS.has(program)) {
    const verb = cmd.words.slice(1).map((w) => w.text).find((text) => !text.startsWith('-') || CONTAINER_READS.has(text));
    if (!(verb !== undefined && CONTAINER_READS.has(verb) && cmd.words.length <= 4)) {
      return `${program} can enter or change the container this server runs in (its approvals, tokens and modes); only listing (${[...CONTAINER_READS].slice(0, 4).join(', ')}) is allowed`;
    }
  }
  if (PACKAGE_RUNNERS.has(program) && cmd.words.slice(1).some((w) => /^(approve|token)$/.test(w.text))) {
    return `${program} ${cmd.words.slice(1).map((w) => w.text).join(' ').slice(0, 60)} runs this server's approver/token CLI, which only an admin on the host runs`;
  }
  return null;
}
