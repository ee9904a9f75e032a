// Routing: built-in types run in-process, every other type (and IPAM) is exec'd; each plugin of a
// conflist is routed by its own type and prevResult chains across both; builtinDelegates opts out.
import t from 'tap';
import { parseMultusNetConf } from '../../config/multus-config.js';
import { RoutingExecutor, lazyDelegates } from '../../cni/delegates/routing.js';
import type { DelegateRequest } from '../../cni/delegates/common.js';
import { DelegateRegistry } from '../../cni/delegates/registry.js';
import { addAttachment, delAttachment, type ExecContext } from '../../cni/execute.js';
import type { PluginExecutor, PluginInvocation } from '../../cni/exec.js';
import { toConfList } from '../../cni/delegate-conf.js';
import type { PlannedAttachment } from '../../cni/plan.js';
import { POD_NETNS, delegateHarness } from '../helpers/delegate-harness.js';

/** A stand-in for exec: IPAM answers with an address; other plugins echo their prevResult (or a bridge-like result). */
class RecordingExec implements PluginExecutor {
  readonly calls: PluginInvocation[] = [];
  async run(invocation: PluginInvocation): Promise<unknown> {
    this.calls.push(invocation);
    if (invocation.command !== 'ADD') return undefined;
    if (invocation.type === 'host-local') return { cniVersion: '1.0.0', ips: [{ address: '10.2.0.7/24', gateway: '10.2.0.1' }] };
    if (invocation.type === 'fake-bridge') {
      return { cniVersion: '1.0.0', interfaces: [{ name: 'eth9', mac: '02:00:00:00:09:09' }], ips: [{ address: '10.3.0.4/24', interface: 0 }] };
    }
    return invocation.stdin['prevResult'];
  }
}

function attachment(plugins: Record<string, unknown>[]): PlannedAttachment {
  return { networkName: 'n', isDefault: false, ifname: 'net1', conf: toConfList({ cniVersion: '1.0.0', name: 'chain', plugins }, 'test'), runtimeConfig: {}, cniArgs: '' };
}

t.test('a conflist: built-in host-device then exec\'d tuning; prevResult flows from the built-in to the binary', async (tt) => {
  const h = delegateHarness();
  tt.teardown(h.cleanup);
  h.host.addLink('', { name: 'eth1' });
  const exec = new RecordingExec();
  const ctx: ExecContext = { executor: new RoutingExecutor(h.registry, exec), containerId: 'c1', netns: POD_NETNS };
  const planned = attachment([{ type: 'host-device', device: 'eth1', ipam: { type: 'host-local' } }, { type: 'tuning' }]);
  const final = await addAttachment(ctx, planned) as Record<string, unknown>;
  tt.same(exec.calls.map((c) => `${c.type}:${c.command}`), ['host-local:ADD', 'tuning:ADD'], 'host-device ran in-process; only IPAM and tuning were exec\'d');
  const tuningPrev = exec.calls[1]!.stdin['prevResult'] as Record<string, unknown>;
  tt.same((tuningPrev['interfaces'] as unknown[])[0], { name: 'net1', mac: h.host.link(POD_NETNS, 'net1')!.mac, sandbox: POD_NETNS }, 'tuning got host-device\'s result');
  tt.same(final, tuningPrev, 'the list result is the last plugin\'s');
  await delAttachment(ctx, planned, final);
  tt.same(exec.calls.slice(2).map((c) => `${c.type}:${c.command}`), ['tuning:DEL', 'host-local:DEL'], 'DEL in reverse, IPAM DEL from the built-in');
  tt.ok(h.host.link('', 'eth1'), 'device back in the host');
});

