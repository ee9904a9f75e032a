// Every SR-IOV VF attribute set through the PF with the addon and read back twice: from the addon's
// own IFLA_VFINFO_LIST decoding and, independently, from iproute2. netdevsim (built out of tree by
// the lab) implements the whole ndo_set_vf_* surface, unlike igb. Also measures the set round trip.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getLink, setVf } from '../../../native/index.js';
import {
  ipLink, measureVfRoundTrips, modprobe, netdevsOf, notInLabReason, recordLabVfBench, rejectsWithErrno, waitFor, writeSysfs, addonVf, ipVf,
} from './lab-guest.js';

const deviceId = 41;
const deviceDir = `/sys/bus/netdevsim/devices/netdevsim${deviceId}`;
let pf = '';

t.before(async () => {
  if (notInLabReason) return;
  modprobe('netdevsim');
  writeSysfs('/sys/bus/netdevsim/new_device', `${deviceId} 1`);
  pf = await waitFor('the netdevsim port netdev', () => netdevsOf(deviceDir)[0]);
  writeSysfs(join(deviceDir, 'sriov_numvfs'), '4');
});

t.teardown(() => {
  if (existsSync(deviceDir)) writeSysfs('/sys/bus/netdevsim/del_device', `${deviceId}`);
});

t.test('the PF reports its four VFs', { skip: notInLabReason }, async (t) => {
  const link = await getLink(pf);
  t.equal(link.numVfs, 4);
  t.same(link.vfs.map((vf) => vf.vf), [0, 1, 2, 3]);
  t.equal(ipLink(pf, undefined, true).vfinfo_list?.length, 4, 'iproute2 agrees');
});

t.test('mac, vlan, qos and 802.1Q protocol', { skip: notInLabReason }, async (t) => {
  await setVf(pf, 0, { mac: '02:00:00:00:aa:00', vlan: 100, qos: 3, vlanProto: '802.1Q' });
  const vf = await addonVf(pf, 0);
  t.match(vf, { mac: '02:00:00:00:aa:00', vlan: 100, qos: 3, vlanProto: '802.1Q' });
  const seen = ipVf(pf, 0);
  t.equal(seen.address, '02:00:00:00:aa:00');
  t.match(seen.vlan_list?.[0], { vlan: 100, qos: 3 });
  // iproute2 prints the VLAN protocol only when it is not the 802.1Q default.
  t.equal(seen.vlan_list?.[0]?.protocol ?? '802.1Q', '802.1Q');
});

t.test('802.1ad VLAN protocol with spoofchk off and trust on', { skip: notInLabReason }, async (t) => {
  await setVf(pf, 1, { mac: '02:00:00:00:aa:01', vlan: 200, qos: 0, vlanProto: '802.1ad', spoofchk: false, trust: true });
  t.match(await addonVf(pf, 1), { mac: '02:00:00:00:aa:01', vlan: 200, qos: 0, vlanProto: '802.1ad', spoofchk: false, trust: true });
  const seen = ipVf(pf, 1);
  t.match(seen.vlan_list?.[0], { vlan: 200, protocol: '802.1ad' });
  t.equal(seen.spoofchk, false);
  t.equal(seen.trust, true);
  await setVf(pf, 1, { spoofchk: true, trust: false });
  t.match(await addonVf(pf, 1), { spoofchk: true, trust: false, vlan: 200, mac: '02:00:00:00:aa:01' }, 'flags flip back, the rest stays');
  t.match(ipVf(pf, 1), { spoofchk: true, trust: false });
});

t.test('link state auto, enable, disable', { skip: notInLabReason }, async (t) => {
  for (const linkState of ['disable', 'enable', 'auto'] as const) {
    await setVf(pf, 2, { linkState });
    t.equal((await addonVf(pf, 2)).linkState, linkState, `addon reads back ${linkState}`);
    t.equal(ipVf(pf, 2).link_state, linkState, `iproute2 reads back ${linkState}`);
  }
});

t.test('min and max tx rate', { skip: notInLabReason }, async (t) => {
  await setVf(pf, 3, { minTxRate: 10, maxTxRate: 100 });
  t.match(await addonVf(pf, 3), { minTxRate: 10, maxTxRate: 100 });
  t.match(ipVf(pf, 3).rate, { min_tx: 10, max_tx: 100 });
});

t.test('a bad VF request fails with a named errno and changes nothing', { skip: notInLabReason }, async (t) => {
  const before = (await getLink(pf)).vfs;
  await rejectsWithErrno(t, setVf(pf, 9, { mac: '02:00:00:00:aa:09' }), 'EINVAL', 'VF 9 does not exist');
  await rejectsWithErrno(t, setVf(pf, 0, { vlan: 4096 }), 'EINVAL', 'VLAN 4096 is out of range');
  await rejectsWithErrno(t, setVf(pf, 0, { qos: 8, vlan: 5 }), 'EINVAL', 'qos 8 is out of range');
  await rejectsWithErrno(t, setVf('npx-no-such-pf', 0, { trust: true }), 'ENODEV', 'an unknown PF fails with ENODEV');
  t.same((await getLink(pf)).vfs, before, 'all VFs unchanged');
});

t.test('benchmark: VF attribute set round trip through the addon (recorded, not compared)', { skip: notInLabReason }, async (t) => {
  const summary = await measureVfRoundTrips(t, 40,
    (round) => setVf(pf, 0, { vlan: 1 + round, qos: round % 8 }),
    async (round) => (await addonVf(pf, 0)).vlan === 1 + round);
  recordLabVfBench('netdevsim', summary);
  t.comment(`netdevsim setVf median ${summary.setVf.medianMs} ms p95 ${summary.setVf.p95Ms} ms; setVf+getLink median ${summary.setVfThenGetLink.medianMs} ms`);
  t.equal(summary.rounds, 40);
});
