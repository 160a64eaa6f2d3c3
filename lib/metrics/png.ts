/**
 * A minimal PNG encoder: 8-bit palette images (colour type 3), one IDAT compressed with node:zlib.
 *
 * Why our own and not a library: a chart needs lines, a few colours and digits, nothing a canvas or an
 * image library adds. The native ones (canvas, sharp, skia) bring prebuilt binaries that must match the
 * platform, libc and Node ABI of the container image and do not load in Deno; the pure-JS ones (pngjs,
 * and chart renderers above them) are more code than this file for what we use. node:zlib is in Node,
 * Deno and Bun, so this works wherever the server runs, with no dependency to audit or update.
 */
import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 as PNG (and zlib, gzip) define it. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/**
 * Encode `pixels` (one palette index per pixel, row by row) with `palette` ([r, g, b] each, at most 256).
 */
export function encodePalettePng(width: number, height: number, pixels: Uint8Array, palette: [number, number, number][]): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 4096 || height > 4096) throw new Error(`PNG size ${width}x${height} out of range`);
  if (pixels.length !== width * height) throw new Error('PNG pixel count does not match the size');
  if (palette.length < 1 || palette.length > 256) throw new Error('PNG palette needs 1 to 256 colours');
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = 3; // palette
  header[10] = 0; // deflate
  header[11] = 0; // adaptive filtering (each row says its filter; we use none)
  header[12] = 0; // no interlace
  const plte = new Uint8Array(palette.length * 3);
  palette.forEach(([r, g, b], i) => plte.set([r & 255, g & 255, b & 255], i * 3));
  const raw = new Uint8Array((width + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width + 1)] = 0; // filter: none
    raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }
  const idat = new Uint8Array(deflateSync(raw, { level: 9 }));
  const parts = [PNG_SIGNATURE, chunk('IHDR', header), chunk('PLTE', plte), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
