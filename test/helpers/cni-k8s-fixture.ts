// Shared setup of the Kubernetes-mode meta-CNI integration files: a private host netns with a macvlan
// master, the fake API server reached from that netns through a unix-socket forwarder, the cluster
// network and two macvlan NADs. The suite is split over several files to stay inside the tier's
// per-file time limit (each CNI call is a fresh Node process that loads client-node).
import t from 'tap';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CniLab, podArgs } from './cni-lab.js';
import { FakeApiServer } from './fake-apiserver.js';

export function k8sFixture(tag: string) {
  const lab = new CniLab(tag);
  const api = new FakeApiServer();
  const kubeconfig = join(lab.dir, 'kubeconfig');
  const ipamDir = join(lab.dir, 'ipam');
  const cniDir = join(lab.dir, 'cache');
  const confDir = join(lab.dir, 'net.d');
  const proxyPort = 20000 + (process.pid % 20000);
  const bridgeName = `npxbr${process.pid % 10000}`;
  mkdirSync(confDir, { recursive: true });

  t.teardown(async () => {
    await api.stop();
    lab.cleanup();
  });

  const bridgeConf = {
    cniVersion: '1.0.0',
    name: 'cluster-br',
    plugins: [{ type: 'bridge', bridge: bridgeName, isGateway: true, ipam: { type: 'host-local', dataDir: ipamDir, subnet: '10.231.40.0/24', routes: [{ dst: '0.0.0.0/0' }] } }],
  };
  const macvlanConf = (name: string, extra: Record<string, unknown> = {}) => JSON.stringify({
    cniVersion: '1.0.0',
    name,
    plugins: [{ type: 'macvlan', master: 'mvm0', mode: 'bridge', capabilities: { mac: true, ips: true }, ipam: { type: 'static', capabilities: { ips: true } }, ...extra }],
  });

  function baseConf(extra: Record<string, unknown> = {}) {
    return {
      cniVersion: '1.0.0',
      name: 'nicplex-net',
      type: 'nicplex',
      kubeconfig,
      clusterNetwork: 'cluster-br',
      confDir,
      cniDir,
      binDir: '/usr/lib/cni',
      cniDeviceInfoDir: join(lab.dir, 'devinfo-cni'),
      deviceInfoDir: join(lab.dir, 'devinfo-dp'),
      podResourcesSocket: join(lab.dir, 'no-kubelet.sock'),
      kubeletCheckpointFile: join(lab.dir, 'no-checkpoint'),
      logLevel: 'error',
      ...extra,
    };
  }

  function ipamLeases(): string[] {
    const dir = join(ipamDir, 'cluster-br');
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((file) => /^\d+\.\d+\.\d+\.\d+$/.test(file));
  }

  function addresses(netns: string, ifname: string): string[] {
    return (lab.link(netns, ifname)?.addr_info ?? []).filter((addr) => addr.family === 'inet').map((addr) => `${addr.local}/${addr.prefixlen}`);
  }

  let podCounter = 0;
  function newPod(annotations: Record<string, string> = {}, namespace = 'default') {
    const name = `pod-${podCounter++}`;
    const pod = api.addPod({ namespace, name, annotations });
    const netns = lab.containerNetns(`c${podCounter}`);
    const containerId = `ctr${process.pid}x${podCounter}`;
    return { pod, netns, containerId, args: podArgs(namespace, name, pod.uid, containerId) };
  }

  t.before(async () => {
    await api.start();
    const socket = join(lab.dir, 'api.sock');
    await api.listenUnix(socket);
    await lab.forwardTcpToUnix(proxyPort, socket);
    api.writeKubeconfig(kubeconfig, `http://127.0.0.1:${proxyPort}`);
    lab.hostVeth('mvm0', 'mvm0p');
    api.addNad({ namespace: 'kube-system', name: 'cluster-br', config: JSON.stringify(bridgeConf) });
    api.addNad({ namespace: 'default', name: 'macvlan-a', config: macvlanConf('macvlan-a') });
    api.addNad({ namespace: 'other', name: 'macvlan-b', config: macvlanConf('macvlan-b') });
  });

  return { lab, api, kubeconfig, ipamDir, cniDir, confDir, bridgeConf, macvlanConf, baseConf, ipamLeases, addresses, newPod };
}
