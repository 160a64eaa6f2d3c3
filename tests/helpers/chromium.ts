/**
 * A real headless Chromium (Debian's `chromium`) driven over the Chrome DevTools Protocol through
 * --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-separated JSON): no WebSocket needed on Node 20 and
 * no npm dependency. Enough for the approval page tests: open a URL, run a line of script, click,
 * wait for the next page load, take a screenshot.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { projectRoot } from '../../lib/paths.ts';

export const chromiumPath = '/usr/bin/chromium';
export const hasChromium = existsSync(chromiumPath);
export const artifactsDir = join(projectRoot, 'test-artifacts');

export interface Browser {
  open(url: string): Promise<void>;
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** Run a script that navigates (a click on a submit button) and wait for the new page to load. */
  navigateBy(expression: string): Promise<void>;
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'pmcp-chromium-'));
  const child: ChildProcess = spawn(
    chromiumPath,
    ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--remote-debugging-pipe', `--user-data-dir=${profile}`, '--window-size=420,900', 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
  );
  const input = child.stdio[3] as Writable;
  const output = child.stdio[4] as Readable;
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += String(chunk)));
  let buffer = '';
  let nextId = 0;
  const waiting = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();
  const listeners: ((message: any) => void)[] = [];
  output.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let end: number;
    while ((end = buffer.indexOf('\0')) >= 0) {
      const message = JSON.parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
      if (message.id !== undefined && waiting.has(message.id)) {
        const entry = waiting.get(message.id)!;
        waiting.delete(message.id);
        if (message.error) entry.reject(new Error(`CDP ${message.error.message}`));
        else entry.resolve(message.result);
      } else {
        for (const listener of [...listeners]) listener(message);
      }
    }
  });
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`CDP ${method} timed out\n${stderr.slice(-2000)}`));
      }, 20_000);
      waiting.set(id, {
        resolve: (value) => (clearTimeout(timer), resolve(value)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      input.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    });
  const event = (name: string, sessionId: string, timeoutMs = 20_000): Promise<any> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${name} within ${timeoutMs} ms`)), timeoutMs);
      const listener = (message: any) => {
        if (message.method === name && message.sessionId === sessionId) {
          clearTimeout(timer);
          listeners.splice(listeners.indexOf(listener), 1);
          resolve(message.params);
        }
      };
      listeners.push(listener);
    });

  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  await send('Page.enable', {}, sessionId);
  await send('Runtime.enable', {}, sessionId);

  const browser: Browser = {
    async open(url) {
      const loaded = event('Page.loadEventFired', sessionId);
      const result = await send('Page.navigate', { url }, sessionId);
      if (result.errorText) throw new Error(`could not open ${url}: ${result.errorText}`);
      await loaded;
    },
    async evaluate(expression) {
      const result = await send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId);
      if (result.exceptionDetails) throw new Error(`script failed: ${JSON.stringify(result.exceptionDetails).slice(0, 500)}`);
      return result.result.value;
    },
    async navigateBy(expression) {
      const loaded = event('Page.loadEventFired', sessionId);
      await send('Runtime.evaluate', { expression }, sessionId);
      await loaded;
    },
    async screenshot(name) {
      mkdirSync(artifactsDir, { recursive: true });
      const { data } = await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, sessionId);
      const file = join(artifactsDir, `${name}.png`);
      writeFileSync(file, Buffer.from(data, 'base64'));
      return file;
    },
    async close() {
      await send('Browser.close').catch(() => undefined);
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, 5_000);
        child.once('exit', () => (clearTimeout(timer), resolve()));
      });
      rmSync(profile, { recursive: true, force: true });
    },
  };
  return browser;
}
