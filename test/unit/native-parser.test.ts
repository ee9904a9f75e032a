// The addon's netlink decoder on hand-built messages: VF info as a PF with SR-IOV would report it,
// ext-ack errors, and truncated or lying lengths (which must be cut off, never read past).
import t from 'tap';
import { nativeBinding } from '../../native/addon.js';
import { toLinkInfo } from '../../native/netlink.js';
import { extAckErrorMessage, pfLinkMessage } from '../../native/fuzz/synthetic-messages.js';

const vfs = [
  { vf: 0, mac: '02:00:00:00:00:10', vlan: 100, qos: 3, vlanProtocol: 0x88a8, spoofchk: 1, trust: 0, linkState: 2, minTxRate: 10, maxTxRate: 1000 },
  { vf: 1, mac: '02:00:00:00:00:11', vlan: 0, qos: 0, vlanProtocol: 0x8100, spoofchk: 0xffffffff, trust: 0xffffffff, linkState: 1, minTxRate: 0, maxTxRate: 0 },
];

t.test('IFLA_VFINFO_LIST is decoded per VF', async (tt) => {
  const decoded = nativeBinding().decodeMessages(pfLinkMessage('ens1f0', 7, vfs));
  tt.equal(decoded.links.length, 1);
  const link = toLinkInfo(decoded.links[0]!);
  tt.match(link, { index: 7, name: 'ens1f0', mtu: 1500, numVfs: 2, operUp: true, up: true, mac: '02:00:00:00:00:01', parentDevName: '0000:3b:00.0', kind: null });
  tt.same(link.vfs[0], { vf: 0, mac: '02:00:00:00:00:10', vlan: 100, qos: 3, vlanProto: '802.1ad', spoofchk: true, trust: false, linkState: 'disable', minTxRate: 10, maxTxRate: 1000 });
  tt.same(link.vfs[1], { vf: 1, mac: '02:00:00:00:00:11', vlan: 0, qos: 0, vlanProto: '802.1Q', spoofchk: null, trust: null, linkState: 'enable', minTxRate: 0, maxTxRate: 0 }, 'unreported spoofchk/trust (0xffffffff) are null');
});

t.test('NLMSG_ERROR with ext-ack decodes to the errno', async (tt) => {
  const decoded = nativeBinding().decodeMessages(extAckErrorMessage(22, 'MTU too large'));
  tt.same(decoded.errors, [22]);
});

t.test('truncated and lying lengths never read past the buffer', async (tt) => {
  const whole = pfLinkMessage('ens1f0', 7, vfs);
  for (const cut of [0, 3, 15, 16, 31, 40, whole.length - 1]) {
    const decoded = nativeBinding().decodeMessages(whole.subarray(0, cut));
    tt.equal(decoded.links.length, 0, `cut at ${cut}: the message claims more bytes than there are, so it is dropped`);
  }
  // A message whose header length is right but whose attribute claims too much: decoded up to that point.
  const lying = Buffer.from(whole);
  lying.writeUInt16LE(0xffff, 32); // first attribute (IFLA_IFNAME at offset 32) claims 65535 bytes
  const decoded = nativeBinding().decodeMessages(lying);
  tt.equal(decoded.links.length, 0, 'a link message with a malformed attribute is rejected');
  const zeroLen = Buffer.from(whole);
  zeroLen.writeUInt32LE(0, 0);
  tt.same(nativeBinding().decodeMessages(zeroLen).links, [], 'a zero-length header stops the walk');
});
