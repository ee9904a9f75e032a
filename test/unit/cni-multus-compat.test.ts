// Configs and annotations Multus accepts, taken from Multus's own example (examples/macvlan-pod.yml in
// k8snetworkplumbingwg/multus-cni: NAD "macvlan-conf" with static IPAM, pod "samplepod" asking for
// ips ["10.1.1.101/24"] and mac "c2:b0:57:49:47:f1"), and the variants users write: the same NAD without the
// capabilities, without "name" and without "cniVersion".
import t from 'tap';
import { buildPlan, undeliveredRequests, type ResolvedNetwork } from '../../cni/plan.js';
import { pluginStdin, runtimeConfigFor, toConfList } from '../../cni/delegate-conf.js';
import { fromNad } from '../../cni/resolve.js';
import { planFromMultusCache } from '../../cni/cache.js';
import { parseNetworksAnnotation } from '../../cni/annotation.js';
import { ASSUMED_DELEGATE_VERSION, assertSupportedVersion } from '../../cni/version.js';

/** Multus's examples/macvlan-pod.yml NAD: `ips` declared by macvlan, `mac` by tuning, no "name". */
const exampleNad = {
  cniVersion: '0.3.1',
  plugins: [
    { type: 'macvlan', capabilities: { ips: true }, master: 'eth0', mode: 'bridge', ipam: { type: 'static', routes: [{ dst: '0.0.0.0/0', gw: '10.1.1.1' }] } },
    { capabilities: { mac: true }, type: 'tuning' },
  ],
};
/** The same NAD as users without capability args write it. */
const withoutCapabilities = { cniVersion: '0.3.1', plugins: exampleNad.plugins.map(({ capabilities: _dropped, ...plugin }) => plugin) };
const samplepodAnnotation = '[{ "name": "macvlan-conf", "ips": [ "10.1.1.101/24" ], "mac": "c2:b0:57:49:47:f1", "gateway": [ "10.1.1.1" ] }]';

const request = { containerId: 'c1', netns: '/run/netns/p', ifname: 'eth0', args: [['K8S_POD_NAMESPACE', 'default'], ['K8S_POD_NAME', 'samplepod']] as Array<[string, string]>, pod: { namespace: 'default', name: 'samplepod', uid: 'u', infraContainerId: 'c1' } };
const cluster: ResolvedNetwork = { networkName: 'cluster', config: { cniVersion: '1.0.0', name: 'cluster', plugins: [{ type: 'bridge' }] }, source: 'test' };
function planFor(config: unknown, annotation = samplepodAnnotation) {
  const network = fromNad({ namespace: 'default', name: 'macvlan-conf', config: JSON.stringify(config) }, '/nonexistent');
  const [selection] = parseNetworksAnnotation(annotation, 'default');
  return buildPlan({ request, requestCniVersion: '1.0.0', runtimeConfig: {}, clusterNetworks: [cluster], secondary: [{ selection: selection!, network }], podDevices: new Map(), cniDeviceInfoDir: '/run/devinfo' }).attachments[1]!;
}

t.test('Multus example as written: each plugin gets the capability it declares, and CNI_ARGS carry MAC= and IP=', async (t) => {
  const attachment = planFor(exampleNad);
  t.equal(attachment.conf.name, 'macvlan-conf', 'the NAD name is injected when the config has none');
  t.same(runtimeConfigFor(attachment.conf.plugins[0]!, attachment.runtimeConfig), { ips: ['10.1.1.101/24'] });
  t.same(runtimeConfigFor(attachment.conf.plugins[1]!, attachment.runtimeConfig), { mac: 'c2:b0:57:49:47:f1' });
  t.equal(attachment.cniArgs, 'IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=samplepod;MAC=c2:b0:57:49:47:f1;IP=10.1.1.101/24');
  t.same(undeliveredRequests(attachment), []);
});

t.test('ips and mac without the capability: planned (not rejected), no runtimeConfig to any plugin, MAC=/IP= in CNI_ARGS', async (t) => {
  const attachment = planFor(withoutCapabilities);
  for (const plugin of attachment.conf.plugins) t.equal(runtimeConfigFor(plugin, attachment.runtimeConfig), undefined, `${String(plugin['type'])} gets no runtimeConfig`);
  t.match(attachment.cniArgs, /;MAC=c2:b0:57:49:47:f1;IP=10\.1\.1\.101\/24$/);
  t.same(undeliveredRequests(attachment), [], 'ips and mac always reach the plugin through CNI_ARGS');
  const onlyIps = planFor(withoutCapabilities, '[{"name":"macvlan-conf","ips":["10.1.1.101/24","fd00:1::65/64"]}]');
  t.match(onlyIps.cniArgs, /;IP=10\.1\.1\.101\/24,fd00:1::65\/64$/);
  t.notMatch(onlyIps.cniArgs, /MAC=/);
});

