// Multus's own example (test/helpers/multus-example.ts) on a NAD without the `ips`/`mac` capabilities, through the
// real `nicplex cni` process and the reference plugins: Multus then passes the requests as CNI_ARGS IP= (read by
// static IPAM) and MAC= (read by macvlan). DEL replayed from the cache carries the same CNI_ARGS.
import t from 'tap';
import { cniEnv } from '../helpers/cni-lab.js';
import { noCapabilitiesFixture } from '../helpers/multus-example.js';

const { lab, conf, legacyArgs, spyArgs, addSamplepod } = noCapabilitiesFixture('mxa');

t.test('ips and mac without the capabilities reach the interface; DEL from the cache replays the same CNI_ARGS', async (t) => {
  const pod = await addSamplepod(t);
  const del = await lab.runCni(cniEnv('DEL', pod.containerId, pod.netns.path, 'eth0', pod.args), conf);
  t.equal(del.exitCode, 0, del.stdout + del.stderr);
  t.equal(lab.link(pod.netns.name, 'net1'), undefined, 'net1 removed');
  t.same(spyArgs('DEL'), [legacyArgs(pod.args)], 'DEL from the cache: the same CNI_ARGS');
});