t.test('a conflist: exec\'d plugin first, then the built-in ipvlan chained on its prevResult (master and IPs)', async (tt) => {
  const h = delegateHarness();
  tt.teardown(h.cleanup);
  h.host.addLink('', { name: 'eth9' });
  const exec = new RecordingExec();
  const ctx: ExecContext = { executor: new RoutingExecutor(h.registry, exec), containerId: 'c2', netns: POD_NETNS };
  const final = await addAttachment(ctx, attachment([{ type: 'fake-bridge' }, { type: 'ipvlan', mode: 'l3' }])) as Record<string, unknown>;
  tt.same(exec.calls.map((c) => c.type), ['fake-bridge'], 'ipvlan was not exec\'d');
  const link = h.host.link(POD_NETNS, 'net1');
  tt.equal(link?.kind, 'ipvlan');
  tt.equal(link?.ipvlanMode, 1, 'l3');
  tt.equal(link?.parentIndex, h.host.link('', 'eth9')!.index, 'master = the prevResult\'s single interface');
  tt.same(h.host.addressesOf(POD_NETNS, 'net1'), ['10.3.0.4/24'], 'IPs reused from prevResult');
  tt.same(final['interfaces'], [{ name: 'net1', mac: link!.mac, sandbox: POD_NETNS }], 'only the ipvlan in interfaces');
});

t.test('builtinDelegates: default all four; a type left out goes to the binary; unknown types are rejected', async (tt) => {
  const base = { cniVersion: '1.0.0', name: 'm', type: 'nicplex', delegates: [{ cniVersion: '1.0.0', name: 'd', type: 'bridge' }] };
  tt.same(parseMultusNetConf(base, 'test').conf.builtinDelegates, ['sriov', 'host-device', 'ipvlan', 'static']);
  const only = parseMultusNetConf({ ...base, builtinDelegates: ['ipvlan'] }, 'test').conf;
  tt.same(only.builtinDelegates, ['ipvlan']);
  tt.throws(() => parseMultusNetConf({ ...base, builtinDelegates: ['macvlan'] }, 'test'), /builtinDelegates\[0\]: "macvlan" has no built-in implementation/);
  const exec = new RecordingExec();
  let created = 0;
  const routing = new RoutingExecutor(lazyDelegates(only.builtinDelegates, async () => {
    created++;
    return { handles: () => true, run: async () => 'in-process' };
  }), exec);
  await routing.run({ type: 'host-device', command: 'DEL', containerId: 'c', netns: '', ifname: 'net1', cniArgs: '', stdin: {} });
  tt.same(exec.calls.map((c) => c.type), ['host-device'], 'host-device left out → exec');
  tt.equal(created, 0, 'the delegate code is not even loaded for an exec\'d type');
  tt.equal(await routing.run({ type: 'ipvlan', command: 'DEL', containerId: 'c', netns: '', ifname: 'net1', cniArgs: '', stdin: {} }), 'in-process');
  tt.equal(created, 1);
});

t.test('static IPAM: in-process for a built-in delegate when enabled, exec\'d when left out', async (tt) => {
  const ipamCaller = { type: 'fake', run: async (request: DelegateRequest) => request.exec.run({ ...request.invocation, type: 'static', stdin: request.conf }) };
  const invocation = { type: 'fake', command: 'ADD', containerId: 'c', netns: '/x', ifname: 'net1', cniArgs: '', stdin: { cniVersion: '1.0.0', name: 'n', type: 'fake', ipam: { type: 'static', addresses: [{ address: '10.9.0.2/24' }] } } };
  for (const [enabled, expectExec] of [[['fake', 'static'], false], [['fake'], true]] as const) {
    const exec = new RecordingExec();
    const registry = new DelegateRegistry({ stateDir: '/nonexistent', enabled, delegates: [ipamCaller] });
    const result = await registry.run(invocation, exec);
    if (expectExec) tt.same(exec.calls.map((call) => call.type), ['static'], `enabled ${enabled.join(',')}: static is exec'd`);
    else {
      tt.same(exec.calls, [], `enabled ${enabled.join(',')}: nothing exec'd`);
      tt.same(result, { cniVersion: '1.0.0', ips: [{ address: '10.9.0.2/24' }], dns: {} }, 'the in-process result, as the binary prints it');
    }
  }
});
