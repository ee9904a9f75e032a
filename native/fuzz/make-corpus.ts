// Regenerates the fuzz seed corpus (native/fuzz/corpus/) from real kernel dumps taken in a throwaway
// namespace with a veth, a bridge, a macvlan, addresses and routes, plus synthetic VF and ext-ack
// messages. Run as root: node dist/native/fuzz/make-corpus.js
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addAddress, addRoute, createBridge, createMacvlan, createVeth, runSteps, setLinkMaster, setLinkUp } from '../netlink.js';
import { extAckErrorMessage, pfLinkMessage } from './synthetic-messages.js';

const corpusDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'native', 'fuzz', 'corpus');

function splitMessages(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0; pos + 16 <= bytes.length;) {
    const len = bytes.readUInt32LE(pos);
    if (len < 16 || pos + len > bytes.length) break;
    out.push(bytes.subarray(pos, pos + len));
    pos += (len + 3) & ~3;
  }
  return out;
}

async function main(): Promise<void> {
  const ns = `npxcorpus${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const where = { netns: `/run/netns/${ns}` };
  try {
    await createVeth({ name: 'v0', peerName: 'v1', netns: where.netns });
    await createBridge({ name: 'br0', netns: where.netns });
    await setLinkMaster('v1', 'br0', where);
    await createMacvlan({ name: 'mv0', parent: 'v0', mode: 'bridge', parentNetns: where.netns, targetNetns: where.netns });
    for (const link of ['v0', 'v1', 'br0', 'mv0']) await setLinkUp(link, true, where);
    await addAddress('v0', '10.1.2.3/24', where);
    await addAddress('v0', 'fd00:1::3/64', where);
    await addRoute({ dst: '10.9.0.0/16', gw: '10.1.2.1', priority: 10, mtu: 1400, advmss: 1360 }, where);
    const dumps = (await runSteps([
      { op: 'rawDump', what: 'links' }, { op: 'rawDump', what: 'addresses' }, { op: 'rawDump', what: 'routes' },
    ], where.netns, { operation: 'corpus dumps' })) as Buffer[];
    mkdirSync(corpusDir, { recursive: true });
    const seeds: [string, Buffer][] = [];
    ['links', 'addresses', 'routes'].forEach((what, i) => {
      const dump = dumps[i]!;
      seeds.push([`dump-${what}`, dump]);
      splitMessages(dump).forEach((msg, k) => seeds.push([`${what}-${k}`, msg]));
    });
    seeds.push(['pf-with-vfs', pfLinkMessage('ens1f0', 7, [
      { vf: 0, mac: '02:00:00:00:00:10', vlan: 100, qos: 3, vlanProtocol: 0x88a8, spoofchk: 1, trust: 0, linkState: 2, minTxRate: 10, maxTxRate: 1000 },
      { vf: 1, mac: '02:00:00:00:00:11', vlan: 0, qos: 0, vlanProtocol: 0x8100, spoofchk: 0xffffffff, trust: 0xffffffff, linkState: 0, minTxRate: 0, maxTxRate: 0 },
    ])]);
    seeds.push(['error-extack', extAckErrorMessage(22, 'MTU too large')]);
    for (const [name, bytes] of seeds) writeFileSync(join(corpusDir, name), bytes);
    console.log(`wrote ${seeds.length} seeds to ${corpusDir}`);
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

await main();
