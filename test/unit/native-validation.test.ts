// Bad inputs to the native facade are rejected with EINVAL and a message naming the field, before
// any kernel call (these run unprivileged: nothing reaches netlink).
import t, { type Test as Tap } from 'tap';
import * as native from '../../native/index.js';

async function invalid(tt: Tap, promise: Promise<unknown>, field: RegExp, what: string): Promise<void> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  tt.ok(err instanceof native.NativeError, `${what}: NativeError`);
  tt.equal((err as native.NativeError).errno, 'EINVAL', `${what}: EINVAL`);
  tt.match((err as Error).message, field, `${what}: message names the input (${(err as Error).message})`);
}


t.test('link names, MACs, MTUs and namespace paths', async (tt) => {
  await invalid(tt, native.getLink('this-name-is-too-long'), /link "this-name-is-too-long"/, 'name over 15 bytes');
  await invalid(tt, native.getLink('a/b'), /'\/'/, 'name with a slash');
  await invalid(tt, native.getLink(''), /not a valid interface name/, 'empty name');
  await invalid(tt, native.getLink(0), /ifindex/, 'ifindex 0');
  await invalid(tt, native.setLinkMac('eth9', '02:00:00:00:00'), /mac "02:00:00:00:00"/, 'short MAC');
  await invalid(tt, native.setLinkMtu('eth9', 10), /mtu 10/, 'MTU below 68');
  await invalid(tt, native.listLinks({ netns: 'relative/path' }), /netns "relative\/path"/, 'relative netns path');
  await invalid(tt, native.moveLinkToNetns('eth9', 'x'), /targetNetns "x"/, 'relative target namespace');
  await invalid(tt, native.createVeth({ name: 'ok0', peerName: 'bad name' }), /peerName "bad name"/, 'peer name with a space');
  await invalid(tt, native.createMacvlan({ name: 'mv0', parent: 'eth9', mode: 'nope' as 'bridge' }), /mode "nope"/, 'macvlan mode');
  await invalid(tt, native.createIpvlan({ name: 'iv0', parent: 'eth9', mode: 'l2', flag: 'x' as 'bridge' }), /flag "x"/, 'ipvlan flag');
  await invalid(tt, native.createVlan({ name: 'vl0', parent: 'eth9', vlanId: 4095 }), /vlanId 4095/, 'VLAN id 4095');
});

t.test('addresses, routes, VFs and sysctls', async (tt) => {
  await invalid(tt, native.addAddress('eth9', '10.0.0.1'), /cidr "10.0.0.1"/, 'address without prefix');
  await invalid(tt, native.addAddress('eth9', '10.0.0.1/33'), /cidr "10.0.0.1\/33"/, 'IPv4 prefix 33');
  await invalid(tt, native.addAddress('eth9', 'fd00::1/129'), /cidr/, 'IPv6 prefix 129');
  await invalid(tt, native.addRoute({ dst: '10.0.0.0/8' }), /gw, dev or both/, 'route without gw or dev');
  await invalid(tt, native.addRoute({ dst: '10.0.0.0/8', gw: 'fd00::1' }), /different address families/, 'mixed families');
  await invalid(tt, native.addRoute({ gw: 'nope' }), /gw "nope"/, 'bad gateway');
  await invalid(tt, native.setVf('pf0', 0, { vlan: 5000 }), /vlan 5000/, 'VF VLAN 5000');
  await invalid(tt, native.setVf('pf0', 0, { qos: 8 }), /qos 8/, 'VF qos 8');
  await invalid(tt, native.setVf('pf0', 0, { linkState: 'up' as 'auto' }), /linkState "up"/, 'VF link state');
  await invalid(tt, native.setVf('pf0', -1, {}), /vf -1/, 'negative VF');
  await invalid(tt, native.readSysctl('kernel/hostname'), /under net\//, 'sysctl outside net/');
  await invalid(tt, native.readSysctl('net/../../etc/passwd'), /under net\//, 'sysctl traversal');
  await invalid(tt, native.writeSysctl('net/ipv4/ip_forward', 'a\0b'), /value/, 'sysctl value with NUL');
});

t.test('NativeError carries errno name, number, operation, link and namespace', async (tt) => {
  const err = new native.NativeError({ code: 17, operation: 'create veth', link: 'v0', netns: '/run/netns/x', detail: 'File exists' });
  tt.equal(err.errno, 'EEXIST');
  tt.equal(err.code, 17);
  tt.equal(err.message, 'create veth (link "v0", netns /run/netns/x) failed with EEXIST: File exists');
  tt.ok(err instanceof Error);
  tt.equal(native.errnoName(19), 'ENODEV');
  tt.equal(native.errnoName(11), 'EAGAIN', 'EAGAIN, not its alias EWOULDBLOCK');
  tt.equal(native.errnoName(95), 'EOPNOTSUPP', 'EOPNOTSUPP, not its alias ENOTSUP');
  tt.equal(native.errnoName(4242), 'E4242', 'an unknown number is still named');
});
