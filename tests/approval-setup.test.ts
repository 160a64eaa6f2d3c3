/**
 * setup.sh's first approver (issue 13): its own functions, taken from setup.sh as they are, run in bash
 * with docker, qrencode and apt-get replaced by small scripts that log their arguments. A first install
 * (no container yet) adds the approver with `docker compose run --rm` when the admin agrees (or --yes);
 * a running container with `exec`; an existing approver is left alone; the otpauth URI is drawn as a QR
 * code when qrencode is there, installed with the packages setup.sh installs anyway or when the admin
 * agrees, else the exact commands are printed. (deploy/test-setup.sh runs setup.sh whole, as root.)
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const setup = readFileSync(join(import.meta.dirname, '..', 'setup.sh'), 'utf8');

/** A function of setup.sh, verbatim: a one-line `name() { ...; }` or a block ending at a line `}`. */
function fn(name: string): string {
  const lines = setup.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`${name}() {`));
  if (start < 0) throw new Error(`setup.sh has no function ${name}`);
  if (lines[start]!.trimEnd().endsWith('}')) return lines[start]!;
  const end = lines.findIndex((line, i) => i > start && line === '}');
  return lines.slice(start, end + 1).join('\n');
}

const uri = 'otpauth://totp/proxmox-mcp%3Aalice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=proxmox-mcp';
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pmcp-setup-approver-'));
  execFileSync('mkdir', ['-p', join(dir, 'bin')]);
  for (const tool of ['grep', 'head', 'cat', 'mkdir', 'git', 'chmod', 'dirname']) {
    const found = execFileSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
    if (found) symlinkSync(found, join(dir, 'bin', tool));
  }
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): void {
  writeFileSync(join(dir, 'bin', name), `#!/bin/bash\nprintf '%s %s\\n' ${name} "$*" >>"${dir}/calls.log"\n${body}\n`);
  chmodSync(join(dir, 'bin', name), 0o755);
}

/** docker: whether the container runs, and what `approver list` answers. */
function docker(running: boolean, listed = 'No approver yet: npm run approve -- approver add NAME'): void {
  script(
    'docker',
    `case "$*" in
  *' ps -q proxmox-mcp'*) ${running ? 'echo 3f2a1b' : 'true'} ;;
  *'approver list'*) echo '${listed}' ;;
  *'approver add'*) printf "Approver 'alice' added. Scan this into an authenticator app now:\\n%s\\n(A QR code: ...)\\n" '${uri}' ;;
esac`,
  );
}

function qrencode(): void {
  script('qrencode', `echo "QR[$*]"`);
}

function run(vars: Record<string, string | number>): { out: string; calls: string } {
  const program = [
    ...Object.entries({ DRY_RUN: 0, ASSUME_YES: 0, INTERACTIVE: 0, PACKAGES_INSTALLED: 0, BOLD: '', RESET: '', GREEN: '', YELLOW: '', RED: '', INSTALL_DIR: dir, APPROVER_NAME: 'alice', ...vars }).map(([k, v]) => `${k}='${v}'`),
    ...['step', 'info', 'ok', 'warn', 'quoted', 'run', 'confirm', 'approve_cli', 'show_otpauth_qr', 'create_first_approver'].map(fn),
    'create_first_approver; echo "rc=$?"; echo "GIT_COMMIT=${GIT_COMMIT:-}"',
  ].join('\n');
  const out = execFileSync('/bin/bash', ['-c', program], { encoding: 'utf8', env: { PATH: join(dir, 'bin'), HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = join(dir, 'calls.log');
  return { out, calls: existsSync(log) ? readFileSync(log, 'utf8') : '' };
}

describe("setup.sh's first approver", () => {
  it('a running container: added with docker compose exec, the URI printed and drawn as a QR code', () => {
    docker(true);
    qrencode();
    const { out, calls } = run({});
    expect(calls).toContain('docker compose --project-directory ' + dir + ' exec -T proxmox-mcp node dist/bin/approve.js approver add alice');
    expect(out).toContain(uri);
    expect(out).toContain(`QR[-t ansiutf8 -- ${uri}]`);
    expect(out).toContain('rc=0');
  });

  it('a first install with --yes: the image is built and the approver added with docker compose run --rm, in the same run', () => {
    docker(false);
    qrencode();
    const { out, calls } = run({ ASSUME_YES: 1 });
    expect(calls).toContain(' run --rm --no-deps -T proxmox-mcp node dist/bin/approve.js approver add alice');
    expect(calls).not.toContain(' exec ');
    expect(out).toContain(`QR[-t ansiutf8 -- ${uri}]`);
    expect(out).toMatch(/GIT_COMMIT=\S+/);
  });

  it('a first install, non-interactive without --yes: nothing is built; the exact command is printed', () => {
    docker(false);
    const { out, calls } = run({});
    expect(calls).not.toContain('approver add');
    expect(out).toContain(`cd ${dir} && docker compose run --rm --no-deps proxmox-mcp node dist/bin/approve.js approver add alice`);
  });

  it('an approver exists already: none is added', () => {
    docker(true, 'alice                added 2026-12-01 10:00 UTC');
    const { out, calls } = run({});
    expect(calls).not.toContain('approver add');
    expect(out).toMatch(/an approver exists already/);
  });

  it('no qrencode, and setup.sh installed packages in this run: qrencode is installed with apt-get and draws the code', () => {
    docker(true);
    script('apt-get', `cp "${dir}/bin/qr-later" "${dir}/bin/qrencode"`); // "installs" it
    writeFileSync(join(dir, 'bin', 'qr-later'), '#!/bin/bash\necho "QR[$*]"\n');
    chmodSync(join(dir, 'bin', 'qr-later'), 0o755);
    symlinkSync(execFileSync('bash', ['-c', 'command -v cp'], { encoding: 'utf8' }).trim(), join(dir, 'bin', 'cp'));
    const { out, calls } = run({ PACKAGES_INSTALLED: 1 });
    expect(calls).toContain('apt-get install -y --no-install-recommends qrencode');
    expect(out).toContain(`QR[-t ansiutf8 -- ${uri}]`);
  });

  it('no qrencode, no packages installed, nobody to ask: apt-get is not run; the exact commands are printed', () => {
    docker(true);
    script('apt-get', 'exit 0');
    const { out, calls } = run({});
    expect(calls).not.toContain('apt-get');
    expect(out).toContain(`For a QR code to scan: apt-get install -y qrencode, then: qrencode -t ansiutf8 '${uri}'`);
  });

  it('--dry-run: nothing is called', () => {
    docker(true);
    const { out, calls } = run({ DRY_RUN: 1 });
    expect(calls).toBe('');
    expect(out).toMatch(/would add approver 'alice'/);
  });
});
