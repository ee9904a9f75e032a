// ADD+DEL of a pod with a bridge cluster network and one macvlan NAD: nicplex thin mode (standalone, one
// Node process per CNI call) vs calling the two reference plugins directly, side by side, 50 rounds.
// Runs itself inside a private "host" netns so the root netns stays untouched.
// Usage: node dist/test/bench/cni.bench.js [rounds]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { median, percentile, referenceRow } from './bench-stats.js';
import { runTimed } from './bench-process.js';
import { runInPrivateHost } from './bench-netns.js';

const PLUGINS = '/usr/lib/cni';
const rounds = Number(process.argv[2] ?? 50);
const tag = `npxbn${process.pid % 100000}`;


async function inner(dir: string, ctrA: string, ctrB: string): Promise<void> {
  const bridge = (name: string, bridgeName: string, subnet: string) => ({ cniVersion: '1.0.0', name, plugins: [{ type: 'bridge', bridge: bridgeName, isGateway: true, ipam: { type: 'host-local', dataDir: join(dir, 'ipam'), subnet } }] });
  const macvlan = (name: string, address: string) => ({ cniVersion: '1.0.0', name, plugins: [{ type: 'macvlan', master: 'bmv0', mode: 'bridge', ipam: { type: 'static', addresses: [{ address }] } }] });
  mkdirSync(join(dir, 'nads'), { recursive: true });
  writeFileSync(join(dir, 'nads', 'mv.json'), JSON.stringify({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'mv', namespace: 'default' }, spec: { config: JSON.stringify(macvlan('mv', '10.231.61.2/24')) } }));
  const nicplexConf = JSON.stringify({
    cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: join(dir, 'cache'), binDir: PLUGINS,
    standalone: { nadDir: join(dir, 'nads'), allocationDir: join(dir, 'alloc'), devicePools: {} },
    delegates: [bridge('bench-br', `${tag}a`, '10.231.60.0/24')],
  });
  const nicplexEnv = (command: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: 'benchA', CNI_NETNS: `/var/run/netns/${ctrA}`, CNI_IFNAME: 'eth0', CNI_PATH: PLUGINS, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=bench;NICPLEX_NETWORKS=mv' });
  // The reference side: what a runtime would exec for the same two networks (libcni injects name/cniVersion).
  const brConf = bridge('ref-br', `${tag}b`, '10.231.62.0/24');
  const mvConf = macvlan('ref-mv', '10.231.63.2/24');
  const plugin = (list: { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> }) => JSON.stringify({ ...list.plugins[0], cniVersion: list.cniVersion, name: list.name });
  const refEnv = (command: string, ifname: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: 'benchB', CNI_NETNS: `/var/run/netns/${ctrB}`, CNI_IFNAME: ifname, CNI_PATH: PLUGINS });
  const node = process.execPath;
  const samples = { nicplex: { add: [] as number[], del: [] as number[], pair: [] as number[] }, reference: { add: [] as number[], del: [] as number[], pair: [] as number[] } };
  for (let round = -3; round < rounds; round++) {
    const add = await runTimed(node, [cliPath, 'cni'], nicplexEnv('ADD'), nicplexConf);
    const del = await runTimed(node, [cliPath, 'cni'], nicplexEnv('DEL'), nicplexConf);
    if (add.code !== 0 || del.code !== 0) throw new Error(`nicplex failed: ${add.stdout} ${del.stdout}`);
    const brAdd = await runTimed(join(PLUGINS, 'bridge'), [], refEnv('ADD', 'eth0'), plugin(brConf));
    const mvAdd = await runTimed(join(PLUGINS, 'macvlan'), [], refEnv('ADD', 'net1'), plugin(mvConf));
    const mvDel = await runTimed(join(PLUGINS, 'macvlan'), [], refEnv('DEL', 'net1'), plugin(mvConf));
    const brDel = await runTimed(join(PLUGINS, 'bridge'), [], refEnv('DEL', 'eth0'), plugin(brConf));
    if ([brAdd, mvAdd, mvDel, brDel].some((call) => call.code !== 0)) throw new Error(`reference plugin failed: ${brAdd.stdout} ${mvAdd.stdout}`);
    if (round < 0) continue; // warm-up
    samples.nicplex.add.push(add.ms);
    samples.nicplex.del.push(del.ms);
    samples.nicplex.pair.push(add.ms + del.ms);
    samples.reference.add.push(brAdd.ms + mvAdd.ms);
    samples.reference.del.push(mvDel.ms + brDel.ms);
    samples.reference.pair.push(brAdd.ms + mvAdd.ms + mvDel.ms + brDel.ms);
  }
  const summary = (values: number[]) => ({ median: median(values), p95: percentile([...values].sort((a, b) => a - b), 0.95), min: Math.min(...values) });
  const result = {
    bench: 'cni', rounds, date: new Date().toISOString(), node: process.version,
    scenario: 'ADD+DEL: bridge+host-local cluster network (eth0) and one macvlan+static NAD (net1); nicplex thin mode in standalone mode vs the reference plugins exec\'d directly',
    nicplex: { add: summary(samples.nicplex.add), del: summary(samples.nicplex.del), pair: summary(samples.nicplex.pair) },
    reference: { add: summary(samples.reference.add), del: summary(samples.reference.del), pair: summary(samples.reference.pair) },
    ratio: { pairMedian: median(samples.nicplex.pair) / median(samples.reference.pair) },
    summary: (['add', 'del', 'pair'] as const).map((step) => referenceRow(
      `pod ${step === 'pair' ? 'ADD+DEL' : step.toUpperCase()}, bridge + macvlan NAD (thin, standalone)`, 'median',
      median(samples.nicplex[step]), 'reference bridge + macvlan plugins', median(samples.reference[step]),
    )),
  };
  const fmt = (value: number) => value.toFixed(1).padStart(8);
  console.log(`cni bench, ${rounds} rounds (ms)            ADD med   DEL med  pair med  pair p95`);
  for (const side of ['nicplex', 'reference'] as const) {
    const row = result[side];
    console.log(`${side === 'nicplex' ? 'nicplex cni (thin, standalone)' : 'reference bridge+macvlan      '}  ${fmt(row.add.median)}  ${fmt(row.del.median)}  ${fmt(row.pair.median)}  ${fmt(row.pair.p95)}`);
  }
  console.log(`ratio (pair median nicplex / reference): ${result.ratio.pairMedian.toFixed(2)}x`);
  mkdirSync(join(repoRoot, 'bench-results'), { recursive: true });
  writeFileSync(join(repoRoot, 'bench-results', 'cni.json'), `${JSON.stringify(result, null, 2)}\n`);
}

async function outer(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'npx-cnibench-'));
  const ctrA = `${tag}a`;
  const ctrB = `${tag}b`;
  try {
    const ok = runInPrivateHost({ host: `${tag}h`, containers: [ctrA, ctrB], self: fileURLToPath(import.meta.url), args: [String(rounds)], envName: 'NPX_CNI_BENCH_INNER', payload: { dir, ctrA, ctrB } });
    if (!ok) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const innerArgs = process.env['NPX_CNI_BENCH_INNER'];
if (innerArgs) {
  const { dir, ctrA, ctrB } = JSON.parse(innerArgs) as { dir: string; ctrA: string; ctrB: string };
  await inner(dir, ctrA, ctrB);
} else {
  await outer();
}
