// Pod sandbox create + remove through containerd 1.6's CRI plugin (RunPodSandbox, then
// StopPodSandbox + RemovePodSandbox), with three CNI setups side by side: the reference bridge
// plugin as containerd's CNI, nicplex (thin mode, standalone) delegating to that same bridge, and
// nicplex with the bridge plus a macvlan NAD selected by the pod annotation. One containerd per
// setup, each in its own node netns; rounds are interleaved so all three see the same machine load.
// Run (root): node dist/test/bench/runtimes.bench.js [--rounds N]   (writes bench-results/runtimes.json)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { podSandboxConfig } from '../helpers/cri-client.js';
import { bridgeNetworkConfig, writeJsonFile } from '../e2e/harness/cni-dirs.js';
import { prepareContainerd, runSandbox, type ContainerdFixture } from '../e2e/harness/containerd-fixture.js';
import type { ContainerdInstance } from '../e2e/harness/containerd.js';
import { clusterDelegate, networksAnnotation, nicplexConf, nicplexLayout, subnetsFor, writeNadFile } from '../e2e/harness/nicplex-networks.js';
import { latencyStats as stats, numberArgument, referenceRow, type LatencyStats as Stats } from './bench-stats.js';

interface Setup {
  label: string;
  fixture: ContainerdFixture;
  containerd?: ContainerdInstance;
  annotations: Record<string, string>;
  expectNet1: boolean;
  run: number[];
  stopRemove: number[];
  total: number[];
}

const teardowns: Array<() => unknown> = [];
const collector = { teardown: (fn: () => unknown) => void teardowns.push(fn) };

async function bridgeOnly(): Promise<Setup> {
  const subnets = subnetsFor(100);
  const fixture = await prepareContainerd(collector, 'bra', subnets.masterPeerCidr);
  writeJsonFile(
    join(fixture.cniConfDir, '10-bridge.conf'),
    bridgeNetworkConfig({ name: 'npx-bench-cluster', bridge: `npxbr${process.pid}`.slice(0, 15), subnet: subnets.cluster, ipamDataDir: fixture.ipamDataDir }),
  );
  return { label: 'bridge (reference, direct)', fixture, annotations: {}, expectNet1: false, run: [], stopRemove: [], total: [] };
}

async function nicplexSetup(tag: string, thirdOctet: number, withNad: boolean): Promise<Setup> {
  const subnets = subnetsFor(thirdOctet);
  const fixture = await prepareContainerd(collector, tag, subnets.masterPeerCidr);
  const layout = nicplexLayout(fixture.workDir, fixture.node, subnets, fixture.ipamDataDir, tag.slice(-1));
  writeNadFile(layout, 'bench');
  // Logging off: the measurement is the CNI path, not log writes.
  const conf = nicplexConf(layout, fixture.cniBinDir, [clusterDelegate(layout, subnets, fixture.ipamDataDir)], { standalone: true }, {
    capabilities: { 'io.kubernetes.cri.pod-annotations': true },
    logLevel: 'error',
  });
  writeJsonFile(join(fixture.cniConfDir, '00-multus.conf'), conf);
  return {
    label: withNad ? 'nicplex: bridge + macvlan NAD' : 'nicplex: bridge only',
    fixture,
    annotations: withNad ? { [networksAnnotation]: layout.nadName } : {},
    expectNet1: withNad,
    run: [],
    stopRemove: [],
    total: [],
  };
}

async function oneRound(setup: Setup, round: number): Promise<void> {
  const containerd = setup.containerd!;
  const pod = { name: `bench-${round}`, namespace: 'bench', uid: `uid-bench-${process.pid}-${round}` };
  const logDirectory = join(setup.fixture.workDir, 'pod-logs', pod.name);
  mkdirSync(logDirectory, { recursive: true });
  const started = process.hrtime.bigint();
  const id = await containerd.cri.runPodSandbox(podSandboxConfig(pod, { annotations: setup.annotations, logDirectory }));
  const running = process.hrtime.bigint();
  await containerd.cri.stopPodSandbox(id);
  await containerd.cri.removePodSandbox(id);
  const removed = process.hrtime.bigint();
  setup.run.push(Number(running - started) / 1e6);
  setup.stopRemove.push(Number(removed - running) / 1e6);
  setup.total.push(Number(removed - started) / 1e6);
}

async function main(): Promise<void> {
  const rounds = numberArgument('--rounds', 20);
  const setups = [await bridgeOnly(), await nicplexSetup('nbo', 102, false), await nicplexSetup('nbn', 104, true)];
  for (const setup of setups) setup.containerd = await setup.fixture.start();
  // Warm-up, and proof that each setup wires what its label says (net1 only with the NAD).
  for (const setup of setups) {
    const sandbox = await runSandbox(setup.containerd!, setup.fixture.workDir, { name: 'warmup', namespace: 'bench', uid: `uid-warmup-${process.pid}` }, setup.annotations);
    const names = sandbox.links.map((link) => link.ifname).sort().join(',');
    const expected = setup.expectNet1 ? 'eth0,lo,net1' : 'eth0,lo';
    if (names !== expected) throw new Error(`${setup.label}: the warm-up pod has links ${names}, expected ${expected}`);
    await setup.containerd!.cri.stopPodSandbox(sandbox.id);
    await setup.containerd!.cri.removePodSandbox(sandbox.id);
  }
  for (let round = 0; round < rounds; round++) {
    for (const setup of setups) await oneRound(setup, round);
  }
  const baseline = stats(setups[0]!.total).medianMs;
  const rows = setups.map((setup) => ({
    setup: setup.label,
    runPodSandbox: stats(setup.run),
    stopAndRemove: stats(setup.stopRemove),
    total: stats(setup.total),
    ratioToBridge: stats(setup.total).medianMs / baseline,
  }));
  console.log(`containerd ${(await setups[0]!.containerd!.cri.version()).runtimeVersion}, ${rounds} interleaved rounds per setup (ms; median / p95)`);
  console.log(`${'setup'.padEnd(32)} ${'RunPodSandbox'.padStart(16)} ${'Stop+Remove'.padStart(16)} ${'total'.padStart(16)} ${'x bridge'.padStart(9)}`);
  const cell = (s: Stats): string => `${s.medianMs.toFixed(0)} / ${s.p95Ms.toFixed(0)}`.padStart(16);
  for (const row of rows) {
    console.log(`${row.setup.padEnd(32)} ${cell(row.runPodSandbox)} ${cell(row.stopAndRemove)} ${cell(row.total)} ${row.ratioToBridge.toFixed(2).padStart(9)}`);
  }
  const outDir = join(repoRoot, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const summary = rows.slice(1).map((row) => referenceRow(`pod sandbox run + stop + remove, ${row.setup}`, 'median', row.total.medianMs, rows[0]!.setup, baseline));
  writeFileSync(join(outDir, 'runtimes.json'), `${JSON.stringify({ rounds, at: new Date().toISOString(), rows, summary }, null, 2)}\n`);
  console.log(`wrote ${join(outDir, 'runtimes.json')}`);
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  for (const teardown of teardowns.reverse()) {
    try {
      await teardown();
    } catch (error) {
      console.error(`teardown: ${(error as Error).message}`);
    }
  }
}
