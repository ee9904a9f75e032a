// The built-in host-device delegate on the host kernel. A private namespace stands in for the host and
// veth ends for host devices; IPAM is Debian's host-local/static, exec'd as the reference does. Also:
// `nicplex cni` with a CNI bin dir holding only IPAM plugins (so no delegate binary can have run), and a
// differential run against Debian's /usr/lib/cni/host-device with the same config.
import t, { type Test as Tap } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DelegateRegistry } from '../../cni/delegates/registry.js';
import { ExecPluginExecutor } from '../../cni/exec.js';
import { nativeHostNetwork } from '../../native/index.js';
import { buildFakeHost } from '../helpers/fake-sysfs.js';
import { CniLab, REFERENCE_PLUGIN_DIR, cniEnv, sh } from '../helpers/cni-lab.js';

interface IpLinkJson { ifname: string; address: string; mtu: number; flags: string[]; ifalias?: string; operstate: string }
interface Env {
  lab: CniLab;
  hostNs: string;
  hostPath: string;
  pod: { name: string; path: string };
  device: string;
  mac: string;
  dir: string;
  registry: DelegateRegistry;
  call(command: string, conf: Record<string, unknown>, opts?: { netns?: string; containerId?: string }): Promise<unknown>;
}

let counter = 0;
const exec = new ExecPluginExecutor([REFERENCE_PLUGIN_DIR], 20_000);

function linkIn(ns: string, name: string): IpLinkJson | undefined {
  const result = spawnSync('ip', ['-n', ns, '-j', '-d', 'link', 'show', 'dev', name], { encoding: 'utf8' });
  return result.status === 0 ? (JSON.parse(result.stdout) as IpLinkJson[])[0] : undefined;
}

