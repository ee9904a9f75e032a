// Cold discovery on fake sysfs trees: 8 PFs × 128 VFs and 2 PFs × 256 VFs (1024 VFs each).
// Each run is a fresh discover() call (nothing cached between runs; the tree is in the page
// cache, as /sys always is). Also times the reference plugin's VF-index algorithm (re-read every
// virtfnN link of the PF for each VF, O(VF²) per PF) on the same tree, and the whole command as a
// user pays it: `nicplex discover --output json` spawned on the tree and on an empty tree,
// interleaved, and the difference of the medians (what the devices cost on top of starting Node,
// loading the modules and parsing the config).
// Run: node dist/test/bench/discovery.bench.js [--runs N] [--cli-runs N]   (writes bench-results/discovery.json)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { parseDevicePluginConfig } from '../../config/deviceplugin-config.js';
import { discoverSync } from '../../deviceplugin/discovery/index.js';
import { buildFakeHost, type FakeHost, type FakePciFunction } from '../helpers/fake-sysfs.js';
import { intelE810 } from '../helpers/nic-models.js';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { goalRow, latencyStats, median, numberArgument, percentile, type LatencyStats, type SummaryRow } from './bench-stats.js';

interface Layout {
  name: string;
  pfs: number;
  vfsPerPf: number;
}

const layouts: Layout[] = [
  { name: '8 PFs x 128 VFs', pfs: 8, vfsPerPf: 128 },
  { name: '2 PFs x 256 VFs', pfs: 2, vfsPerPf: 256 },
];
const goalMs = 150;

interface Timing {
  medianMs: number;
  p95Ms: number;
  minMs: number;
  /** CPU time (user + system) of this process per run, median: less disturbed by other load on a shared machine. */
  cpuMedianMs: number;
}

function summarize(wall: number[], cpu: number[]): Timing {
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return { medianMs: percentile(wall, 0.5), p95Ms: percentile(wall, 0.95), minMs: wall[0] ?? Number.NaN, cpuMedianMs: percentile(cpu, 0.5) };
}

function time(runs: number, work: () => void): Timing {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < runs; run++) {
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    work();
    wall.push(Number(process.hrtime.bigint() - started) / 1e6);
    const used = process.cpuUsage(cpuBefore);
    cpu.push((used.user + used.system) / 1000);
  }
  return summarize(wall, cpu);
}

async function timeAsync(runs: number, work: () => Promise<unknown>): Promise<Timing> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < runs; run++) {
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    await work();
    wall.push(Number(process.hrtime.bigint() - started) / 1e6);
    const used = process.cpuUsage(cpuBefore);
    cpu.push((used.user + used.system) / 1000);
  }
  return summarize(wall, cpu);
}

/**
 * Why discovery reads synchronously: the same read pattern (readdir of every device dir plus two
 * attribute files) done with sync calls and with fs/promises under Promise.all.
 */
async function syncVersusAsync(sysfsRoot: string, runs: number): Promise<{ sync: Timing; asyncBatched: Timing }> {
  const root = join(sysfsRoot, 'bus', 'pci', 'devices');
  const addresses = readdirSync(root);
  const sync = time(runs, () => {
    for (const address of addresses) {
      readdirSync(`${root}/${address}`);
      readFileSync(`${root}/${address}/uevent`, 'latin1');
      readFileSync(`${root}/${address}/numa_node`, 'latin1');
    }
  });
  const asyncBatched = await timeAsync(runs, () => Promise.all(addresses.map((address) => Promise.all([
    readdir(`${root}/${address}`), readFile(`${root}/${address}/uevent`, 'latin1'), readFile(`${root}/${address}/numa_node`, 'latin1'),
  ]))));
  return { sync, asyncBatched };
}

