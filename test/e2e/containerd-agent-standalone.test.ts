// containerd 1.6's CRI plugin execs the C shim (installed as `nicplex` by the agent), which forwards
// to `nicplex agent` in standalone mode: the same pod and assertions as the thin-mode test, and the
// agent crashing while a pod runs: StopPodSandbox fails (code 11) while it is down instead of leaking,
// and succeeds, leaving nothing, once it is back.
import t from 'tap';
import { join } from 'node:path';
import { writeJsonFile } from './harness/cni-dirs.js';
import { showLogsOnFailure } from './harness/run.js';
import { prepareContainerd, runSandbox } from './harness/containerd-fixture.js';
import { leftoversAfterTeardown, nothingLeft } from './harness/leftovers.js';
import { runTwoNetworkPod } from './harness/containerd-nicplex-scenario.js';
import { startNodeAgent } from './harness/nicplex-agent.js';
import { clusterDelegate, networksAnnotation, nicplexConf, nicplexLayout, subnetsFor, testMac, writeNadFile } from './harness/nicplex-networks.js';

const subnets = subnetsFor(84);

t.test('containerd → shim → nicplex agent (standalone)', async (t) => {
  const fixture = await prepareContainerd(t, 'ca', subnets.masterPeerCidr);
  const layout = nicplexLayout(fixture.workDir, fixture.node, subnets, fixture.ipamDataDir, 'a');
  const namespace = 'e2e';
  writeNadFile(layout, namespace);
  const agent = await startNodeAgent(t, fixture.node, fixture.workDir, fixture.cniBinDir);
  writeJsonFile(
    join(fixture.cniConfDir, '00-multus.conf'),
    nicplexConf(layout, fixture.cniBinDir, [clusterDelegate(layout, subnets, fixture.ipamDataDir)], { standalone: true }, {
      capabilities: { 'io.kubernetes.cri.pod-annotations': true },
      socketDir: agent.socketDir,
      agentWaitSeconds: 1,
    }),
  );
  const containerd = await fixture.start();
  showLogsOnFailure(t, { containerd: containerd.logPath });
  const mac = testMac();

  await t.test('a pod naming the NAD gets both interfaces through the shim, and nothing is left after removal', async (t) => {
    await runTwoNetworkPod(t, {
      fixture, containerd, layout, subnets,
      pod: { name: 'agent-pod', namespace, uid: `uid-agent-${process.pid}` },
      annotations: { [networksAnnotation]: JSON.stringify([{ name: layout.nadName, mac }]) },
      expectedMac: mac,
    });
  });

  await t.test('the agent is killed while a pod runs: teardown fails while it is down, and cleans everything after its restart', async (t) => {
    const sandbox = await runSandbox(containerd, fixture.workDir, { name: 'crash-pod', namespace, uid: `uid-crash-${process.pid}` }, { [networksAnnotation]: layout.nadName });
    t.ok(sandbox.links.some((link) => link.ifname === 'net1'), 'the pod has net1');
    await agent.kill();
    const stopError = await containerd.cri.stopPodSandbox(sandbox.id).then(() => undefined, (error: Error) => error);
    t.ok(stopError, 'StopPodSandbox fails while the agent is down (the DEL is not faked)');
    t.match(stopError?.message ?? '', /nicplex agent is not answering/, `containerd reports the shim's message (${stopError?.message ?? ''})`);
    await agent.restart();
    await containerd.cri.stopPodSandbox(sandbox.id);
    await containerd.cri.removePodSandbox(sandbox.id);
    const leftovers = await leftoversAfterTeardown({
      node: fixture.node, netnsPath: sandbox.netnsPath, containerId: sandbox.id, ipamDataDirs: [fixture.ipamDataDir],
      nicplexCacheDir: layout.cacheDir, persistentLinks: [layout.bridge],
    });
    t.same(leftovers, nothingLeft, 'after the restart, the retried teardown left nothing');
  });
});
