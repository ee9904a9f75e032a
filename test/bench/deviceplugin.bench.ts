// Device plugin ↔ kubelet stand-in over real unix sockets:
// The plugin is the real `nicplex deviceplugin` process on a fake sysfs (E810, 64 VFs on vfio-pci);
// this process is the kubelet.
//  1. Allocate latency (p50/p99 of N calls), each writing its device-info file (atomic + fsync),
//     with the devinfo dir on tmpfs as in production (/var/run);
//  2. time from a simulated kubelet restart to re-registration (list complete and healthy again);
//  3. time from a link going down in sysfs (operstate) to the kubelet seeing Unhealthy.
// There is no reference binary to run here (the SR-IOV device plugin is Go and not installed), so
// no side-by-side ratio: the figures are compared with the goals.
// Run: node dist/test/bench/deviceplugin.bench.js [--calls N] [--restarts N] [--flips N]
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFakeHost } from '../helpers/fake-sysfs.js';
import { KubeletStandin } from '../helpers/kubelet-standin.js';
import { intelE810 } from '../helpers/nic-models.js';
import { spawnDevicePlugin } from '../helpers/dp-cli.js';
import { repoRoot } from '../helpers/paths.js';
import { goalRow, infoRow, numberArgument, percentile } from './bench-stats.js';

interface Stats { n: number; p50: number; p99: number; max: number }
function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return { n: sorted.length, p50: round(percentile(sorted, 0.5)), p99: round(percentile(sorted, 0.99)), max: round(sorted[sorted.length - 1] ?? Number.NaN) };
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

async function allocateLatency(kubelet: KubeletStandin, ids: string[], calls: number): Promise<Stats> {
  for (let i = 0; i < 50; i++) await kubelet.allocateIds(RESOURCE, [ids[i % ids.length]!]); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const started = nowMs();
    await kubelet.allocateIds(RESOURCE, [ids[i % ids.length]!]);
    samples.push(nowMs() - started);
  }
  return stats(samples);
}

/** The same round trip with no work on the server: the machine's floor for any unary call. */
async function emptyRoundTrip(kubelet: KubeletStandin, calls: number): Promise<Stats> {
  for (let i = 0; i < 50; i++) await kubelet.getDevicePluginOptions(RESOURCE);
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const started = nowMs();
    await kubelet.getDevicePluginOptions(RESOURCE);
    samples.push(nowMs() - started);
  }
  return stats(samples);
}

async function restartToRegistration(kubelet: KubeletStandin, deviceCount: number, restarts: number): Promise<Stats> {
  const samples: number[] = [];
  for (let i = 0; i < restarts; i++) {
    const before = kubelet.resource(RESOURCE)!.generation;
    const started = nowMs();
    await kubelet.restart();
    await kubelet.waitFor(RESOURCE, (v) => !!v && v.connected && v.generation > before && v.devices.filter((d) => d.health === 'Healthy').length === deviceCount, 5000, 're-registration');
    samples.push(nowMs() - started);
  }
  return stats(samples);
}

async function healthChangeSeen(kubelet: KubeletStandin, operstate: string, deviceCount: number, flips: number): Promise<Stats> {
  const samples: number[] = [];
  for (let i = 0; i < flips; i++) {
    const down = i % 2 === 0;
    // Start at a random point of the 250 ms poll period so the samples cover it evenly.
    await new Promise((r) => setTimeout(r, Math.random() * 250));
    const started = nowMs();
    writeFileSync(operstate, down ? 'down\n' : 'up\n');
    await kubelet.waitFor(RESOURCE, (v) => (v?.devices ?? []).filter((d) => d.health === 'Healthy').length === (down ? 0 : deviceCount), 5000, 'health change');
    samples.push(nowMs() - started);
  }
  return stats(samples);
}

const RESOURCE = 'intel.com/e810';

