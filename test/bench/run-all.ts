// `npm run bench`: every `*.bench.js` next to this file, each as its own process, one after the
// other (they measure latency, so they must not share the machine with each other), with bounded
// arguments and a time limit each. Reads each benchmark's bench-results/<name>.json, prints one
// summary table and writes bench-results/summary.json. A benchmark whose needs this machine does
// not meet (root, network namespaces, containerd, ...) is listed as skipped with the reason.
// Run: node dist/test/bench/run-all.js [--only name,name]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../helpers/paths.js';
import { tierRequirements, type TierName } from '../tier-requirements.js';
import type { SummaryRow } from './bench-stats.js';

interface BenchPlan {
  /** The test tier whose machine requirements this benchmark shares. */
  needs: TierName;
  /** Bounded so the whole run stays around ten minutes on two cores. */
  args: string[];
  timeoutMs: number;
}

const minute = 60_000;
const defaultPlan: BenchPlan = { needs: 'unit', args: [], timeoutMs: 5 * minute };
const plans: Record<string, BenchPlan> = {
  discovery: { needs: 'unit', args: ['--runs', '15', '--cli-runs', '15'], timeoutMs: 5 * minute },
  deviceplugin: { needs: 'unit', args: ['--calls', '1000', '--restarts', '10', '--flips', '10'], timeoutMs: 4 * minute },
  netlink: { needs: 'integration', args: ['--rounds', '100'], timeoutMs: 3 * minute },
  cni: { needs: 'integration', args: ['30'], timeoutMs: 4 * minute },
  runtimes: { needs: 'e2e', args: ['--rounds', '10'], timeoutMs: 6 * minute },
};

type Status = 'ran' | 'skipped' | 'failed' | 'timed out';

interface BenchOutcome {
  benchmark: string;
  status: Status;
  reason: string | null;
  exitCode: number | null;
  durationMs: number;
  rows: SummaryRow[];
}

const benchDir = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(repoRoot, 'bench-results');

function selectedNames(): string[] {
  const all = readdirSync(benchDir).filter((file) => file.endsWith('.bench.js')).map((file) => file.slice(0, -'.bench.js'.length)).sort();
  const index = process.argv.indexOf('--only');
  if (index === -1) return all;
  const wanted = (process.argv[index + 1] ?? '').split(',').filter((name) => name !== '');
  const unknown = wanted.filter((name) => !all.includes(name));
  if (wanted.length === 0 || unknown.length > 0) {
    throw new Error(`--only ${process.argv[index + 1] ?? ''}: name benchmarks among ${all.join(', ')}${unknown.length > 0 ? ` (unknown: ${unknown.join(', ')})` : ''}`);
  }
  return all.filter((name) => wanted.includes(name));
}

/** Runs one benchmark in its own process group, so a timeout also ends what it started. */
function runBench(file: string, args: string[], timeoutMs: number): Promise<{ exitCode: number | null; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { stdio: 'inherit', detached: true });
    let timedOut = false;
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // the group is already gone
      }
    };
    // The benchmark has its own process group, so Ctrl-C reaches it only through here.
    const interrupted = () => {
      signalGroup('SIGTERM');
      process.exit(130);
    };
    process.once('SIGINT', interrupted);
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), 10_000);
    }, timeoutMs);
    child.on('error', (error) => {
      process.removeListener('SIGINT', interrupted);
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code) => {
      process.removeListener('SIGINT', interrupted);
      clearTimeout(timer);
      if (killTimer !== undefined) clearTimeout(killTimer);
      resolve({ exitCode: code, timedOut });
    });
  });
}

function isSummaryRow(value: unknown): value is SummaryRow {
  if (typeof value !== 'object' || value === null) return false;
  const row = value as Record<string, unknown>;
  return typeof row['case'] === 'string' && typeof row['metric'] === 'string' && typeof row['nicplexMs'] === 'number' && typeof row['against'] === 'string' && typeof row['verdict'] === 'string';
}

