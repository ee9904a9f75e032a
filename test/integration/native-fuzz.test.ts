// Builds the libFuzzer target over the netlink parser with ASan+UBSan and runs it for a bounded time
// from the seed corpus: no crash, no leak, no undefined behaviour.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const seconds = Number(process.env['NICPLEX_FUZZ_SECONDS'] ?? 20);
// Building with sanitizers plus the run take longer than tap's default 30 s per file.
t.setTimeout(120_000);

t.test('netlink parser fuzzer: builds with sanitizers and runs without findings', { timeout: 110_000 }, async (tt) => {
  const clang = spawnSync('clang++', ['--version'], { encoding: 'utf8' });
  if (clang.status !== 0) {
    tt.fail('clang++ is missing (test/setup.sh installs clang and libclang-rt-14-dev)');
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'npx-fuzz-'));
  tt.teardown(() => rmSync(work, { recursive: true, force: true }));
  const binary = join(work, 'netlink_fuzzer');
  const build = spawnSync('clang++', [
    '-std=c++17', '-g', '-O1', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=undefined',
    '-I', join(repoRoot, 'native', 'src'),
    join(repoRoot, 'native', 'fuzz', 'netlink_fuzzer.cc'), join(repoRoot, 'native', 'src', 'nl_wire.cc'),
    '-o', binary,
  ], { encoding: 'utf8', timeout: 90_000 });
  tt.equal(build.status, 0, `fuzzer builds${build.status === 0 ? '' : `: ${build.stderr}`}`);
  if (build.status !== 0) return;

  // libFuzzer adds new inputs to the first corpus directory: a scratch copy, so the seeds stay as committed.
  const corpus = join(work, 'corpus');
  cpSync(join(repoRoot, 'native', 'fuzz', 'corpus'), corpus, { recursive: true });
  const seedCount = readdirSync(corpus).length;
  tt.ok(seedCount >= 10, `seed corpus has ${seedCount} inputs`);
  const run = spawnSync(binary, [
    `-max_total_time=${seconds}`, '-rss_limit_mb=1024', '-timeout=5', `-artifact_prefix=${work}/`, '-print_final_stats=1', corpus,
  ], { encoding: 'utf8', timeout: (seconds + 60) * 1000, env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1', UBSAN_OPTIONS: 'print_stacktrace=1' } });
  const output = `${run.stdout}${run.stderr}`;
  const findings = readdirSync(work).filter((name) => /^(crash|leak|timeout|oom)-/.test(name));
  tt.same(findings, [], 'no crash, leak, timeout or OOM artifacts');
  tt.equal(run.status, 0, `fuzzer exits 0${run.status === 0 ? '' : `\n${output.slice(-3000)}`}`);
  const runs = /stat::number_of_executed_units:\s*(\d+)/.exec(output);
  tt.ok(runs && Number(runs[1]) > 1000, `executed ${runs?.[1] ?? '?'} inputs in ${seconds} s`);
});