async function main(): Promise<void> {
  const calls = numberArgument('--calls', 1000);
  const restarts = numberArgument('--restarts', 20);
  const flips = numberArgument('--flips', 20);
  const vfCount = 64;
  const host = buildFakeHost({ pci: intelE810({ numVfs: vfCount, vfioVfs: Array.from({ length: vfCount }, (_, i) => i) }) });
  // Device-info files on tmpfs, as /var/run is in production.
  const devinfoRoot = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/npx-dp-bench-') : mkdtempSync(join(tmpdir(), 'npx-dp-bench-'));
  const dpDir = join(host.root, 'device-plugins');
  mkdirSync(dpDir);
  const configPath = join(host.root, 'config.json');
  writeFileSync(configPath, JSON.stringify({ resourceList: [{ resourceName: 'e810', selectors: { devices: ['1889'] } }] }));
  const kubelet = await KubeletStandin.start({ dir: dpDir, podResourcesDir: null });
  const plugin = spawnDevicePlugin([
    '--config', configPath, '--sysfs-root', host.sysfsRoot, '--proc-root', host.procRoot, '--dev-root', host.devRoot,
    '--device-plugin-dir', dpDir, '--devinfo-dir', join(devinfoRoot, 'dp'), '--pci-ids', 'none', '--log-level', 'warn', '--link-state', 'sysfs',
  ]);
  try {
    const view = await kubelet.waitForHealthy(RESOURCE, vfCount, 20_000);
    const ids = view!.devices.map((d) => d.ID);
    const floor = await emptyRoundTrip(kubelet, calls);
    const alloc = await allocateLatency(kubelet, ids, calls);
    const restart = await restartToRegistration(kubelet, vfCount, restarts);
    const health = await healthChangeSeen(kubelet, join(host.sysfsRoot, 'class', 'net', 'ens1f0', 'operstate'), vfCount, flips);
    const rows: Array<[string, Stats, string, boolean]> = [
      ['GetDevicePluginOptions, empty (ms)', floor, '(floor: gRPC round trip)', true],
      ['Allocate, 1 VF + device-info file (ms)', alloc, 'p99 < 2 ms', alloc.p99 < 2],
      ['kubelet restart -> re-registered (ms)', restart, 'max < 1000 ms', restart.max < 1000],
      ['sysfs link change -> kubelet (ms)', health, 'max < 1000 ms', health.max < 1000],
    ];
    const load = loadavg().map((v) => v.toFixed(1)).join(' ');
    console.log(`nicplex deviceplugin (separate process) <-> kubelet stand-in over unix sockets; ${vfCount} vfio VFs; load average ${load}`);
    console.log('No reference binary is available here (the Go sriov-network-device-plugin is not installed): no side-by-side ratio.');
    console.log('measurement                                n      p50      p99      max   goal');
    for (const [name, s, goal, met] of rows) {
      const verdict = goal.startsWith('(') ? '' : met ? 'met' : 'MISSED';
      console.log(`${name.padEnd(42)} ${String(s.n).padStart(4)} ${s.p50.toFixed(3).padStart(8)} ${s.p99.toFixed(3).padStart(8)} ${s.max.toFixed(3).padStart(8)}   ${goal} ${verdict}`);
    }
    const outDir = join(repoRoot, 'bench-results');
    mkdirSync(outDir, { recursive: true });
    const outFile = join(outDir, 'deviceplugin.json');
    writeFileSync(outFile, `${JSON.stringify({
      benchmark: 'deviceplugin', date: new Date().toISOString(), node: process.version, loadAverage: loadavg(),
      reference: 'none available (the Go sriov-network-device-plugin is not installed here)',
      emptyRoundTripMs: floor,
      allocateMs: { ...alloc, goalP99: 2, devinfoDir: 'tmpfs' },
      restartToRegistrationMs: { ...restart, goalMax: 1000 },
      healthChangeSeenMs: { ...health, source: 'sysfs operstate, 250 ms poll', goalMax: 1000 },
      summary: [
        infoRow('GetDevicePluginOptions, empty', 'p50', floor.p50, 'floor: gRPC round trip'),
        goalRow('Allocate, 1 VF + device-info file', 'p99', alloc.p99, 2),
        goalRow('kubelet restart -> re-registered', 'max', restart.max, 1000),
        goalRow('sysfs link change -> kubelet', 'max', health.max, 1000),
      ],
    }, null, 2)}\n`);
    console.log(`wrote ${outFile}`);
  } catch (error) {
    console.error(plugin.stderr());
    throw error;
  } finally {
    const code = await plugin.stop();
    if (code !== 0) console.error(`plugin exited with ${code}:\n${plugin.stderr()}`);
    await kubelet.stop();
    rmSync(devinfoRoot, { recursive: true, force: true });
    host.cleanup();
  }
}

await main();
