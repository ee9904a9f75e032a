// Multus's own example (test/helpers/multus-example.ts) and the variants of it Multus accepts, through the real
// `nicplex cni` process and the reference plugins: `mac` without the capability (CNI_ARGS MAC=), and a NAD
// without "cniVersion" and "name". The outcome asserted is the address and MAC inside the pod's namespace.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cniEnv } from '../helpers/cni-lab.js';
import { EXAMPLE_IP, EXAMPLE_MAC, NETWORKS, SAMPLEPOD, exampleMacvlan, multusExampleFixture } from '../helpers/multus-example.js';

const { lab, api, cniDir, baseConf, addresses, newPod, nad } = multusExampleFixture('mxb');

t.test('mac without the capability: Multus\'s NAD minus the tuning plugin that declares it', async (t) => {
  nad('nomac', { cniVersion: '0.3.1', plugins: [exampleMacvlan({ ips: true })] });
  const p = newPod({ [NETWORKS]: SAMPLEPOD }, 'nomac');
  const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), baseConf());
  t.equal(add.exitCode, 0, add.stdout + add.stderr);
  t.equal(lab.link(p.netns.name, 'net1')?.address, EXAMPLE_MAC, 'macvlan took the MAC from CNI_ARGS MAC=');
  t.same(addresses(p.netns.name, 'net1'), [EXAMPLE_IP], 'static took the address from runtimeConfig.ips');
  t.equal((await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), baseConf())).exitCode, 0);
  t.equal(lab.link(p.netns.name, 'net1'), undefined);
});

t.test('Multus\'s NAD without "cniVersion" (and without "name"): runs as 0.1.0, the NAD name is used', async (t) => {
  nad('nover', { plugins: [exampleMacvlan({ ips: true }), { capabilities: { mac: true }, type: 'tuning' }] });
  const p = newPod({ [NETWORKS]: SAMPLEPOD }, 'nover');
  const add = await lab.runCni(cniEnv('ADD', p.containerId, p.netns.path, 'eth0', p.args), baseConf());
  t.equal(add.exitCode, 0, add.stdout + add.stderr);
  t.same(addresses(p.netns.name, 'net1'), [EXAMPLE_IP]);
  t.equal(lab.link(p.netns.name, 'net1')?.address, EXAMPLE_MAC, 'tuning set the MAC');
  const cache = JSON.parse(readFileSync(join(cniDir, p.containerId), 'utf8'));
  const attachment = cache.plan.attachments[1];
  t.equal(attachment.conf.cniVersion, '0.1.0');
  t.equal(attachment.conf.name, 'macvlan-conf');
  t.match(cache.results['net1'], { cniVersion: '0.1.0', ip4: { ip: EXAMPLE_IP } }, 'the plugins answered in 0.1.0');
  const status = JSON.parse(api.podAnnotations('nover', p.pod.name)!['k8s.v1.cni.cncf.io/network-status']!) as Array<Record<string, unknown>>;
  t.match(status[1], { name: 'nover/macvlan-conf', interface: 'net1', ips: ['10.1.1.101'] }, 'the 0.1.0 (ip4) result is read into network-status');
  t.equal((await lab.runCni(cniEnv('DEL', p.containerId, p.netns.path, 'eth0', p.args), baseConf())).exitCode, 0);
  t.equal(lab.link(p.netns.name, 'net1'), undefined);
  t.notOk(existsSync(join(cniDir, p.containerId)));
});
