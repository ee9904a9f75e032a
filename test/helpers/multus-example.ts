// Multus's own example, examples/macvlan-pod.yml of k8snetworkplumbingwg/multus-cni: NAD "macvlan-conf"
// (macvlan with static IPAM and a default route via 10.1.1.1; `ips` declared by macvlan, `mac` by a chained
// tuning plugin; no "name") and pod "samplepod" asking for ips ["10.1.1.101/24"] and mac "c2:b0:57:49:47:f1".
// Tests use 10.1.1.0/24 only inside namespaces they create.
import type { Test } from 'tap';
import { cniEnv } from './cni-lab.js';
import { k8sFixture } from './cni-k8s-fixture.js';

export const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
export const EXAMPLE_IP = '10.1.1.101/24';
export const EXAMPLE_MAC = 'c2:b0:57:49:47:f1';
/** The pod annotation of Multus's samplepod, verbatim. */
export const SAMPLEPOD = `[{ "name": "macvlan-conf", "ips": [ "${EXAMPLE_IP}" ], "mac": "${EXAMPLE_MAC}", "gateway": [ "10.1.1.1" ] }]`;

/** The example's macvlan entry; the master is the fixture's veth `mvm0`, not the example's eth0. */
export function exampleMacvlan(capabilities?: Record<string, boolean>): Record<string, unknown> {
  return {
    type: 'macvlan', ...(capabilities ? { capabilities } : {}), master: 'mvm0', mode: 'bridge',
    ipam: { type: 'static', routes: [{ dst: '0.0.0.0/0', gw: '10.1.1.1' }] },
  };
}

/** The Kubernetes-mode fixture plus a helper that publishes a variant of the example NAD in a namespace. */
export function multusExampleFixture(tag: string) {
  const fixture = k8sFixture(tag);
  const nad = (namespace: string, config: Record<string, unknown>) => fixture.api.addNad({ namespace, name: 'macvlan-conf', config: JSON.stringify(config) });
  return { ...fixture, nad };
}

/**
 * The example NAD with "capabilities" removed (as users without capability args write it), a recording plugin
 * chained after macvlan to show CNI_ARGS, and an ADD of samplepod that checks the real outcome.
 */
export function noCapabilitiesFixture(tag: string) {
  const fixture = multusExampleFixture(tag);
  const { lab, addresses, newPod } = fixture;
  const conf = fixture.baseConf({ binDir: lab.writeSpyPlugin('spy') });
  fixture.nad('nocap', { cniVersion: '0.3.1', plugins: [exampleMacvlan(), { type: 'spy' }] });
  /** What Multus's delegateAdd passes: the pod's args with IgnoreUnknown forced, then MAC= and IP=. */
  const legacyArgs = (podArgs: string) => `IgnoreUnknown=true;${podArgs.replace(/^IgnoreUnknown=1;/, '')};MAC=${EXAMPLE_MAC};IP=${EXAMPLE_IP}`;
  const spyArgs = (command: string) => lab.spyCalls().filter((call) => call.env['CNI_COMMAND'] === command).map((call) => call.env['CNI_ARGS']);
  async function addSamplepod(t: Test) {
    const pod = newPod({ [NETWORKS]: SAMPLEPOD }, 'nocap');
    const add = await lab.runCni(cniEnv('ADD', pod.containerId, pod.netns.path, 'eth0', pod.args), conf);
    t.equal(add.exitCode, 0, add.stdout + add.stderr);
    t.same(addresses(pod.netns.name, 'net1'), [EXAMPLE_IP], 'static IPAM took the address from CNI_ARGS IP=');
    t.equal(lab.link(pod.netns.name, 'net1')?.address, EXAMPLE_MAC, 'macvlan took the MAC from CNI_ARGS MAC=');
    t.same(spyArgs('ADD').at(-1), legacyArgs(pod.args), 'ADD: MAC= and IP= in CNI_ARGS');
    t.notOk('runtimeConfig' in lab.spyCalls().at(-1)!.stdin, 'no runtimeConfig to a plugin that declares no capability');
    return pod;
  }
  return { ...fixture, conf, legacyArgs, spyArgs, addSamplepod };
}
