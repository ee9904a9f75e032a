// The whole sriov path on the lab's igb VFs, as a Kubernetes node runs it: `nicplex agent --config`
// serves the VFs as two device-plugin pools to the kubelet stand-in (direct Register on kubelet.sock),
// the stand-in admits two pods (Allocate), the runtime execs the C shim for each pod's ADD, the agent
// reads the pod's networks from the fake API server (Kubernetes mode: two sriov NADs with a
// resourceName annotation, the pod annotated with both) and the pod's VFs from the stand-in's
// pod-resources Get, and the built-in sriov delegate moves one VF of each pool into each pod. Traffic
// then flows between the pods on both networks (VLANs set through the PF), DEL runs, and the PF's
// `ip -d link` VF list and every VF netdev are what they were before.
import t from 'tap';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProcess, runShim } from '../../helpers/agent-harness.js';
import { podArgs } from '../../helpers/cni-lab.js';
import { FakeApiServer } from '../../helpers/fake-apiserver.js';
import { KubeletStandin } from '../../helpers/kubelet-standin.js';
import { igbVfSetup, vfList, vfNetdevs } from './igb-vfs.js';
import { addNetns, bindPciDriver, deleteNetns, filesUnder, ipJson, ipLink, netdevsOf, notInLabReason, pings, waitFor, type IpLink } from './lab-guest.js';