/** The `summary` rows of bench-results/<name>.json, or the reason there are none. */
function readSummary(name: string): { rows: SummaryRow[] } | { problem: string } {
  const path = join(resultsDir, `${name}.json`);
  if (!existsSync(path)) return { problem: `wrote no ${path}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    return { problem: `${path} is not JSON: ${(error as Error).message}` };
  }
  const summary = (parsed as { summary?: unknown }).summary;
  if (!Array.isArray(summary) || !summary.every(isSummaryRow)) return { problem: `${path} has no summary array of rows (case, metric, nicplexMs, against, verdict)` };
  return { rows: summary };
}

async function runOne(name: string): Promise<BenchOutcome> {
  const plan = plans[name] ?? defaultPlan;
  const started = Date.now();
  const outcome = (status: Status, reason: string | null, exitCode: number | null, rows: SummaryRow[] = []): BenchOutcome => ({ benchmark: name, status, reason, exitCode, durationMs: Date.now() - started, rows });
  const unmet = await tierRequirements[plan.needs]();
  if (unmet !== null) return outcome('skipped', unmet, null);
  // A result left by an earlier run must not pass for this one.
  rmSync(join(resultsDir, `${name}.json`), { force: true });
  console.log(`\n=== ${name}: node ${join('dist', 'test', 'bench', `${name}.bench.js`)} ${plan.args.join(' ')} (limit ${plan.timeoutMs / 1000} s)`);
  const { exitCode, timedOut } = await runBench(join(benchDir, `${name}.bench.js`), plan.args, plan.timeoutMs);
  if (timedOut) return outcome('timed out', `no result within ${plan.timeoutMs / 1000} s`, exitCode);
  const summary = readSummary(name);
  // A benchmark exits 1 when it misses a goal; its rows then say which.
  if ('problem' in summary) return outcome('failed', `exit code ${exitCode}; ${summary.problem}`, exitCode);
  return outcome('ran', null, exitCode, summary.rows);
}

function fixedOrDash(value: number | null, digits = 1): string {
  return value === null || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

function printTable(outcomes: BenchOutcome[], loadBefore: number[], loadAfter: number[]): void {
  const header = ['benchmark', 'case', 'metric', 'nicplex ms', 'reference / goal', 'ref ms', 'ratio', 'verdict'];
  const lines: string[][] = [];
  for (const outcome of outcomes) {
    if (outcome.status !== 'ran') {
      lines.push([outcome.benchmark, '-', '-', '-', '-', '-', '-', `${outcome.status}: ${outcome.reason ?? ''}`]);
      continue;
    }
    if (outcome.rows.length === 0) lines.push([outcome.benchmark, '-', '-', '-', '-', '-', '-', 'no rows']);
    for (const row of outcome.rows) {
      lines.push([outcome.benchmark, row.case, row.metric, fixedOrDash(row.nicplexMs, 2), row.against, fixedOrDash(row.referenceMs, 2), row.ratio === null ? '-' : `${row.ratio.toFixed(2)}x`, row.verdict]);
    }
  }
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => (line[column] ?? '').length)));
  const numeric = new Set([3, 5, 6]);
  const render = (cells: string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : numeric.has(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0))).join('  ');
  const load = (values: number[]) => values.map((value) => value.toFixed(2)).join(' ');
  console.log(`\nbenchmark summary (load average before: ${load(loadBefore)}; after: ${load(loadAfter)}; node ${process.version})`);
  console.log(render(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const line of lines) console.log(render(line));
}

async function main(): Promise<void> {
  const names = selectedNames();
  mkdirSync(resultsDir, { recursive: true });
  const loadBefore = loadavg();
  const started = Date.now();
  const outcomes: BenchOutcome[] = [];
  for (const name of names) outcomes.push(await runOne(name));
  const loadAfter = loadavg();
  printTable(outcomes, loadBefore, loadAfter);
  const summaryPath = join(resultsDir, 'summary.json');
  writeFileSync(summaryPath, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, durationMs: Date.now() - started, loadAverageBefore: loadBefore, loadAverageAfter: loadAfter, benchmarks: outcomes }, null, 2)}\n`);
  console.log(`wrote ${summaryPath} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  const failed = outcomes.filter((outcome) => outcome.status === 'failed' || outcome.status === 'timed out');
  const missed = outcomes.flatMap((outcome) => outcome.rows).filter((row) => row.verdict === 'MISSED');
  if (failed.length > 0 || missed.length > 0) process.exitCode = 1;
}

try {
  await main();
} catch (error) {
  process.stderr.write(`run-all: ${(error as Error).message}\n`);
  process.exitCode = 2;
}
