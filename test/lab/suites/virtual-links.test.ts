// ipvlan (l2, l3, l3s) and 802.1Q/802.1ad VLAN links through the addon on the lab's Debian kernel
// (the host kernel has neither), each placed in namespaces, addressed, and carrying traffic.
import t from 'tap';
import { readdirSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import {
  addAddress, createDummy, createIpvlan, createVlan, getLink, listAddresses, moveLinkToNetns, setLinkUp, type IpvlanMode,
} from '../../../native/index.js';
import { addNetns, deleteNetns, ipLink, ipv4Addresses, modprobe, notInLabReason, rejectsWithErrno, pings } from './lab-guest.js';

const ipvlanModes: IpvlanMode[] = ['l2', 'l3', 'l3s'];

t.before(() => {
  if (!notInLabReason) modprobe('dummy', 'ipvlan', '8021q');
});

for (const [modeIndex, mode] of ipvlanModes.entries()) {
  // The ipvlan mode belongs to the master (adding an l3 slave flips l2 siblings), so each mode gets its own.
  t.test(`ipvlan ${mode}: one slave created in its namespace, one moved and renamed there, ping between them`, { skip: notInLabReason }, async (t) => {
    const names = { host: `npx-ipv-${mode}-h`, a: `npx-ipv-${mode}-a`, b: `npx-ipv-${mode}-b` };
    t.teardown(() => Object.values(names).forEach(deleteNetns));
    const hostNs = addNetns(names.host);
    const nsA = addNetns(names.a);
    const nsB = addNetns(names.b);
    await createDummy({ name: 'master0', netns: hostNs });
    await setLinkUp('master0', true, { netns: hostNs });

    await createIpvlan({ name: 'eth0', parent: 'master0', parentNetns: hostNs, targetNetns: nsA, mode });
    await createIpvlan({ name: 'tmp-ipvl', parent: 'master0', parentNetns: hostNs, mode });
    await moveLinkToNetns('tmp-ipvl', nsB, { netns: hostNs, newName: 'eth0' });

    const subnet = `10.77.${modeIndex}`;
    for (const [netns, nsName, host] of [[nsA, names.a, 1], [nsB, names.b, 2]] as const) {
      await addAddress('eth0', `${subnet}.${host}/24`, { netns });
      await setLinkUp('eth0', true, { netns });
      await setLinkUp('lo', true, { netns });
      const link = await getLink('eth0', { netns });
      const seen = ipLink('eth0', nsName, true);
      t.equal(link.kind, 'ipvlan', `${nsName}: addon sees an ipvlan`);
      t.equal(seen.linkinfo?.info_kind, 'ipvlan', `${nsName}: iproute2 sees an ipvlan`);
      t.equal(seen.linkinfo?.info_data?.['mode'], mode, `${nsName}: iproute2 reports mode ${mode}`);
      t.ok(link.up, `${nsName}: eth0 is up`);
      t.same(ipv4Addresses('eth0', nsName), [`${subnet}.${host}/24`], `${nsName}: iproute2 sees the address`);
      t.same((await listAddresses('eth0', { netns })).filter((a) => a.family === 4).map((a) => a.cidr), [`${subnet}.${host}/24`]);
    }
    t.throws(() => ipLink('tmp-ipvl', names.host), 'the moved slave left the master namespace');
    t.ok(pings(names.a, `${subnet}.2`), `ping ${subnet}.1 -> ${subnet}.2 across namespaces in ${mode} mode`);
  });
}

function virtioNetdevs(): string[] {
  return readdirSync('/sys/class/net')
    .filter((name) => {
      try {
        return basename(readlinkSync(`/sys/class/net/${name}/device/driver`)) === 'virtio_net';
      } catch {
        return false;
      }
    })
    .sort();
}

t.test('802.1Q and 802.1ad VLANs created directly in target namespaces carry traffic across a QEMU hub', { skip: notInLabReason }, async (t) => {
  const nics = virtioNetdevs();
  t.equal(nics.length, 2, `two virtio-net NICs on QEMU hub 0 (found ${nics.join(', ')})`);
  const [left, right] = nics as [string, string];
  const names = { a: 'npx-vlan-a', b: 'npx-vlan-b' };
  t.teardown(() => Object.values(names).forEach(deleteNetns));
  const nsA = addNetns(names.a);
  const nsB = addNetns(names.b);
  await setLinkUp(left, true);
  await setLinkUp(right, true);

  await createVlan({ name: 'vlan100', parent: left, vlanId: 100, targetNetns: nsA });
  await createVlan({ name: 'vlan100', parent: right, vlanId: 100, protocol: '802.1Q', targetNetns: nsB });
  await createVlan({ name: 'qinq300', parent: left, vlanId: 300, protocol: '802.1ad', targetNetns: nsA, mtu: 1496 });

  const dot1q = ipLink('vlan100', names.a, true);
  t.equal(dot1q.linkinfo?.info_kind, 'vlan');
  t.equal(dot1q.linkinfo?.info_data?.['id'], 100, 'iproute2: VLAN id 100');
  t.equal(dot1q.linkinfo?.info_data?.['protocol'], '802.1Q', 'iproute2: protocol 802.1Q');
  const qinq = ipLink('qinq300', names.a, true);
  t.equal(qinq.linkinfo?.info_data?.['id'], 300, 'iproute2: VLAN id 300');
  t.equal(qinq.linkinfo?.info_data?.['protocol'], '802.1ad', 'iproute2: protocol 802.1ad');
  t.equal(qinq.mtu, 1496, 'iproute2: requested MTU');
  const viaAddon = await getLink('vlan100', { netns: nsA });
  t.equal(viaAddon.kind, 'vlan');
  t.equal(viaAddon.mac, (await getLink(left)).mac, 'the VLAN inherits its parent MAC');
  t.throws(() => ipLink('vlan100'), 'nothing was created in the initial namespace');

  await rejectsWithErrno(t, createVlan({ name: 'vlan100', parent: right, vlanId: 101, targetNetns: nsB }), 'EEXIST', 'a duplicate name fails with EEXIST');
  await rejectsWithErrno(t, createVlan({ name: 'bad', parent: right, vlanId: 4095, targetNetns: nsB }), 'EINVAL', 'VLAN id 4095 is rejected');
  t.throws(() => ipLink('bad', names.b), 'the rejected VLAN does not exist');

  for (const [netns, host] of [[nsA, 1], [nsB, 2]] as const) {
    await addAddress('vlan100', `10.78.100.${host}/24`, { netns });
    await setLinkUp('vlan100', true, { netns });
  }
  t.ok(pings(names.a, '10.78.100.2'), 'tagged frames cross the hub: ping over VLAN 100 between namespaces');
});
