// The CNI hot path on the host kernel: create a veth pair in a "host" namespace, move one end into a
// "pod" namespace under a new name, set it up and give it an address — through the addon (one call per
// step, and batched into two native threads) versus four `ip` commands. Interleaved rounds, so both see
// the same machine load. Everything lives in namespaces created here and is deleted afterwards.
// Run (root): node dist/test/bench/netlink.bench.js [--rounds N]   (writes bench-results/netlink.json)
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as native from '../../native/index.js';
import { repoRoot } from '../helpers/paths.js';
import { createNetns, type TestNetns } from '../integration/native-fixtures.js';
import { latencyStats as stats, numberArgument, referenceRow, type LatencyStats as Stats } from './bench-stats.js';

type Variant = (round: number, hostNs: TestNetns, podNs: TestNetns) => Promise<void>;

const podIfname = 'eth1';
const hostIfname = (round: number): string => `npxbh${round}`;
const tempIfname = (round: number): string => `npxbt${round}`;
const podAddress = (round: number): string => `10.${80 + (round >> 16)}.${(round >> 8) & 255}.${(round & 255) || 1}/16`;

const addonPerCall: Variant = async (round, hostNs, podNs) => {
  await native.createVeth({ name: hostIfname(round), peerName: tempIfname(round), netns: hostNs.path });
  await native.moveLinkToNetns(tempIfname(round), podNs.path, { newName: podIfname, netns: hostNs.path });
  await native.setLinkUp(podIfname, true, { netns: podNs.path });
  await native.addAddress(podIfname, podAddress(round), { netns: podNs.path });
};

const addonBatched: Variant = async (round, hostNs, podNs) => {
  await native.runSteps([
    { op: 'newLink', kind: 'veth', name: hostIfname(round), peerName: tempIfname(round) },
    { op: 'setLink', link: tempIfname(round), targetNetns: podNs.path, newName: podIfname },
  ], hostNs.path, { operation: 'bench host side' });
  const [address, prefix] = podAddress(round).split('/') as [string, string];
  await native.runSteps([
    { op: 'setLink', link: podIfname, up: true },
    { op: 'addAddress', link: podIfname, address, prefixLength: Number(prefix) },
  ], podNs.path, { operation: 'bench pod side' });
};

// Not the measured recipe, for comparison: IFLA_NET_NS_FD on the peer creates it in the pod under its
// final name, so the kernel's costly namespace move (synchronize_net) never happens.
const addonCreateInPlace: Variant = async (round, hostNs, podNs) => {
  await native.createVeth({ name: hostIfname(round), peerName: podIfname, netns: hostNs.path, peerNetns: podNs.path });
  await native.setLinkUp(podIfname, true, { netns: podNs.path });
  await native.addAddress(podIfname, podAddress(round), { netns: podNs.path });
};

const ipCommands: Variant = async (round, hostNs, podNs) => {
  const run = (...args: string[]): void => {
    execFileSync('ip', args, { stdio: 'ignore' });
  };
  run('-n', hostNs.name, 'link', 'add', hostIfname(round), 'type', 'veth', 'peer', 'name', tempIfname(round));
  run('-n', hostNs.name, 'link', 'set', tempIfname(round), 'netns', podNs.name, 'name', podIfname);
  run('-n', podNs.name, 'link', 'set', podIfname, 'up');
  run('-n', podNs.name, 'addr', 'add', podAddress(round), 'dev', podIfname);
};

async function main(): Promise<void> {
  const rounds = numberArgument('--rounds', 200);
  const warmup = 10;
  const variants: [string, Variant][] = [['addon (one call per step)', addonPerCall], ['addon (two batches)', addonBatched], ['addon, peer created in the pod (no move)', addonCreateInPlace], ['ip commands (4 execs)', ipCommands]];
  const samples = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  const hostNs = createNetns('bhs');
  const podNs = createNetns('bpd');
  try {
    let round = 0;
    for (let i = 0; i < warmup + rounds; i++) {
      for (const [name, variant] of variants) {
        round++;
        const started = process.hrtime.bigint();
        await variant(round, hostNs, podNs);
        const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
        if (i >= warmup) samples.get(name)!.push(elapsed);
        // Verify the outcome outside the timing, then clean up (deleting one veth end deletes both).
        const pod = await native.getLink(podIfname, { netns: podNs.path });
        const addresses = await native.listAddresses(podIfname, { netns: podNs.path });
        if (!pod.up || !addresses.some((a) => a.cidr === podAddress(round))) throw new Error(`${name}: round ${round} did not produce an up ${podIfname} with ${podAddress(round)}`);
        await native.deleteLink(hostIfname(round), { netns: hostNs.path });
      }
    }
  } finally {
    hostNs.remove();
    podNs.remove();
  }
  const results = variants.map(([name]) => ({ name, ...stats(samples.get(name)!) }));
  // The last variant is the ip baseline.
  const ipMedian = results[results.length - 1]!.medianMs;
  const ipP95 = results[results.length - 1]!.p95Ms;
  console.log(`veth create + move with rename + up + address, ${rounds} rounds each (interleaved, after ${warmup} warm-up rounds)`);
  console.log('| variant | median ms | p95 ms | p99 ms | min ms | ip/variant (median) | ip/variant (p95) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(`| ${r.name} | ${r.medianMs.toFixed(3)} | ${r.p95Ms.toFixed(3)} | ${r.p99Ms.toFixed(3)} | ${r.minMs.toFixed(3)} | ${(ipMedian / r.medianMs).toFixed(1)}x | ${(ipP95 / r.p95Ms).toFixed(1)}x |`);
  }
  const outDir = join(repoRoot, 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, 'netlink.json');
  writeFileSync(out, `${JSON.stringify({ benchmark: 'netlink', kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(), node: process.version, rounds, warmup, results, ratioIpOverAddonMedian: ipMedian / results[0]!.medianMs, ratioIpOverAddonBatchedMedian: ipMedian / results[1]!.medianMs, summary: results.slice(0, -1).map((r) => referenceRow(`veth + move + up + address: ${r.name}`, 'median', r.medianMs, results[results.length - 1]!.name, ipMedian)) }, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

await main();
