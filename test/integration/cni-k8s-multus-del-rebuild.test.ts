// Multus's own example (test/helpers/multus-example.ts) on a NAD without the `ips`/`mac` capabilities: when the
// cache is gone, DEL rebuilds the networks from the API and still passes CNI_ARGS MAC= and IP=.
import t from 'tap';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { cniEnv } from '../helpers/cni-lab.js';
import { noCapabilitiesFixture } from '../helpers/multus-example.js';

const { lab, cniDir, conf, legacyArgs, spyArgs, addSamplepod } = noCapabilitiesFixture('mxc');

t.test('DEL without a cache rebuilds the plan and replays the same CNI_ARGS', async (t) => {
  const pod = await addSamplepod(t);
  rmSync(join(cniDir, pod.containerId));
  const del = await lab.runCni(cniEnv('DEL', pod.containerId, pod.netns.path, 'eth0', pod.args), conf);
  t.equal(del.exitCode, 0, del.stdout + del.stderr);
  t.equal(lab.link(pod.netns.name, 'net1'), undefined, 'rebuilt DEL removed net1');
  t.same(spyArgs('DEL'), [legacyArgs(pod.args)], 'DEL rebuilt from the API: the same CNI_ARGS');
});