/** Wall time of one `nicplex discover --output json` process (stdout discarded, as into a file), in ms. */
function discoverCommandMs(host: FakeHost, configPath: string): number {
  const started = process.hrtime.bigint();
  const child = spawnSync(process.execPath, [cliPath, 'discover', '--config', configPath, '--sysfs-root', host.sysfsRoot, '--proc-root', host.procRoot, '--output', 'json'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (child.status !== 0) throw new Error(`nicplex discover on ${host.sysfsRoot} exited with ${child.status}: ${child.stderr}`);
  return elapsed;
}

interface WholeCommand {
  runs: number;
  emptyTreeMs: LatencyStats;
  treeMs: LatencyStats;
  /** Median on the tree minus median on the empty tree: what the devices add to the command. */
  extraMedianMs: number;
}

/** The whole command on `host` and on `empty`, alternating (both see the same machine load), after one warm-up each. */
function wholeCommand(host: FakeHost, empty: FakeHost, configPath: string, runs: number): WholeCommand {
  discoverCommandMs(empty, configPath);
  discoverCommandMs(host, configPath);
  const emptyWall: number[] = [];
  const treeWall: number[] = [];
  for (let run = 0; run < runs; run++) {
    emptyWall.push(discoverCommandMs(empty, configPath));
    treeWall.push(discoverCommandMs(host, configPath));
  }
  return { runs, emptyTreeMs: latencyStats(emptyWall), treeMs: latencyStats(treeWall), extraMedianMs: median(treeWall) - median(emptyWall) };
}

function buildLayout(layout: Layout): FakeHost {
  const functions: FakePciFunction[] = [];
  for (let pf = 0; pf < layout.pfs; pf++) {
    functions.push(...intelE810({ bus: (0x10 + pf * 2).toString(16), pfNetdev: `ens${pf + 1}f0`, numVfs: layout.vfsPerPf, vfioVfs: [0, 1, 2, 3], iommuGroupBase: 1000 * (pf + 1) }));
  }
  return buildFakeHost({ pci: functions, ipv4DefaultRoutes: ['eno1'] });
}

/** The reference plugin's way to find a VF's index: list the PF's virtfnN links and read each until one points at the VF. */
function referenceStyleVfIndexes(sysfsRoot: string): number {
  const devicesDir = join(sysfsRoot, 'bus', 'pci', 'devices');
  let found = 0;
  for (const address of readdirSync(devicesDir)) {
    let pf: string;
    try {
      pf = basename(readlinkSync(join(devicesDir, address, 'physfn')));
    } catch {
      continue;
    }
    for (const entry of readdirSync(join(devicesDir, pf))) {
      if (entry.startsWith('virtfn') && basename(readlinkSync(join(devicesDir, pf, entry))) === address) {
        found++;
        break;
      }
    }
  }
  return found;
}

async function main(): Promise<void> {
  const runs = numberArgument('--runs', 15);
  const cliRuns = numberArgument('--cli-runs', 15);
  const { config } = parseDevicePluginConfig(JSON.stringify({
    resourceList: [
      { resourceName: 'e810_netdevice', selectors: { vendors: ['8086'], devices: ['1889'], drivers: ['iavf'] } },
      { resourceName: 'e810_dpdk', selectors: { vendors: ['8086'], drivers: ['vfio-pci'], pfNames: ['ens1f0#0-3', 'ens2f0#0-3'] } },
    ],
  }), 'bench.json', { defaultPrefix: 'intel.com' });

  const results = [];
  const empty = buildFakeHost({ pci: [], ipv4DefaultRoutes: ['eno1'] });
  try {
    for (const layout of layouts) {
      const host = buildLayout(layout);
      try {
        const configPath = join(host.root, 'config.json');
        writeFileSync(configPath, JSON.stringify({ resourceList: [{ resourceName: 'e810', selectors: { devices: ['1889'] } }] }));
        const options = { sysfsRoot: host.sysfsRoot, procRoot: host.procRoot, devRoot: host.devRoot, config };
        const check = discoverSync(options);
        const vfCount = check.devices.filter((device) => device.vfIndex >= 0).length;
        if (vfCount !== layout.pfs * layout.vfsPerPf) throw new Error(`expected ${layout.pfs * layout.vfsPerPf} VFs, discovered ${vfCount}`);
        const withNames = time(runs, () => discoverSync(options));
        const withoutNames = time(runs, () => discoverSync({ ...options, pciIdsPath: null }));
        const referenceVfIndex = time(Math.max(3, Math.floor(runs / 3)), () => referenceStyleVfIndexes(host.sysfsRoot));
        const command = wholeCommand(host, empty, configPath, cliRuns);
        const readPattern = await syncVersusAsync(host.sysfsRoot, Math.max(3, Math.floor(runs / 3)));
        results.push({ layout: layout.name, devices: check.devices.length, vfs: vfCount, runs, discoverMs: withNames, discoverNoNamesMs: withoutNames, referenceVfIndexOnlyMs: referenceVfIndex, wholeCommand: command, readPattern });
      } finally {
        host.cleanup();
      }
    }
  } finally {
    empty.cleanup();
  }

  const fixed = (value: number) => value.toFixed(1).padStart(7);
  const load = loadavg().map((value) => value.toFixed(1)).join(' ');
  console.log(`cold discovery: wall median / p95 and CPU median of ${runs} runs, in ms (goal: 1024 VFs < ${goalMs} ms); load average ${load} on ${process.platform}`);
  console.log('layout            devices  VFs   discover wall   p95     min     CPU  | no names wall  CPU | ref VF-index alone  ratio | reads sync / async');
  for (const result of results) {
    const ratio = result.referenceVfIndexOnlyMs.medianMs / result.discoverMs.medianMs;
    console.log(
      `${result.layout.padEnd(16)} ${String(result.devices).padStart(8)} ${String(result.vfs).padStart(5)}  ${fixed(result.discoverMs.medianMs)} ${fixed(result.discoverMs.p95Ms)} ${fixed(result.discoverMs.minMs)} ${fixed(result.discoverMs.cpuMedianMs)} | ${fixed(result.discoverNoNamesMs.medianMs)} ${fixed(result.discoverNoNamesMs.cpuMedianMs)} | ${fixed(result.referenceVfIndexOnlyMs.medianMs)}  ${ratio.toFixed(1).padStart(8)}x | ${fixed(result.readPattern.sync.medianMs)} / ${fixed(result.readPattern.asyncBatched.medianMs)}`,
    );
  }
  console.log('');
  console.log(`whole command \`nicplex discover --output json\`, spawned, ${cliRuns} runs per tree alternating with the empty tree (ms; goal: extra < ${goalMs} ms)`);
  console.log('layout            in-process discover median | empty tree median   tree median   extra (tree - empty)  goal   verdict');
  for (const result of results) {
    const command = result.wholeCommand;
    console.log(`${result.layout.padEnd(16)} ${fixed(result.discoverMs.medianMs).padStart(27)} | ${fixed(command.emptyTreeMs.medianMs).padStart(17)} ${fixed(command.treeMs.medianMs).padStart(13)} ${fixed(command.extraMedianMs).padStart(21)}  ${String(goalMs).padStart(4)}   ${command.extraMedianMs < goalMs ? 'met' : 'MISSED'}`);
  }
  console.log("ref VF-index alone = the reference plugin's O(VF²) per-VF virtfn scan, emulated on the same tree (VF index only, nothing else); ratio = that / our whole discovery.");
  console.log('reads sync / async = readdir + 2 attribute reads per device, sync vs fs/promises under Promise.all (why discovery reads synchronously).');
  console.log('CPU = user+system time of this process per run (median); on a loaded shared machine it tracks the work better than wall time, and min wall is the least-disturbed run.');
  const outDir = join(repoRoot, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, 'discovery.json');
  const summary: SummaryRow[] = results.flatMap((result) => [
    goalRow(`discover in-process, ${result.layout}`, 'median', result.discoverMs.medianMs, goalMs),
    goalRow(`discover command extra over empty tree, ${result.layout}`, 'median', result.wholeCommand.extraMedianMs, goalMs),
  ]);
  writeFileSync(outFile, `${JSON.stringify({ benchmark: 'discovery', date: new Date().toISOString(), node: process.version, loadAverage: loadavg(), goalMs, results, summary }, null, 2)}\n`);
  console.log(`wrote ${outFile}`);
  for (const row of summary.filter((candidate) => candidate.verdict === 'MISSED')) {
    console.log(`GOAL MISSED: ${row.case}: median ${row.nicplexMs.toFixed(1)} ms >= ${goalMs} ms`);
    process.exitCode = 1;
  }
}

await main();
