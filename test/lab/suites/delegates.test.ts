// The built-in delegates on the lab's real 6.1 kernel and NICs, called in-process the way the agent
// calls them: ipvlan l2/l3/l3s with traffic between two pods; sriov kernel mode on igb VFs (VLAN, MAC,
// spoofchk, trust through the PF; traffic between two pods' VFs on that VLAN); sriov DPDK mode with a VF
// on vfio-pci; host-device with an igb VF by PCI address; every VF attribute through the sriov
// delegate on netdevsim. After DEL each PF's `ip -d link` VF list is what it was before ADD.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from '../../bench/bench-stats.js';
import { DelegateRegistry } from '../../../cni/delegates/registry.js';
import { ExecPluginExecutor } from '../../../cni/exec.js';
import { createDummy, nativeHostNetwork, setLinkUp } from '../../../native/index.js';
import { buildFakeHost } from '../../helpers/fake-sysfs.js';
import { AgentProcess, runShim } from '../../helpers/agent-harness.js';
import { cliPath } from '../../helpers/paths.js';
import {
  addNetns, deleteNetns, run, ipJson, labRunDir, ipLink, modprobe, netdevsOf, notInLabReason, pings, readSysfs, waitFor, writeSysfs, type IpLink, type PciFunction,
} from './lab-guest.js';
import { igbVfSetup, vfList } from './igb-vfs.js';

const exec = new ExecPluginExecutor(['/usr/lib/cni'], 60_000);
const stateDir = mkdtempSync(join(tmpdir(), 'npx-lab-delegates-'));
const pods = { a: 'npx-dlg-pod-a', b: 'npx-dlg-pod-b' };
const podPath = (name: string) => `/run/netns/${name}`;

function staticIpam(address: string): Record<string, unknown> {
  return { type: 'static', addresses: [{ address }] };
}

function registry(options: { hostNetns?: string; sysfsRoot?: string } = {}): DelegateRegistry {
  return new DelegateRegistry({ host: nativeHostNetwork(), stateDir, ...options });
}

async function call(reg: DelegateRegistry, type: string, command: string, pod: string, conf: Record<string, unknown>, ifname = 'net1'): Promise<Record<string, unknown> | undefined> {
  return reg.run({
    type, command, containerId: `lab-${pod}`, netns: podPath(pod), ifname, cniArgs: 'IgnoreUnknown=1',
    stdin: { cniVersion: '1.0.0', name: `lab-${type}`, type, ...conf },
  }, exec) as Promise<Record<string, unknown> | undefined>;
}

t.teardown(() => Object.values(pods).forEach(deleteNetns));

for (const [index, mode] of (['l2', 'l3', 'l3s'] as const).entries()) {
  t.test(`ipvlan ${mode} (built-in): two pods on one master reach each other; DEL removes the links`, { skip: notInLabReason }, async (tt) => {
    modprobe('dummy', 'ipvlan');
    const host = `npx-dlg-ipv-${mode}`;
    tt.teardown(() => [host, pods.a, pods.b].forEach(deleteNetns));
    const hostPath = addNetns(host);
    addNetns(pods.a);
    addNetns(pods.b);
    await createDummy({ name: 'master0', netns: hostPath });
    await setLinkUp('master0', true, { netns: hostPath });
    const reg = registry({ hostNetns: hostPath });
    for (const [pod, last] of [[pods.a, 1], [pods.b, 2]] as const) {
      const result = await call(reg, 'ipvlan', 'ADD', pod, { master: 'master0', mode, ipam: staticIpam(`10.81.${index}.${last}/24`) });
      tt.match(result?.['ips'], [{ address: `10.81.${index}.${last}/24`, interface: 0 }], `${pod}: result`);
      const seen = ipLink('net1', pod, true);
      tt.equal(seen.linkinfo?.info_kind, 'ipvlan', `${pod}: an ipvlan`);
      tt.equal((seen.linkinfo?.info_data as { mode?: string } | undefined)?.mode, mode, `${pod}: mode ${mode}`);
      tt.ok(seen.flags?.includes('UP'), `${pod}: up`);
      const conf = { master: 'master0', mode, ipam: staticIpam(`10.81.${index}.${last}/24`) };
      await call(reg, 'ipvlan', 'CHECK', pod, { ...conf, prevResult: result });
      const other = mode === 'l2' ? 'l3' : 'l2';
      await tt.rejects(call(reg, 'ipvlan', 'CHECK', pod, { ...conf, mode: other, prevResult: result }), { message: new RegExp(`Container IPVlan mode ${mode} does not match expected value: ${other}`) }, `${pod}: CHECK with mode ${other} fails on the real ${mode} link`);
    }
    tt.ok(pings(pods.a, `10.81.${index}.2`) || pings(pods.a, `10.81.${index}.2`), 'pod A pings pod B');
    for (const pod of [pods.a, pods.b]) await call(reg, 'ipvlan', 'DEL', pod, { master: 'master0', mode, ipam: staticIpam('10.81.0.9/24') });
    tt.same(ipJson<IpLink[]>(['link', 'show'], pods.a).map((link) => link.ifname), ['lo'], 'the ipvlan is gone from pod A');
  });
}

