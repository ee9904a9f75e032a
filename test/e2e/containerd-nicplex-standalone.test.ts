// containerd 1.6's CRI plugin driving nicplex in standalone mode (no Kubernetes): the NAD is a file
// in `standalone.nadDir`, and the pod's networks annotation reaches nicplex the way containerd
// forwards pod annotations to CNI plugins that declare the `io.kubernetes.cri.pod-annotations`
// capability (runtimeConfig), with the pod identity from the K8S_POD_* CNI args.
import t from 'tap';
import { join } from 'node:path';
import { writeJsonFile } from './harness/cni-dirs.js';
import { showLogsOnFailure } from './harness/run.js';
import { existsSync, readdirSync } from 'node:fs';
import { PodSandboxState } from '../helpers/cri-api.js';
import { prepareContainerd, runSandbox } from './harness/containerd-fixture.js';
import { leftoversAfterTeardown, nothingLeft } from './harness/leftovers.js';
import { runTwoNetworkPod } from './harness/containerd-nicplex-scenario.js';
import { clusterDelegate, nadManifest, networksAnnotation, nicplexConf, nicplexLayout, subnetsFor, testMac, writeNadFile } from './harness/nicplex-networks.js';

const subnets = subnetsFor(80);

t.test('containerd + nicplex (standalone): NADs from files, networks from the pod annotation', async (t) => {
  const fixture = await prepareContainerd(t, 'cs', subnets.masterPeerCidr);
  const layout = nicplexLayout(fixture.workDir, fixture.node, subnets, fixture.ipamDataDir, 's');
  const namespace = 'e2e';
  writeNadFile(layout, namespace);
  const brokenNadName = 'broken-nad';
  writeJsonFile(
    join(layout.nadDir, `${namespace}-${brokenNadName}.json`),
    nadManifest(namespace, brokenNadName, { ...layout.nadConfig, name: brokenNadName, master: 'npxe2e-absent' }),
  );
  writeJsonFile(
    join(fixture.cniConfDir, '00-multus.conf'),
    nicplexConf(layout, fixture.cniBinDir, [clusterDelegate(layout, subnets, fixture.ipamDataDir)], { standalone: true }, {
      capabilities: { 'io.kubernetes.cri.pod-annotations': true },
    }),
  );
  const containerd = await fixture.start();
  const mac = testMac();
  showLogsOnFailure(t, { nicplex: layout.logFile, containerd: containerd.logPath });

  // Two ways an ADD fails: before any delegate runs (unknown NAD), and after the cluster network's
  // delegate succeeded (the NAD's macvlan master does not exist), which nicplex must roll back.
  const failures = [
    { nad: 'no-such-nad', what: 'a NAD that does not exist', clusterAddRan: false },
    { nad: brokenNadName, what: 'a NAD whose macvlan master does not exist', clusterAddRan: true },
  ];
  for (const [index, failure] of failures.entries()) {
    await t.test(`a pod naming ${failure.what} fails, naming it, and leaves nothing behind`, async (t) => {
      const pod = { name: `failing-pod-${index}`, namespace, uid: `uid-failing-${index}-${process.pid}` };
      const error = await runSandbox(containerd, fixture.workDir, pod, { [networksAnnotation]: failure.nad }).then(
        () => undefined,
        (caught: Error) => caught,
      );
      t.ok(error, 'RunPodSandbox fails');
      t.match(error?.message ?? '', new RegExp(failure.nad), `the error containerd reports names the network (${error?.message ?? ''})`);
      const sandboxes = await containerd.cri.listPodSandbox();
      t.notOk(sandboxes.some((sandbox) => sandbox.metadata?.uid === pod.uid && sandbox.state === PodSandboxState.SANDBOX_READY), 'no ready sandbox exists for the pod');
      const netnsLeft = existsSync(containerd.netnsDir) ? readdirSync(containerd.netnsDir) : [];
      t.same(netnsLeft, [], 'containerd holds no pod network namespace');
      const leftovers = await leftoversAfterTeardown({ node: fixture.node, ipamDataDirs: [fixture.ipamDataDir], nicplexCacheDir: layout.cacheDir, persistentLinks: [layout.bridge] });
      t.same(leftovers, nothingLeft, 'nothing of the failed ADD remains: no host-side veth, IPAM lease or nicplex cache file');
      // host-local remembers the last address it handed out: proof that eth0 was attached and then rolled back.
      const clusterAllocated = existsSync(join(fixture.ipamDataDir, layout.clusterNetworkName, 'last_reserved_ip.0'));
      t.equal(clusterAllocated, failure.clusterAddRan, failure.clusterAddRan ? 'the cluster network ADD had run (and was undone)' : 'no delegate ran');
    });
  }

  await t.test('a pod naming the NAD gets both interfaces, and nothing is left after removal', async (t) => {
    await runTwoNetworkPod(t, {
      fixture,
      containerd,
      layout,
      subnets,
      pod: { name: 'standalone-pod', namespace, uid: `uid-standalone-${process.pid}` },
      annotations: { [networksAnnotation]: JSON.stringify([{ name: layout.nadName, mac }]) },
      expectedMac: mac,
    });
  });
});
