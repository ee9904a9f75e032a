// Shared setup of the device-ID integration files: host netns, fake API server (through a forwarder),
// the kubelet pod-resources stand-in on a real unix socket, a DP device-info file, and recording "spy"
// delegates. Split over several files to stay inside the tier's per-file time limit.
import t from 'tap';
import { join } from 'node:path';
import type { DynamicResource, PodResources } from '../../config/grpc/kubelet-api.js';
import { buildPciDeviceInfo, dpDeviceInfoPath, writeDeviceInfoFile } from '../../config/devinfo.js';
import { CniLab, podArgs } from './cni-lab.js';
import { FakeApiServer, type FakeClaimRef } from './fake-apiserver.js';
import { PodResourcesStandin } from './pod-resources-standin.js';

export function devicesFixture(tag: string, portOffset: number) {
  const lab = new CniLab(tag);
  const api = new FakeApiServer();
  const kubeconfig = join(lab.dir, 'kubeconfig');
  const socketPath = join(lab.dir, 'pod-resources.sock');
  const checkpointFile = join(lab.dir, 'kubelet_internal_checkpoint');
  const dpDir = join(lab.dir, 'devinfo-dp');
  const cniInfoDir = join(lab.dir, 'devinfo-cni');
  const proxyPort = 20000 + ((process.pid + portOffset) % 20000);
  const binDir = lab.writeSpyPlugin('spy');
  lab.writeSpyPlugin('spy2');
  let pods: PodResources[] = [];
  const standin = new PodResourcesStandin(socketPath, { pods: () => pods, allocatable: () => [] });

  t.teardown(async () => {
    standin.stop();
    await api.stop();
    lab.cleanup();
  });

  const RESOURCE = 'example.com/vf';
  const spyConf = (name: string, plugins: Array<Record<string, unknown>>) => JSON.stringify({ cniVersion: '1.0.0', name, plugins });

  function conf(extra: Record<string, unknown> = {}) {
    return {
      cniVersion: '1.0.0', name: 'nicplex-net', type: 'nicplex', kubeconfig, clusterNetwork: 'cluster-spy',
      cniDir: join(lab.dir, 'cache'), binDir, cniDeviceInfoDir: cniInfoDir, deviceInfoDir: dpDir,
      podResourcesSocket: socketPath, kubeletCheckpointFile: join(lab.dir, 'absent'), logLevel: 'error',
      capabilities: { portMappings: true }, runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
      ...extra,
    };
  }

  let n = 0;
  /** `dra.kubeletClaims`: DRA claims the pod-resources stand-in reports for the pod (in an extra container). */
  function pod(annotations: Record<string, string>, devices: string[][] = [], dra: { nodeName?: string; resourceClaims?: FakeClaimRef[]; kubeletClaims?: DynamicResource[] } = {}) {
    const name = `dpod-${n++}`;
    const { kubeletClaims, ...podDra } = dra;
    const created = api.addPod({ namespace: 'default', name, annotations, ...podDra });
    pods = pods.filter((entry) => entry.name !== name);
    const containers = devices.map((ids, index) => ({ name: `c${index}`, devices: ids.length ? [{ resourceName: RESOURCE, deviceIds: ids }] : [], cpuIds: [], memory: [], dynamicResources: [] as DynamicResource[] }));
    if (kubeletClaims) containers.push({ name: 'dra', devices: [], cpuIds: [], memory: [], dynamicResources: kubeletClaims });
    pods.push({ name, namespace: 'default', cpuIds: [], memory: [], containers });
    const netns = lab.containerNetns(`d${n}`);
    return { name, uid: created.uid, netns, containerId: `dev${process.pid}x${n}`, args: podArgs('default', name, created.uid) };
  }

  function spyCallsFor(ifname: string, command = 'ADD') {
    return lab.spyCalls().filter((call) => call.file.endsWith(`-${command}-${ifname}.json`));
  }

  t.before(async () => {
    await api.start();
    await api.listenUnix(join(lab.dir, 'api.sock'));
    await lab.forwardTcpToUnix(proxyPort, join(lab.dir, 'api.sock'));
    api.writeKubeconfig(kubeconfig, `http://127.0.0.1:${proxyPort}`);
    await standin.start();
    api.addNad({ namespace: 'kube-system', name: 'cluster-spy', config: spyConf('cluster-spy', [{ type: 'spy', capabilities: { portMappings: true } }, { type: 'spy2' }]) });
    api.addNad({ namespace: 'default', name: 'vf-a', config: spyConf('vf-a', [{ type: 'spy', capabilities: { deviceID: true, CNIDeviceInfoFile: true, portMappings: true } }, { type: 'spy2', args: { cni: { keep: 'nad', over: 'nad' } } }]), annotations: { 'k8s.v1.cni.cncf.io/resourceName': RESOURCE } });
    api.addNad({ namespace: 'default', name: 'vf-b', config: JSON.stringify({ cniVersion: '1.0.0', name: 'vf-b', type: 'spy', capabilities: { deviceid: true } }), annotations: { 'k8s.v1.cni.cncf.io/resourceName': RESOURCE } });
    await writeDeviceInfoFile(dpDeviceInfoPath(dpDir, RESOURCE, '0000:00:05.0'), buildPciDeviceInfo({ pciAddress: '0000:00:05.0', pfPciAddress: '0000:00:03.0' }));
  });

  return { lab, api, socketPath, checkpointFile, cniInfoDir, standin, RESOURCE, conf, pod, spyCallsFor };
}
