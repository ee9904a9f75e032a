// Device health from real netlink link events: a veth pair in a namespace of our own plays the PF
// netdev; taking its peer down must reach the kubelet stand-in as Unhealthy, and back.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { NetlinkLinkStateSource } from '../../deviceplugin/netlink-link-state.js';
import { fakeSnapshot, fakeVfs } from '../helpers/dp-snapshot.js';
import { startHarness } from '../helpers/dp-harness.js';

const ns = `npxdp${process.pid}`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
const healthy = (devices: { health: string }[] | undefined) => (devices ?? []).filter((d) => d.health === 'Healthy').length;

t.test('netlink link source: PF link down → Unhealthy at the kubelet within 1 s, and back', async (t) => {
  ip('netns', 'add', ns);
  t.teardown(() => {
    try { ip('netns', 'del', ns); } catch { /* already gone */ }
  });
  ip('-n', ns, 'link', 'add', 'npxpf0', 'type', 'veth', 'peer', 'name', 'npxpeer0');
  ip('-n', ns, 'link', 'set', 'npxpf0', 'up');
  ip('-n', ns, 'link', 'set', 'npxpeer0', 'up');
  const linkState = new NetlinkLinkStateSource({ sysfsRoot: '/sys', netns: `/run/netns/${ns}` });
  await linkState.ready();
  const h = await startHarness({ snapshot: fakeSnapshot([{ name: 'vfs', devices: fakeVfs('0000:3b:00.0', 'npxpf0', '3b', 2) }]), linkState });
  t.teardown(() => h.close());
  await h.kubelet.waitForHealthy('intel.com/vfs', 2, 3000);
  let started = Date.now();
  ip('-n', ns, 'link', 'set', 'npxpeer0', 'down'); // carrier lost on npxpf0
  await h.kubelet.waitFor('intel.com/vfs', (v) => v?.devices.length === 2 && healthy(v.devices) === 0, 1000, 'Unhealthy after carrier loss');
  t.pass(`Unhealthy seen after ${Date.now() - started} ms`);
  started = Date.now();
  ip('-n', ns, 'link', 'set', 'npxpeer0', 'up');
  await h.kubelet.waitForHealthy('intel.com/vfs', 2, 1000);
  t.pass(`Healthy again after ${Date.now() - started} ms`);
});
