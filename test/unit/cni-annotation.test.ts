// Pod annotation parsing and request validation.
import t from 'tap';
import { parseNetworksAnnotation } from '../../cni/annotation.js';
import { readRequest, parseCniArgs } from '../../cni/request.js';

t.test('short names: accepts net1, default/net1, net1@my_interface, default/net1@my_interface', async (t) => {
  t.same(parseNetworksAnnotation('net1', 'ns'), [{ name: 'net1', namespace: 'ns' }]);
  t.same(parseNetworksAnnotation('default/net1', 'ns'), [{ name: 'net1', namespace: 'default', explicitNamespace: true }]);
  t.same(parseNetworksAnnotation('net1@my_interface', 'ns'), [{ name: 'net1', namespace: 'ns', interface: 'my_interface' }]);
  t.same(parseNetworksAnnotation('default/net1@my_interface', 'ns'), [{ name: 'net1', namespace: 'default', explicitNamespace: true, interface: 'my_interface' }]);
  t.same(parseNetworksAnnotation(' a , b/c@d ,a', 'ns').map((s) => `${s.namespace}/${s.name}@${s.interface ?? ''}`), ['ns/a@', 'b/c@d', 'ns/a@'], 'trimmed; the same NAD may repeat');
});

t.test('short names: rejects extra "/" or "@", non-DNS names, ifnames with spaces or over 15 characters', async (t) => {
  t.throws(() => parseNetworksAnnotation('a/b/c', 'ns'), /more than one "\/"/);
  t.throws(() => parseNetworksAnnotation('a@b@c', 'ns'), /more than one "@"/);
  t.throws(() => parseNetworksAnnotation('Net_1', 'ns'), /"Net_1" is not a DNS-1123 label/);
  t.throws(() => parseNetworksAnnotation('NS/net1', 'ns'), /namespace "NS"/);
  t.throws(() => parseNetworksAnnotation('net1@my interface', 'ns'), /whitespace/);
  t.throws(() => parseNetworksAnnotation('net1@abcdefghijklmnop', 'ns'), /longer than 15 bytes/);
});

t.test('JSON form resolves every field; invalid JSON fails', async (t) => {
  const [selection] = parseNetworksAnnotation(JSON.stringify([{
    name: 'sriov', namespace: 'other', interface: 'vf0', ips: ['10.1.1.2/24', '2001:db8::2'], mac: 'c2:11:22:33:44:55',
    'default-route': ['10.1.1.1'], portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'UDP' }],
    bandwidth: { ingressRate: 1000, ingressBurst: 100 }, 'infiniband-guid': 'c2:11:22:33:44:55:66:77', 'cni-args': { vlan: 5 }, deviceID: '0000:03:02.1',
  }]), 'ns');
  t.same(selection, {
    name: 'sriov', namespace: 'other', explicitNamespace: true, interface: 'vf0', ips: ['10.1.1.2/24', '2001:db8::2'], mac: 'c2:11:22:33:44:55',
    defaultRoute: ['10.1.1.1'], portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'udp' }],
    bandwidth: { ingressRate: 1000, ingressBurst: 100 }, infinibandGuid: 'c2:11:22:33:44:55:66:77', cniArgs: { vlan: 5 }, deviceId: '0000:03:02.1',
  });
  t.same(parseNetworksAnnotation('[{"name":"a","interfaceRequest":"legacy0"}]', 'ns')[0]?.interface, 'legacy0', 'pre-3.2 interfaceRequest');
  t.throws(() => parseNetworksAnnotation('[{"name":"a"', 'ns'), /invalid JSON/);
  t.throws(() => parseNetworksAnnotation('{"name":"a"}', 'ns'), /must be an array/);
  t.throws(() => parseNetworksAnnotation('[{"namespace":"a"}]', 'ns'), /\[0\]\.name: required/);
  t.throws(() => parseNetworksAnnotation('[{"name":"a","ips":["10.1.1.300/24"]}]', 'ns'), /\[0\]\.ips\[0\]: "10\.1\.1\.300\/24" is not an IP address or CIDR/);
  t.throws(() => parseNetworksAnnotation('[{"name":"a","mac":"zz"}]', 'ns'), /\[0\]\.mac/);
  t.throws(() => parseNetworksAnnotation('[{"name":"a","portMappings":[{"hostPort":0,"containerPort":1}]}]', 'ns'), /hostPort: expected a port number/);
  t.throws(() => parseNetworksAnnotation('[{"name":"a","bandwidth":{"egressBurst":5}}]', 'ns'), /egressBurst needs egressRate/);
});

t.test('default-route: absent, single and dual-stack kept; two IPv4 gateways (ECMP) rejected', async (t) => {
  t.equal(parseNetworksAnnotation('[{"name":"a"}]', 'ns')[0]?.defaultRoute, undefined);
  t.same(parseNetworksAnnotation('[{"name":"a","default-route":[]}]', 'ns')[0]?.defaultRoute, []);
  t.same(parseNetworksAnnotation('[{"name":"a","default-route":["10.0.0.1","2001:db8::1"]}]', 'ns')[0]?.defaultRoute, ['10.0.0.1', '2001:db8::1']);
  t.throws(() => parseNetworksAnnotation('[{"name":"a","default-route":["10.0.0.1"]},{"name":"b","default-route":["10.0.1.1"]}]', 'ns'), /ECMP/);
});

t.test('request: CNI_CONTAINERID and CNI_IFNAME are validated (code 4), CNI_ARGS parsed in order', async (t) => {
  const base = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0' };
  t.match(readRequest({ ...base, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_UID=u' }), { pod: { namespace: 'ns', name: 'p', uid: 'u', infraContainerId: 'abc' } });
  for (const [key, value, pattern] of [
    ['CNI_CONTAINERID', '../x', /CNI_CONTAINERID/], ['CNI_CONTAINERID', '', /is empty/], ['CNI_IFNAME', 'a:b', /CNI_IFNAME/],
    ['CNI_IFNAME', '.', /not a valid/], ['CNI_IFNAME', 'x'.repeat(16), /longer than 15/], ['CNI_COMMAND', 'FOO', /CNI_COMMAND/], ['CNI_NETNS', '', /CNI_NETNS is required/],
  ] as const) {
    t.throws(() => readRequest({ ...base, [key]: value }), { code: 4, message: pattern }, `${key}=${value}`);
  }
  t.doesNotThrow(() => readRequest({ ...base, CNI_COMMAND: 'DEL', CNI_NETNS: '' }), 'DEL without netns is fine');
  t.doesNotThrow(() => readRequest({ CNI_COMMAND: 'STATUS' }), 'STATUS needs no attachment variables');
  t.same(parseCniArgs('A=1;B=x=y;;A=2'), [['A', '1'], ['B', 'x=y'], ['A', '2']]);
  t.throws(() => parseCniArgs('novalue'), /not KEY=VALUE/);
});
