// Statistics and the markdown table the bench prints.

export interface Row {
  readonly figure: string;
  readonly proxy: number;
  readonly direct?: number;
  readonly digits: number;
  readonly target?: string;
  /** Whether the target is met in this run (only when there is a target). */
  readonly met?: boolean;
  /** 1-minute load average when the phase started. */
  readonly load?: string;
  readonly note?: string;
}

/** Nearest-rank percentile. */
export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const median = (xs: readonly number[]): number => percentile(xs, 50);

const fmt = (x: number | undefined, digits: number): string => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));

export function formatTable(rows: readonly Row[]): string {
  const lines = [
    '| Figure | Proxy | Direct | Ratio | Target | Met | Load | Notes |',
    '|---|--:|--:|--:|---|---|--:|---|',
  ];
  for (const r of rows) {
    const ratio = r.direct ? `${(r.proxy / r.direct).toFixed(2)}×` : '–';
    const met = r.met === undefined ? '' : r.met ? 'yes' : '**no**';
    lines.push(`| ${r.figure} | ${fmt(r.proxy, r.digits)} | ${fmt(r.direct, r.digits)} | ${ratio} | ${r.target ?? ''} | ${met} | ${r.load ?? ''} | ${r.note ?? ''} |`);
  }
  return lines.join('\n');
}