function setup(tt: Tap, mac = `02:42:ac:${(process.pid % 256).toString(16).padStart(2, '0')}:00:${(++counter).toString(16).padStart(2, '0')}`, sysfsNetdev = true): Env {
  const lab = new CniLab('hd');
  const dir = mkdtempSync(join(tmpdir(), 'npx-hd-state-'));
  tt.teardown(() => {
    lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  const device = `hd${lab.id}`.slice(0, 15);
  lab.hostVeth(device, `${device}p`.slice(0, 15));
  sh('ip', ['-n', lab.hostNs, 'link', 'set', device, 'address', mac]);
  const pod = lab.containerNetns('p');
  // A fake sysfs whose PCI function and kernel path carry the veth end as their netdev.
  const fake = buildFakeHost(sysfsNetdev ? { pci: [{ address: '0000:00:1f.0', vendor: '8086', device: '10c9', driver: 'igb', netdevs: [device] }] } : {}, join(dir, 'fake'));
  const registry = new DelegateRegistry({ host: nativeHostNetwork(), hostNetns: `/run/netns/${lab.hostNs}`, sysfsRoot: fake.sysfsRoot, stateDir: join(dir, 'state') });
  return {
    lab, hostNs: lab.hostNs, hostPath: `/run/netns/${lab.hostNs}`, pod, device, mac, dir, registry,
    call: (command, conf, opts = {}) => registry.run({
      type: 'host-device', command, containerId: opts.containerId ?? `ctr${lab.id}`, netns: opts.netns ?? pod.path, ifname: 'net1', cniArgs: '',
      stdin: { cniVersion: '1.0.0', name: 'hdnet', type: 'host-device', ...conf },
    }, exec),
  };
}

function hostLocal(env: Env, subnet = '10.66.0.0/24'): Record<string, unknown> {
  return { type: 'host-local', subnet, dataDir: join(env.dir, 'ipam'), routes: [{ dst: '0.0.0.0/0' }] };
}

function leases(env: Env): string[] {
  const dir = join(env.dir, 'ipam', 'hdnet');
  return existsSync(dir) ? readdirSync(dir).filter((name) => /^\d/.test(name)) : [];
}

async function rejects(promise: Promise<unknown>): Promise<Error | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

t.test('device by name: moved, renamed, aliased, up, addressed, routed; DEL returns it under its name, MAC and MTU', async (tt) => {
  const env = setup(tt);
  sh('ip', ['-n', env.hostNs, 'link', 'set', env.device, 'mtu', '1400']);
  const result = await env.call('ADD', { device: env.device, ipam: hostLocal(env) }) as Record<string, unknown>;
  const inPod = linkIn(env.pod.name, 'net1');
  tt.equal(inPod?.address, env.mac, 'same MAC in the pod');
  tt.equal(inPod?.ifalias, env.device, 'alias = host name');
  tt.ok(inPod?.flags.includes('UP'), 'up');
  tt.equal(linkIn(env.hostNs, env.device), undefined, 'gone from the host');
  tt.same(result['interfaces'], [{ name: 'net1', mac: env.mac, sandbox: env.pod.path }]);
  tt.same(result['ips'], [{ interface: 0, address: '10.66.0.2/24', gateway: '10.66.0.1' }]);
  tt.match(sh('ip', ['-n', env.pod.name, '-4', 'addr', 'show', 'dev', 'net1']), /10\.66\.0\.2\/24/);
  tt.match(sh('ip', ['-n', env.pod.name, 'route', 'show', 'default']), /default via 10\.66\.0\.1 dev net1/);
  sh('ip', ['-n', env.pod.name, 'link', 'set', 'net1', 'mtu', '1300']);
  await env.call('DEL', { device: env.device, ipam: hostLocal(env) });
  const back = linkIn(env.hostNs, env.device);
  tt.equal(back?.address, env.mac, 'back with its MAC');
  tt.equal(back?.mtu, 1400, 'MTU restored');
  tt.notOk(back?.ifalias, 'alias cleared');
  tt.ok(back?.flags.includes('UP'), 'up, as it was before ADD');
  tt.same(leases(env), [], 'IPAM lease released');
  await env.call('DEL', { device: env.device, ipam: hostLocal(env) });
  tt.ok(linkIn(env.hostNs, env.device), 'a second DEL succeeds and leaves it alone');
});

t.test('hwaddr, kernelpath and runtimeConfig.deviceID select the veth end', async (tt) => {
  for (const select of ['hwaddr', 'kernelpath', 'deviceID', 'pciBusID'] as const) {
    await tt.test(select, async (st) => {
      const env = setup(st);
      const conf = select === 'hwaddr' ? { hwaddr: env.mac.toUpperCase() }
        : select === 'kernelpath' ? { kernelpath: '/sys/devices/pci0000:00/0000:00:1f.0' }
          : select === 'pciBusID' ? { pciBusID: '0000:00:1f.0' }
            : { device: 'not-this-one', runtimeConfig: { deviceID: '0000:00:1f.0' } };
      await env.call('ADD', conf);
      st.equal(linkIn(env.pod.name, 'net1')?.ifalias, env.device, `${select} found ${env.device}`);
      await env.call('DEL', conf);
      st.ok(linkIn(env.hostNs, env.device), 'returned');
    });
  }
});

t.test('rollback: IPAM failure after the move returns the device to the host under its name, up', async (tt) => {
  const env = setup(tt);
  const error = await rejects(env.call('ADD', { device: env.device, ipam: { type: 'static', addresses: [{ address: 'not-an-ip' }] } }));
  tt.ok(error, 'ADD failed');
  const back = linkIn(env.hostNs, env.device);
  tt.ok(back, 'device back in the host under its name');
  tt.ok(back?.flags.includes('UP'), 'up again');
  tt.notOk(back?.ifalias, 'no alias left');
  tt.equal(linkIn(env.pod.name, 'net1'), undefined, 'nothing in the pod');
});

t.test('DEL variants: netns gone, CNI_NETNS empty, state file gone', async (tt) => {
  await tt.test('netns gone: the veth died with it; DEL succeeds and releases the lease', async (st) => {
    const env = setup(st);
    await env.call('ADD', { device: env.device, ipam: hostLocal(env) });
    sh('ip', ['netns', 'del', env.pod.name]);
    await env.call('DEL', { device: env.device, ipam: hostLocal(env) });
    st.same(leases(env), [], 'lease released');
    await env.call('DEL', { device: env.device, ipam: hostLocal(env) });
    st.pass('and again');
  });
  await tt.test('CNI_NETNS empty: IPAM DEL still runs', async (st) => {
    const env = setup(st);
    await env.call('ADD', { device: env.device, ipam: hostLocal(env) });
    await env.call('DEL', { device: env.device, ipam: hostLocal(env) }, { netns: '' });
    st.same(leases(env), [], 'lease released');
  });
  await tt.test('state gone: the alias names the host device', async (st) => {
    const env = setup(st);
    await env.call('ADD', { device: env.device });
    rmSync(join(env.dir, 'state'), { recursive: true, force: true });
    await env.call('DEL', { device: env.device });
    st.ok(linkIn(env.hostNs, env.device), 'back under its name');
  });
});

t.test('nicplex cni with a bin dir holding only IPAM plugins: host-device runs in-process', async (tt) => {
  const env = setup(tt);
  const binDir = join(env.dir, 'bin');
  mkdirSync(binDir);
  symlinkSync(join(REFERENCE_PLUGIN_DIR, 'host-local'), join(binDir, 'host-local'));
  const conf = {
    cniVersion: '1.0.0', name: 'meta', type: 'nicplex', binDir, cniDir: join(env.dir, 'cache'), delegateStateDir: join(env.dir, 'delegate-state'),
    delegates: [{ cniVersion: '1.0.0', name: 'hdnet', type: 'host-device', device: env.device, ipam: hostLocal(env) }],
  };
  const add = await env.lab.runCni({ ...cniEnv('ADD', `ctr${env.lab.id}`, env.pod.path, 'eth0'), CNI_PATH: binDir }, conf);
  tt.equal(add.exitCode, 0, add.stdout + add.stderr);
  tt.same((add.json?.['interfaces'] as unknown[])?.[0], { name: 'eth0', mac: env.mac, sandbox: env.pod.path });
  tt.equal(linkIn(env.pod.name, 'eth0')?.address, env.mac, 'the device is in the pod');
  const del = await env.lab.runCni({ ...cniEnv('DEL', `ctr${env.lab.id}`, env.pod.path, 'eth0'), CNI_PATH: binDir }, conf);
  tt.equal(del.exitCode, 0, del.stdout + del.stderr);
  tt.ok(linkIn(env.hostNs, env.device), 'back in the host');
  const denied = await env.lab.runCni({ ...cniEnv('ADD', `ctr${env.lab.id}`, env.pod.path, 'eth0'), CNI_PATH: binDir }, { ...conf, builtinDelegates: ['sriov', 'ipvlan'] });
  tt.match(denied.json?.['msg'], /failed to find plugin "host-device"/, 'with host-device left out of builtinDelegates it is exec\'d (and not found here)');
});

/** The pod namespace as both runs leave it, with run-specific names normalised. */
function podState(ns: string, sandbox: string): Record<string, unknown> {
  const links = (JSON.parse(sh('ip', ['-n', ns, '-j', '-d', 'addr', 'show'])) as Array<Record<string, unknown>>).map((link) => ({
    ifname: link['ifname'], address: link['address'], mtu: link['mtu'], flags: link['flags'], ifalias: link['ifalias'] ? 'ALIAS' : undefined,
    addrs: ((link['addr_info'] as Array<Record<string, unknown>>) ?? []).map((a) => `${a['family']} ${a['local']}/${a['prefixlen']} ${a['scope']}`).sort(),
  }));
  const routes = ['-4', '-6'].flatMap((family) => (JSON.parse(sh('ip', [family, '-n', ns, '-j', 'route', 'show', 'table', 'all'])) as Array<Record<string, unknown>>)
    .map((route) => JSON.stringify({ ...route, dev: route['dev'] }))).sort();
  return { links, routes, sandbox: sandbox.replace(/[^/]+$/, 'POD') };
}

t.test('differential: the built-in and Debian\'s host-device leave the pod in the same state and answer the same result', async (tt) => {
  const mac = '02:42:ac:11:00:77';
  const ipam = { type: 'static', addresses: [{ address: '10.77.0.5/24', gateway: '10.77.0.1' }, { address: 'fd77::5/64', gateway: 'fd77::1' }], routes: [{ dst: '0.0.0.0/0' }, { dst: '10.78.0.0/16', gw: '10.77.0.254' }], dns: { nameservers: ['10.77.0.53'] } };
  for (const version of ['1.0.0', '0.4.0', '0.3.1']) {
    await tt.test(`cniVersion ${version}`, async (st) => {
      const reference = setup(st, mac, false);
      const builtin = setup(st, mac, false);
      const name = 'hdtwin0';
      for (const env of [reference, builtin]) sh('ip', ['-n', env.hostNs, 'link', 'set', env.device, 'name', name]);
      const conf = { cniVersion: version, name: 'hdnet', type: 'host-device', device: name, ipam, dns: { nameservers: ['192.0.2.53'], search: ['example.com'] } };
      const run = spawnSync('ip', ['netns', 'exec', reference.hostNs, join(REFERENCE_PLUGIN_DIR, 'host-device')], {
        input: JSON.stringify(conf), encoding: 'utf8',
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'twin', CNI_NETNS: reference.pod.path, CNI_IFNAME: 'net1', CNI_PATH: REFERENCE_PLUGIN_DIR },
      });
      st.equal(run.status, 0, `reference ADD: ${run.stdout}${run.stderr}`);
      const referenceResult = JSON.parse(run.stdout) as Record<string, unknown>;
      const builtinResult = await builtin.registry.run({
        type: 'host-device', command: 'ADD', containerId: 'twin', netns: builtin.pod.path, ifname: 'net1', cniArgs: '', stdin: conf,
      }, exec) as Record<string, unknown>;
      const normalise = (result: Record<string, unknown>, sandbox: string) => JSON.parse(JSON.stringify(result).split(sandbox).join('/run/netns/POD')) as Record<string, unknown>;
      const expected = normalise(referenceResult, reference.pod.path);
      const actual = normalise(builtinResult, builtin.pod.path);
      for (const key of new Set([...Object.keys(expected), ...Object.keys(actual)])) st.same(actual[key], expected[key], `result.${key}`);
      const referenceState = podState(reference.pod.name, reference.pod.path);
      const builtinState = podState(builtin.pod.name, builtin.pod.path);
      st.same(builtinState['links'], referenceState['links'], 'links: names, MACs, MTU, flags, alias, addresses');
      st.same(builtinState['routes'], referenceState['routes'], 'routes');
    });
  }
});