const podPath = (name: string) => `/run/netns/${name}`;
t.test('whole path: device plugin in the agent serves the igb VFs to the kubelet stand-in; pod-resources; shim ADD with two sriov NADs; traffic; DEL restores the VFs', { skip: notInLabReason }, async (tt) => {
  const started = Date.now();
  const { pf, vfs } = await igbVfSetup();
  // All four VFs on igbvf here: two pools of two kernel VFs.
  bindPciDriver(vfs[2]!, 'igbvf');
  await waitFor(`a netdev for ${vfs[2]!.address}`, () => netdevsOf(vfs[2]!.dir)[0], 20_000);
  const dir = mkdtempSync(join(tmpdir(), 'npx-lab-whole-'));
  const paths = {
    dp: join(dir, 'kubelet', 'device-plugins'), devinfo: join(dir, 'devinfo-dp'), cniDevinfo: join(dir, 'devinfo-cni'),
    cache: join(dir, 'cache'), state: join(dir, 'state'), sock: join(dir, 'sock'), kubeconfig: join(dir, 'kubeconfig'), config: join(dir, 'config.json'),
  };
  mkdirSync(paths.dp, { recursive: true });
  writeFileSync(paths.config, JSON.stringify({ resourceList: [
    { resourceName: 'igb_red', selectors: { pfNames: [`${pf}#0-1`], drivers: ['igbvf'] } },
    { resourceName: 'igb_blue', selectors: { pfNames: [`${pf}#2-3`], drivers: ['igbvf'] } },
  ] }));
  const api = new FakeApiServer();
  await api.start();
  tt.teardown(() => api.stop());
  api.writeKubeconfig(paths.kubeconfig);
  const networks = { red: { vlan: 107, subnet: '10.91.0' }, blue: { vlan: 108, subnet: '10.92.0' } };
  for (const [name, network] of Object.entries(networks)) {
    api.addNad({
      namespace: 'default', name, annotations: { 'k8s.v1.cni.cncf.io/resourceName': `intel.com/igb_${name}` },
      config: JSON.stringify({ cniVersion: '1.0.0', name, type: 'sriov', vlan: network.vlan, spoofchk: 'on', trust: 'off', ipam: { type: 'static' }, capabilities: { ips: true } }),
    });
  }
  // The kubelet dials the plugin back within 10 s; an agent under TCG may answer later.
  const kubelet = await KubeletStandin.start({ dir: paths.dp, dialTimeoutMs: 60_000 });
  tt.teardown(() => kubelet.stop());
  const before = { pfVfs: vfList(pf), netdevs: vfNetdevs(vfs) };
  // No --kubeconfig: the conf names it, so the Kubernetes client loads on the first ADD, not while the
  // device plugin starts (under TCG both together took more than two minutes).
  const agent = await AgentProcess.startInRootNetns([
    '--config', paths.config, '--device-plugin-dir', paths.dp, '--devinfo-dir', paths.devinfo, '--pci-ids', 'none',
    '--socket-dir', paths.sock, '--metrics-address', '',
  ], join(paths.sock, 'nicplex.sock'), { timeoutMs: 300_000 });
  tt.teardown(() => agent.stop('SIGKILL'));
  for (const name of Object.keys(networks)) await kubelet.waitForHealthy(`intel.com/igb_${name}`, 2, 120_000);
  const registeredMs = Date.now() - started;
  tt.same(kubelet.resource('intel.com/igb_red')?.devices.map((device) => device.ID).sort(), [vfs[0]!.address, vfs[1]!.address].sort(), 'igb_red: VF0 and VF1, healthy');
  tt.same(kubelet.resource('intel.com/igb_blue')?.devices.map((device) => device.ID).sort(), [vfs[2]!.address, vfs[3]!.address].sort(), 'igb_blue: VF2 and VF3, healthy');

  const conf = {
    cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', kubeconfig: paths.kubeconfig, cniDir: paths.cache, binDir: '/usr/lib/cni', socketDir: paths.sock,
    delegateStateDir: paths.state, podResourcesSocket: kubelet.podResources!.socketPath, kubeletCheckpointFile: join(paths.dp, 'kubelet_internal_checkpoint'),
    deviceInfoDir: paths.devinfo, cniDeviceInfoDir: paths.cniDevinfo, delegates: [{ cniVersion: '1.0.0', name: 'lo', type: 'loopback' }],
  };
  const pods = ['npx-dlgw-a', 'npx-dlgw-b'].map((name, index) => {
    const ips = Object.values(networks).map((network) => `${network.subnet}.${index + 1}/24`);
    const annotation = JSON.stringify(Object.keys(networks).map((network, n) => ({ name: network, interface: `net${n + 1}`, ips: [ips[n]] })));
    const pod = api.addPod({ namespace: 'default', name, annotations: { 'k8s.v1.cni.cncf.io/networks': annotation } });
    return { ...pod, containerId: `whole-${name}`, ips };
  });
  tt.teardown(() => pods.forEach((pod) => deleteNetns(pod.name)));
  const allocated = new Map<string, string[]>();
  for (const pod of pods) {
    addNetns(pod.name);
    const ids: string[] = [];
    for (const name of Object.keys(networks)) ids.push(...(await kubelet.allocate(pod.uid, pod.name, pod.namespace, 'app', `intel.com/igb_${name}`, 1)).deviceIds);
    allocated.set(pod.name, ids);
  }
  const env = (command: string, pod: (typeof pods)[number]) => ({
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_CONTAINERID: pod.containerId, CNI_NETNS: podPath(pod.name), CNI_IFNAME: 'eth0',
    CNI_ARGS: podArgs(pod.namespace, pod.name, pod.uid, pod.containerId),
  });
  const timings: Record<string, number> = {};
  for (const pod of pods) {
    const add = await runShim(env('ADD', pod), conf);
    timings[`ADD ${pod.name}`] = Math.round(add.ms);
    tt.equal(add.exitCode, 0, `ADD ${pod.name}: ${add.stdout}${add.stderr}${add.exitCode === 0 ? '' : agent.stderr().slice(-2000)}`);
    // Each interface is the VF pod-resources reported for its network's resource, at the address the annotation asked for.
    for (const [n, vf] of (allocated.get(pod.name) ?? []).entries()) {
      const ifname = `net${n + 1}`;
      const device = vfs.find((candidate) => candidate.address === vf)!;
      tt.same(netdevsOf(device.dir), [], `${pod.name}: ${vf} left the host namespace`);
      tt.match(ipJson<Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>>(['addr', 'show', 'dev', ifname], pod.name)[0]?.addr_info, [{ local: pod.ips[n]!.split('/')[0] }], `${pod.name}: ${ifname} has ${pod.ips[n]}`);
    }
  }
  const pfVfs = ipJson<IpLink[]>(['-d', 'link', 'show', 'dev', pf])[0]?.vfinfo_list ?? [];
  tt.match(pfVfs, [{ vlan_list: [{ vlan: 107 }] }, { vlan_list: [{ vlan: 107 }] }, { vlan_list: [{ vlan: 108 }] }, { vlan_list: [{ vlan: 108 }] }], 'VLANs through the PF: 107 on the red VFs, 108 on the blue VFs');
  await waitFor('every pod VF up', () => pods.every((pod) => ['net1', 'net2'].every((ifname) => ipLink(ifname, pod.name).operstate === 'UP')), 20_000);
  for (const [n, network] of Object.values(networks).entries()) {
    const peer = `${network.subnet}.2`;
    tt.ok(pings(pods[0]!.name, peer) || pings(pods[0]!.name, peer), `pod A reaches pod B on net${n + 1} (VLAN ${network.vlan}) through the NIC`);
  }
  for (const pod of pods) {
    const del = await runShim(env('DEL', pod), conf);
    timings[`DEL ${pod.name}`] = Math.round(del.ms);
    tt.equal(del.exitCode, 0, `DEL ${pod.name}: ${del.stdout}${del.stderr}`);
  }
  tt.same(vfList(pf), before.pfVfs, 'ip -d link of the PF: every VF attribute as before');
  tt.same(vfNetdevs(vfs), before.netdevs, 'every VF netdev back under its name with its MAC and MTU');
  tt.same({ cache: filesUnder(paths.cache), state: filesUnder(paths.state), cniDevinfo: filesUnder(paths.cniDevinfo) }, { cache: [], state: [], cniDevinfo: [] }, 'no cache, delegate state or CNI device-info file left');
  tt.comment(`figures: ${JSON.stringify({ agentListenMs: agent.listenMs, registeredMs, shimMs: timings, totalMs: Date.now() - started })}`);
  // VF2 back on vfio-pci, as the shared setup leaves it.
  bindPciDriver(vfs[2]!, 'vfio-pci');
});
