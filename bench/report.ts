/** Sample statistics and the plain-text tables the runner prints (also valid Markdown). */

/** Nearest-rank percentile of a sample (p in 0..100); NaN for an empty sample. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export const median = (samples: readonly number[]) => percentile(samples, 50);
export const p99 = (samples: readonly number[]) => percentile(samples, 99);

/** Milliseconds elapsed since `start` (a process.hrtime.bigint() reading). */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
  /** Lines printed under the table: what was measured, targets, caveats. */
  notes: string[];
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return Math.round(ms).toLocaleString('en-US');
}

export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

/** "3.2×" (how many times `baseline` is `value`), for "x times faster/slower" columns. */
export function fmtRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return '–';
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(2)}×`;
}

export function renderTable(table: Table): string {
  const cells = [table.columns, ...table.rows.map((row) => row.map(String))];
  const widths = table.columns.map((_, c) => Math.max(...cells.map((row) => (row[c] ?? '').length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [`### ${table.title}`, '', line(cells[0]!), rule, ...cells.slice(1).map(line), '', ...table.notes.map((n) => `- ${n}`)]
    .join('\n')
    .trimEnd();
}

/** Rotated by `by`, so that no system always runs first (or last) on a warming machine. */
export function rotate<T>(items: readonly T[], by: number): T[] {
  return items.map((_, i) => items[(i + by) % items.length]!);
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export const stats = (values: number[]): Spread => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });

/** "0.48× (0.46–0.53×)": a median ratio with its min–max. */
export const fmtRange = ({ median: m, min, max }: Spread) => `${fmtRatio(m)} (${fmtRatio(min).replace('×', '')}–${fmtRatio(max)})`;

export const round2 = (n: number) => Math.round(n * 100) / 100;
export const round3 = (n: number) => Math.round(n * 1000) / 1000;
export const roundOptional = (n: number | null) => (n === null ? null : round3(n));
export const fmtOptionalMs = (n: number | null) => (n === null ? '–' : fmtMs(n));
export const fmtOptionalCores = (n: number | null) => (n === null ? '–' : n.toFixed(2));
