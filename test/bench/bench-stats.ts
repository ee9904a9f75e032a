// Numbers every benchmark needs: its command-line counts, nearest-rank percentiles, and the summary
// rows every bench writes into its bench-results/<name>.json for `npm run bench` (run-all.js).

/** `--name N` from argv as a positive number, else `fallback`. */
export function numberArgument(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  const value = index === -1 ? Number.NaN : Number(process.argv[index + 1]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** Nearest-rank percentile of an ascending array; NaN when it is empty. */
export function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ?? Number.NaN;
}

/** The middle value (mean of the two middle ones for an even count) of unsorted samples. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

export interface LatencyStats { n: number; medianMs: number; p95Ms: number; p99Ms: number; minMs: number; maxMs: number }

export function latencyStats(samples: readonly number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    medianMs: percentile(sorted, 0.5),
    p95Ms: percentile(sorted, 0.95),
    p99Ms: percentile(sorted, 0.99),
    minMs: sorted[0] ?? Number.NaN,
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/**
 * One line of the summary table: one nicplex figure and what it is judged against, either a
 * reference implementation measured in the same run (ratio, no pass/fail) or a goal (met/MISSED).
 */
export interface SummaryRow {
  case: string;
  /** Which statistic nicplexMs (and referenceMs) is: 'median', 'p99', 'max', ... */
  metric: string;
  nicplexMs: number;
  /** What nicplexMs is compared with, e.g. "reference bridge+macvlan" or "goal < 150 ms". */
  against: string;
  /** The reference's same statistic, or the goal's bound; null when there is nothing to compare with. */
  referenceMs: number | null;
  /** nicplexMs / referenceMs. */
  ratio: number | null;
  verdict: 'met' | 'MISSED' | 'faster' | 'slower' | 'info';
}

/** A figure with an upper bound: met when nicplexMs < goalMs. */
export function goalRow(name: string, metric: string, nicplexMs: number, goalMs: number): SummaryRow {
  return { case: name, metric, nicplexMs, against: `goal < ${goalMs} ms`, referenceMs: goalMs, ratio: nicplexMs / goalMs, verdict: nicplexMs < goalMs ? 'met' : 'MISSED' };
}

/** A figure measured next to a reference implementation doing the same work. */
export function referenceRow(name: string, metric: string, nicplexMs: number, reference: string, referenceMs: number): SummaryRow {
  return { case: name, metric, nicplexMs, against: reference, referenceMs, ratio: nicplexMs / referenceMs, verdict: nicplexMs <= referenceMs ? 'faster' : 'slower' };
}

/** A figure shown for context (a floor, a variant) with nothing to judge it against. */
export function infoRow(name: string, metric: string, nicplexMs: number, note: string): SummaryRow {
  return { case: name, metric, nicplexMs, against: note, referenceMs: null, ratio: null, verdict: 'info' };
}