t.test('infiniband-guid without the capability: dropped as Multus drops it, and reported', async (t) => {
  const guid = '[{"name":"macvlan-conf","infiniband-guid":"c2:11:22:33:44:55:66:77"}]';
  const dropped = planFor(withoutCapabilities, guid);
  t.same(undeliveredRequests(dropped), ['infiniband-guid']);
  for (const plugin of dropped.conf.plugins) t.equal(runtimeConfigFor(plugin, dropped.runtimeConfig), undefined);
  t.notMatch(dropped.cniArgs, /GUID/, 'Multus has no CNI_ARGS form for it');
  const declared = planFor({ cniVersion: '0.3.1', plugins: [{ type: 'ib-sriov', capabilities: { infinibandGUID: true } }] }, guid);
  t.same(runtimeConfigFor(declared.conf.plugins[0]!, declared.runtimeConfig), { infinibandGUID: 'c2:11:22:33:44:55:66:77' });
  t.same(undeliveredRequests(declared), []);
});

t.test('a delegate config without cniVersion runs as 0.1.0 (what libcni and the plugins assume); a wrong type is still an error', async (t) => {
  const { cniVersion: _dropped, ...noVersion } = exampleNad;
  const network = fromNad({ namespace: 'default', name: 'macvlan-conf', config: JSON.stringify(noVersion) }, '/nonexistent');
  t.equal(ASSUMED_DELEGATE_VERSION, '0.1.0');
  t.equal(network.config.cniVersion, '0.1.0');
  t.equal(network.config.name, 'macvlan-conf');
  t.equal(pluginStdin(network.config, network.config.plugins[0]!, {})['cniVersion'], '0.1.0', 'the plugin is told the version explicitly');
  t.equal(toConfList({ cniVersion: '', type: 'macvlan', name: 'x' }, 't').cniVersion, '0.1.0', 'an empty string counts as missing');
  t.equal(toConfList({ type: 'macvlan', name: 'x' }, 't').plugins[0]!['cniVersion'], undefined);
  t.throws(() => toConfList({ cniVersion: 1, type: 'macvlan', name: 'x' }, 'NAD default/x spec.config'), /NAD default\/x spec\.config: "cniVersion" must be a string/);
  t.throws(() => toConfList({ cniVersion: '9.9.9', type: 'macvlan', name: 'x' }, 't'), /not supported version "9\.9\.9"/);
  t.throws(() => assertSupportedVersion(undefined, 'network configuration on stdin'), /"cniVersion" is missing/, 'the top-level rule is unchanged');
});

t.test('DEL from a Multus cache replays macRequest/ipRequest as runtimeConfig and MAC=/IP=', async (t) => {
  const bytes = (conf: unknown) => Buffer.from(JSON.stringify(conf)).toString('base64');
  const entries = [
    { Bytes: bytes({ cniVersion: '1.0.0', name: 'cluster', type: 'bridge' }), Name: 'cluster' },
    { Bytes: bytes({ ...withoutCapabilities, name: 'macvlan-conf' }), Name: 'default/macvlan-conf', macRequest: 'c2:b0:57:49:47:f1', ipRequest: ['10.1.1.101/24'] },
  ];
  const plan = planFromMultusCache(entries, { containerId: 'c1', netns: '', ifname: 'eth0', cniArgs: 'IgnoreUnknown=true', requestCniVersion: '1.0.0' })!;
  t.equal(plan.attachments[0]!.cniArgs, 'IgnoreUnknown=true');
  t.equal(plan.attachments[1]!.cniArgs, 'IgnoreUnknown=true;MAC=c2:b0:57:49:47:f1;IP=10.1.1.101/24');
  t.same(plan.attachments[1]!.runtimeConfig, { ips: ['10.1.1.101/24'], mac: 'c2:b0:57:49:47:f1' });
  const forged = [entries[0], { ...entries[1], macRequest: 'x;IP=1.2.3.4' }];
  t.equal(planFromMultusCache(forged, { containerId: 'c1', netns: '', ifname: 'eth0', cniArgs: '', requestCniVersion: '1.0.0' }), undefined, 'a malformed request is not spliced into CNI_ARGS');
});
