/** Big request bodies for the door tests, streamed in 64 KiB chunks (never held whole in the test process). */
import { request } from 'node:http';

const chunk = Buffer.alloc(64 * 1024, 'a');

export interface Sent {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  ms: number;
  /** Bytes this client had written when the answer came. */
  written: number;
}

/**
 * POST `total` bytes (a JSON-looking stream: `{"x":"aaaa...`) to `path`, with Content-Length or chunked,
 * and resolve with the answer as soon as it arrives (the rest of the body is then abandoned).
 */
export function sendBig(base: string, path: string, options: { total: number; chunked: boolean; headers?: Record<string, string>; method?: string }): Promise<Sent> {
  const url = new URL(path, base);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let written = 0;
    let answered = false;
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: options.method ?? 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...(options.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(options.total) }),
          ...options.headers,
        },
      },
      (res) => {
        answered = true;
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8'), headers: res.headers, ms: performance.now() - started, written });
          req.destroy();
        });
        res.on('error', () => undefined);
      },
    );
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    req.setTimeout(60_000, () => req.destroy(new Error('no answer within 60 s')));
    const pump = () => {
      while (!answered && written < options.total) {
        const first = written === 0 ? Buffer.from('{"x":"') : chunk;
        const piece = first.subarray(0, Math.min(first.length, options.total - written));
        written += piece.length;
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}

