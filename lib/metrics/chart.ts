/**
 * A line chart as PNG: a white canvas, a plot frame with grid lines, y labels (scaled units), time labels,
 * one line per series and a legend. Drawn into a palette bitmap (lib/metrics/png.ts), text in the 5x7
 * font (lib/metrics/font.ts) at scale 1 or 2.
 */
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyphPixel } from './font.ts';
import { encodePalettePng } from './png.ts';

export interface ChartSeries {
  name: string;
  /** One value per time point; null where the RRD has no value. */
  values: (number | null)[];
}

export interface ChartInput {
  times: number[];
  series: ChartSeries[];
  /** How to write a y value (e.g. '42%', '1.2 MB/s'); also sets the axis scale. */
  format: (value: number) => string;
  /** Fixed top of the y axis (100 for percent); otherwise from the data. */
  yMax?: number;
  /** How to write a time label. */
  timeLabel: (seconds: number) => string;
  width?: number;
  height?: number;
}

const PALETTE: [number, number, number][] = [
  [255, 255, 255], // 0 background
  [40, 40, 40], // 1 text, frame
  [225, 225, 225], // 2 grid
  [31, 119, 180], // 3 series 1 (blue)
  [214, 39, 40], // 4 series 2 (red)
  [44, 160, 44], // 5 series 3 (green)
  [255, 127, 14], // 6 series 4 (orange)
  [148, 103, 189], // 7 series 5 (purple)
  [140, 86, 75], // 8 series 6 (brown)
  [227, 119, 194], // 9 series 7 (pink)
  [23, 190, 207], // 10 series 8 (cyan)
];
const SERIES_COLOURS = [3, 4, 5, 6, 7, 8, 9, 10];

class Bitmap {
  readonly pixels: Uint8Array;
  constructor(readonly width: number, readonly height: number) {
    this.pixels = new Uint8Array(width * height);
  }

  set(x: number, y: number, colour: number): void {
    if (x >= 0 && y >= 0 && x < this.width && y < this.height) this.pixels[Math.floor(y) * this.width + Math.floor(x)] = colour;
  }

  rect(x0: number, y0: number, x1: number, y1: number, colour: number): void {
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) this.set(x, y, colour);
  }

  /** Bresenham, `thick` pixels wide. */
  line(x0: number, y0: number, x1: number, y1: number, colour: number, thick = 1): void {
    [x0, y0, x1, y1] = [x0, y0, x1, y1].map(Math.round);
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      for (let t = 0; t < thick; t++) {
        this.set(x0, y0 + t, colour);
        this.set(x0 + t, y0, colour);
      }
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  text(x: number, y: number, text: string, colour: number, scale = 1): number {
    let at = x;
    for (const char of text) {
      for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
        for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
          if (glyphPixel(char, gx, gy)) this.rect(at + gx * scale, y + gy * scale, at + gx * scale + scale - 1, y + gy * scale + scale - 1, colour);
        }
      }
      at += (GLYPH_WIDTH + 1) * scale;
    }
    return at;
  }
}

export function textWidth(text: string, scale = 1): number {
  return [...text].length * (GLYPH_WIDTH + 1) * scale;
}

/** A "nice" top for the y axis: 1, 2 or 5 times a power of ten, at or above `max`. */
export function niceCeiling(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

export function renderLineChart(input: ChartInput): Uint8Array {
  const width = input.width ?? 720;
  const height = input.height ?? 300;
  const bitmap = new Bitmap(width, height);
  const values = input.series.flatMap((s) => s.values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)));
  const top = input.yMax ?? niceCeiling(Math.max(0, ...values));
  const labels = [0, 1, 2, 3, 4].map((i) => input.format((top * i) / 4));
  const left = 12 + Math.max(...labels.map((label) => textWidth(label)));
  const right = width - 14;
  const plotTop = 30;
  const plotBottom = height - 26;
  const n = input.times.length;
  const xAt = (i: number) => left + (n <= 1 ? 0 : ((right - left) * i) / (n - 1));
  const yAt = (v: number) => plotBottom - ((plotBottom - plotTop) * Math.min(Math.max(v, 0), top)) / top;

  // grid and y labels
  for (let i = 0; i <= 4; i++) {
    const y = Math.round(plotBottom - ((plotBottom - plotTop) * i) / 4);
    bitmap.line(left, y, right, y, i === 0 ? 1 : 2);
    bitmap.text(left - 6 - textWidth(labels[i]), y - 3, labels[i], 1);
  }
  bitmap.line(left, plotTop, left, plotBottom, 1);
  // time labels: about six, each under a tick
  const ticks = Math.min(6, Math.max(1, n - 1));
  let lastEnd = -Infinity;
  for (let t = 0; t <= ticks && n > 0; t++) {
    const i = Math.round(((n - 1) * t) / ticks);
    const x = Math.round(xAt(i));
    bitmap.line(x, plotBottom, x, plotBottom + 3, 1);
    const label = input.timeLabel(input.times[i]);
    const start = Math.min(Math.max(0, x - textWidth(label) / 2), width - textWidth(label));
    if (start > lastEnd + 4) {
      bitmap.text(start, plotBottom + 8, label, 1);
      lastEnd = start + textWidth(label);
    }
  }
  // series: a line between consecutive known values; a gap where a value is missing
  input.series.forEach((series, s) => {
    const colour = SERIES_COLOURS[s % SERIES_COLOURS.length];
    let previous: [number, number] | null = null;
    series.values.forEach((value, i) => {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        previous = null;
        return;
      }
      const point: [number, number] = [xAt(i), yAt(value)];
      if (previous) bitmap.line(previous[0], previous[1], point[0], point[1], colour, 2);
      else bitmap.rect(Math.round(point[0]), Math.round(point[1]), Math.round(point[0]) + 1, Math.round(point[1]) + 1, colour);
      previous = point;
    });
  });
  // legend, top left, at scale 2
  let x = left;
  input.series.forEach((series, s) => {
    const colour = SERIES_COLOURS[s % SERIES_COLOURS.length];
    bitmap.rect(x, 10, x + 14, 17, colour);
    x = bitmap.text(x + 20, 7, series.name, 1, 2) + 18;
  });
  return encodePalettePng(width, height, bitmap.pixels, PALETTE);
}
