/** What every scenario gets and gives back. */

export interface BenchContext {
  smoke: boolean;
  log(message: string): void;
}

export interface Row {
  /** What was measured (one line of the targets table). */
  what: string;
  target: string;
  measured: string;
  /** null: not judged (informational, or the tool it needs is not there yet). */
  met: boolean | null;
  note?: string;
}

export interface ScenarioResult {
  rows: Row[];
  /** Everything else worth keeping (raw summaries, per-endpoint counts...), written to the JSON report. */
  details: Record<string, unknown>;
}

export interface Scenario {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<ScenarioResult>;
}

export function fmtMs(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(1)} ms`;
}