t.test('benchmark: ipvlan ADD+DEL, built-in in this process and through the C shim → nicplex agent vs exec\'ing /usr/lib/cni/ipvlan (recorded, TCG)', { skip: notInLabReason }, async (tt) => {
  modprobe('dummy', 'ipvlan');
  // The VM's own namespace is the host here (the VM is disposable), so neither side pays for `ip netns exec`.
  tt.teardown(() => {
    deleteNetns(pods.a);
    spawnSync('ip', ['link', 'del', 'npxbench0']);
  });
  addNetns(pods.a);
  await createDummy({ name: 'npxbench0' });
  await setLinkUp('npxbench0', true);
  const reg = registry();
  const conf = { cniVersion: '1.0.0', name: 'lab-ipvlan', type: 'ipvlan', master: 'npxbench0', mode: 'l2', ipam: staticIpam('10.86.0.1/24') };
  const env = (command: string) => ({ PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_CONTAINERID: 'bench', CNI_NETNS: podPath(pods.a), CNI_IFNAME: 'net1', CNI_PATH: '/usr/lib/cni' });
  // The agent as a runtime reaches it: the shim execs, the agent runs the built-in ipvlan as the pod's only network.
  const agentDir = mkdtempSync(join(tmpdir(), 'npx-lab-ipvlan-agent-'));
  const socketDir = join(agentDir, 'sock');
  const agent = await AgentProcess.startInRootNetns(['--socket-dir', socketDir, '--metrics-address', '', '--log-level', 'error'], join(socketDir, 'nicplex.sock'), { timeoutMs: 300_000 });
  tt.teardown(() => agent.stop('SIGKILL'));
  const shimConf = { cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: join(agentDir, 'cache'), binDir: '/usr/lib/cni', socketDir, delegateStateDir: join(agentDir, 'state'), delegates: [conf] };
  const samples = { builtin: [] as number[], shim: [] as number[], reference: [] as number[] };
  const time = async (work: () => Promise<unknown> | unknown) => {
    const started = process.hrtime.bigint();
    await work();
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  for (let round = -2; round < 10; round++) {
    const builtin = await time(async () => {
      await call(reg, 'ipvlan', 'ADD', pods.a, conf);
      await call(reg, 'ipvlan', 'DEL', pods.a, conf);
    });
    let shim = 0;
    for (const command of ['ADD', 'DEL']) {
      const result = await runShim({ ...env(command), CNI_IFNAME: 'eth0' }, shimConf);
      if (result.exitCode !== 0) throw new Error(`shim → agent ipvlan ${command}: ${result.stdout}${agent.stderr()}`);
      shim += result.ms;
    }
    const reference = await time(() => {
      for (const command of ['ADD', 'DEL']) {
        const result = spawnSync('/usr/lib/cni/ipvlan', [], { input: JSON.stringify(conf), encoding: 'utf8', env: env(command) });
        if (result.status !== 0) throw new Error(`reference ipvlan ${command}: ${result.stdout}`);
      }
    });
    if (round < 0) continue;
    samples.builtin.push(builtin);
    samples.shim.push(shim);
    samples.reference.push(reference);
  }
  const reference = median(samples.reference);
  const rows = [
    { case: 'ipvlan ADD+DEL (static IPAM), lab VM under TCG: built-in in a long-running process vs exec of /usr/lib/cni/ipvlan', nicplex_ms: median(samples.builtin), reference_ms: reference, ratio: median(samples.builtin) / reference, goal: 0.25 },
    { case: 'ipvlan ADD+DEL (static IPAM), lab VM under TCG: the C shim → nicplex agent (built-in ipvlan) vs exec of /usr/lib/cni/ipvlan', nicplex_ms: median(samples.shim), reference_ms: reference, ratio: median(samples.shim) / reference, goal: 1.0 },
  ];
  for (const row of rows) tt.comment(JSON.stringify(row));
  if (labRunDir) {
    mkdirSync(join(labRunDir, 'bench-results'), { recursive: true });
    writeFileSync(join(labRunDir, 'bench-results', 'delegates-ipvlan.json'), `${JSON.stringify({ summary: rows, samples }, null, 2)}\n`);
  }
  tt.equal(samples.shim.length, 10, 'every shim call succeeded');
  const left = spawnSync('ip', ['-n', pods.a, '-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n').filter((line) => / (net1|eth0)@/.test(line));
  tt.same(left, [], 'after the last DEL the pod netns holds no ipvlan link');
});

let igbPf = '';
const igbVfs: PciFunction[] = [];

async function igbSetup(): Promise<void> {
  if (igbPf) return;
  const { pf, vfs } = await igbVfSetup();
  igbPf = pf;
  igbVfs.push(...vfs);
}

t.test('sriov kernel mode on igb VFs: VLAN, MAC, spoofchk, trust through the PF; traffic between two pods; DEL restores the PF', { skip: notInLabReason }, async (tt) => {
  await igbSetup();
  addNetns(pods.a);
  addNetns(pods.b);
  tt.teardown(() => [pods.a, pods.b].forEach(deleteNetns));
  const before = vfList(igbPf);
  const names = [netdevsOf(igbVfs[0]!.dir)[0], netdevsOf(igbVfs[1]!.dir)[0]];
  const reg = registry();
  const confs = [
    { deviceID: igbVfs[0]!.address, vlan: 100, vlanQoS: 2, mac: '02:6e:70:00:01:10', spoofchk: 'on', trust: 'off', ipam: staticIpam('10.82.0.1/24') },
    { deviceID: igbVfs[1]!.address, vlan: 100, mac: '02:6e:70:00:01:11', spoofchk: 'off', trust: 'on', ipam: staticIpam('10.82.0.2/24') },
  ];
  confs[0]!.ipam = { type: 'static', addresses: [{ address: '10.82.0.1/24' }, { address: 'fd82::1/64' }] };
  confs[1]!.ipam = { type: 'static', addresses: [{ address: '10.82.0.2/24' }, { address: 'fd82::2/64' }] };
  // Pod B first; then its neighbour table gets stale entries with a wrong MAC for pod A's addresses,
  // which only pod A's gratuitous ARP and unsolicited NA can correct (no traffic flows before the check).
  for (const index of [1, 0]) {
    const pod = [pods.a, pods.b][index]!;
    if (index === 0) {
      await waitFor('pod B\'s VF up', () => ipLink('net1', pods.b).operstate === 'UP', 20_000);
      for (const address of ['10.82.0.1', 'fd82::1']) run('ip', ['-n', pods.b, 'neigh', 'replace', address, 'lladdr', '02:00:00:00:00:99', 'dev', 'net1', 'nud', 'stale']);
    }
    const result = await call(reg, 'sriov', 'ADD', pod, confs[index]!);
    tt.match(result?.['interfaces'], [{ name: 'net1', mac: confs[index]!.mac, sandbox: podPath(pod) }], `${pod}: result`);
    tt.equal(ipLink('net1', pod).address, confs[index]!.mac, `${pod}: the VF netdev has the MAC`);
  }
  const neighbour = (address: string) => ipJson<Array<{ dst: string; lladdr?: string }>>(['neigh', 'show', 'dev', 'net1'], pods.b).find((entry) => entry.dst === address)?.lladdr;
  const announced = await waitFor('pod A\'s announcements in pod B\'s neighbour table', () => neighbour('10.82.0.1') === confs[0]!.mac && neighbour('fd82::1') === confs[0]!.mac, 5000).catch(() => false);
  tt.ok(announced, `pod B learnt pod A's MAC from the announcements alone (IPv4 ${neighbour('10.82.0.1') ?? 'none'}, IPv6 ${neighbour('fd82::1') ?? 'none'})`);
  const vfs = ipJson<IpLink[]>(['-d', 'link', 'show', 'dev', igbPf])[0]?.vfinfo_list ?? [];
  tt.match(vfs[0], { address: '02:6e:70:00:01:10', spoofchk: true, trust: false, vlan_list: [{ vlan: 100, qos: 2 }] }, 'VF0 through the PF');
  tt.match(vfs[1], { address: '02:6e:70:00:01:11', spoofchk: false, trust: true, vlan_list: [{ vlan: 100 }] }, 'VF1 through the PF');
  await waitFor('both VFs up', () => ipLink('net1', pods.a).operstate === 'UP' && ipLink('net1', pods.b).operstate === 'UP', 20_000);
  tt.ok(pings(pods.a, '10.82.0.2') || pings(pods.a, '10.82.0.2'), 'pod A reaches pod B over VLAN 100 through the NIC');
  for (const [index, pod] of [pods.a, pods.b].entries()) await call(reg, 'sriov', 'DEL', pod, confs[index]!);
  tt.same(vfList(igbPf), before, 'ip -d link of the PF: every VF attribute as before ADD');
  tt.same([netdevsOf(igbVfs[0]!.dir)[0], netdevsOf(igbVfs[1]!.dir)[0]], names, 'both VF netdevs back under their names');
});

t.test('whole thin-mode path: nicplex cni, two pods each with a sriov NAD on an igb VF from the device pool, traffic, DEL restores', { skip: notInLabReason }, async (tt) => {
  await igbSetup();
  addNetns(pods.a);
  addNetns(pods.b);
  tt.teardown(() => [pods.a, pods.b].forEach(deleteNetns));
  const dir = mkdtempSync(join(tmpdir(), 'npx-lab-thin-'));
  mkdirSync(join(dir, 'nads'));
  for (const [name, address] of [['sriov-a', '10.85.0.1/24'], ['sriov-b', '10.85.0.2/24']]) {
    writeFileSync(join(dir, 'nads', `${name}.json`), JSON.stringify({
      apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition',
      metadata: { name, namespace: 'default', annotations: { 'k8s.v1.cni.cncf.io/resourceName': 'intel.com/igb_vf' } },
      spec: { config: JSON.stringify({ cniVersion: '1.0.0', name, type: 'sriov', vlan: 101, spoofchk: 'on', ipam: staticIpam(address!) }) },
    }));
  }
  const conf = JSON.stringify({
    cniVersion: '1.0.0', name: 'nicplex', type: 'nicplex', cniDir: join(dir, 'cache'), binDir: '/usr/lib/cni', delegateStateDir: join(dir, 'state'),
    standalone: { nadDir: join(dir, 'nads'), allocationDir: join(dir, 'alloc'), devicePools: { 'intel.com/igb_vf': [igbVfs[0]!.address, igbVfs[1]!.address] } },
    delegates: [{ cniVersion: '1.0.0', name: 'lo', type: 'loopback' }],
  });
  const before = vfList(igbPf);
  const names = [netdevsOf(igbVfs[0]!.dir)[0], netdevsOf(igbVfs[1]!.dir)[0]];
  const cni = (command: string, pod: string, network: string) => {
    const result = spawnSync(process.execPath, [cliPath, 'cni'], {
      input: conf, encoding: 'utf8', timeout: 120_000,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_CONTAINERID: `thin-${pod}`, CNI_NETNS: podPath(pod), CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni', CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};NICPLEX_NETWORKS=${network}` },
    });
    tt.equal(result.status, 0, `nicplex cni ${command} ${pod}: ${result.stdout}${result.stderr.slice(-500)}`);
  };
  cni('ADD', pods.a, 'sriov-a@net1');
  cni('ADD', pods.b, 'sriov-b@net1');
  tt.match((ipJson<IpLink[]>(['-d', 'link', 'show', 'dev', igbPf])[0]?.vfinfo_list ?? []).slice(0, 2), [{ vlan_list: [{ vlan: 101 }] }, { vlan_list: [{ vlan: 101 }] }], 'both VFs on VLAN 101');
  await waitFor('both VFs up', () => ipLink('net1', pods.a).operstate === 'UP' && ipLink('net1', pods.b).operstate === 'UP', 20_000);
  tt.ok(pings(pods.a, '10.85.0.2') || pings(pods.a, '10.85.0.2'), 'pod A reaches pod B through the NIC');
  cni('DEL', pods.a, 'sriov-a@net1');
  cni('DEL', pods.b, 'sriov-b@net1');
  tt.same(vfList(igbPf), before, 'every VF attribute as before');
  tt.same([netdevsOf(igbVfs[0]!.dir)[0], netdevsOf(igbVfs[1]!.dir)[0]], names, 'VF netdevs back under their names');
});

t.test('sriov DPDK mode: a VF on vfio-pci gets PF-side attributes only; the IPAM result is returned', { skip: notInLabReason }, async (tt) => {
  await igbSetup();
  addNetns(pods.a);
  tt.teardown(() => deleteNetns(pods.a));
  const before = vfList(igbPf);
  const reg = registry();
  const conf = { deviceID: igbVfs[2]!.address, vlan: 300, ipam: staticIpam('10.83.0.1/24') };
  const result = await call(reg, 'sriov', 'ADD', pods.a, conf);
  tt.match(result?.['ips'], [{ address: '10.83.0.1/24', interface: 0 }]);
  tt.match((ipJson<IpLink[]>(['-d', 'link', 'show', 'dev', igbPf])[0]?.vfinfo_list ?? [])[2], { vlan_list: [{ vlan: 300 }] }, 'VLAN through the PF');
  tt.same(ipJson<IpLink[]>(['link', 'show'], pods.a).map((link) => link.ifname), ['lo'], 'nothing moved into the pod');
  await call(reg, 'sriov', 'DEL', pods.a, conf);
  tt.same(vfList(igbPf), before, 'VF attributes as before');
});

t.test('host-device with an igb VF by PCI address (runtimeConfig.deviceID)', { skip: notInLabReason }, async (tt) => {
  await igbSetup();
  addNetns(pods.b);
  tt.teardown(() => deleteNetns(pods.b));
  const vf = igbVfs[3]!;
  const name = netdevsOf(vf.dir)[0];
  const mac = readSysfs(`/sys/class/net/${name}/address`);
  const reg = registry();
  const conf = { runtimeConfig: { deviceID: vf.address }, ipam: staticIpam('10.84.0.1/24') };
  const result = await call(reg, 'host-device', 'ADD', pods.b, conf);
  tt.match(result?.['interfaces'], [{ name: 'net1', mac, sandbox: podPath(pods.b) }]);
  tt.equal(ipLink('net1', pods.b).address, mac, 'the VF netdev is in the pod');
  await call(reg, 'host-device', 'DEL', pods.b, conf);
  tt.equal(netdevsOf(vf.dir)[0], name, 'back under its name');
  tt.equal(readSysfs(`/sys/class/net/${name}/address`), mac, 'and its MAC');
});

t.test('every VF attribute through the sriov delegate on netdevsim (DPDK-shaped VF), restored by DEL', { skip: notInLabReason }, async (tt) => {
  modprobe('netdevsim');
  const id = 43;
  const deviceDir = `/sys/bus/netdevsim/devices/netdevsim${id}`;
  writeSysfs('/sys/bus/netdevsim/new_device', `${id} 1`);
  tt.teardown(() => writeSysfs('/sys/bus/netdevsim/del_device', `${id}`));
  const pf = await waitFor('the netdevsim port netdev', () => netdevsOf(deviceDir)[0]);
  writeSysfs(join(deviceDir, 'sriov_numvfs'), '2');
  // netdevsim VFs are not PCI functions: a fake sysfs gives VF 1 a PCI address, a physfn to a PF whose
  // netdev is the netdevsim port, and a vfio-pci driver, so the delegate drives the real PF.
  const fake = buildFakeHost({ pci: [
    { address: '0000:0f:00.0', vendor: '8086', device: '1572', driver: 'i40e', netdevs: [pf], sriov: { totalVfs: 2, numVfs: 2 } },
    { address: '0000:0f:02.1', vendor: '8086', device: '154c', driver: 'vfio-pci', vfOf: { pf: '0000:0f:00.0', vfIndex: 1 } },
  ] }, mkdtempSync(join(tmpdir(), 'npx-lab-fake-')));
  addNetns(pods.a);
  tt.teardown(() => deleteNetns(pods.a));
  const before = vfList(pf);
  const reg = registry({ sysfsRoot: fake.sysfsRoot });
  const conf = { deviceID: '0000:0f:02.1', vlan: 200, vlanQoS: 5, vlanProto: '802.1ad', mac: '02:6e:70:00:02:01', spoofchk: 'off', trust: 'on', link_state: 'disable', min_tx_rate: 10, max_tx_rate: 100 };
  await call(reg, 'sriov', 'ADD', pods.a, conf);
  const vf = (ipJson<IpLink[]>(['-d', 'link', 'show', 'dev', pf])[0]?.vfinfo_list ?? [])[1];
  tt.match(vf, { address: '02:6e:70:00:02:01', spoofchk: false, trust: true, link_state: 'disable', vlan_list: [{ vlan: 200, qos: 5, protocol: '802.1ad' }], rate: { min_tx: 10, max_tx: 100 } }, 'every attribute set');
  await call(reg, 'sriov', 'DEL', pods.a, conf);
  tt.same(vfList(pf), before, 'ip -d link of the PF: VF 1 as before ADD');
  fake.cleanup();
});
