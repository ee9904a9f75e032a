// Runs the in-process delegates against a FakeHostNetwork, a fake sysfs tree and a recording IPAM
// executor, so every delegate behaviour is unit-tested without root.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PluginExecutor, PluginInvocation } from '../../cni/exec.js';
import { CniError } from '../../cni/errors.js';
import { DelegateRegistry } from '../../cni/delegates/registry.js';
import { buildFakeHost, type FakeHostDescription } from './fake-sysfs.js';
import { FakeHostNetwork } from './fake-host-network.js';

export const POD_NETNS = '/run/netns/fake-pod';

/** Answers IPAM calls from a script; records every call. */
export class FakeIpam implements PluginExecutor {
  readonly calls: PluginInvocation[] = [];
  addResult: unknown = { cniVersion: '1.0.0', ips: [{ address: '10.1.0.5/24', gateway: '10.1.0.1' }], routes: [{ dst: '0.0.0.0/0' }], dns: { nameservers: ['10.1.0.53'] } };
  failOn: string | undefined;

  async run(invocation: PluginInvocation): Promise<unknown> {
    this.calls.push(invocation);
    if (this.failOn === invocation.command) throw new CniError(999, `${invocation.type} ${invocation.command} failed on purpose`);
    return invocation.command === 'ADD' ? structuredClone(this.addResult) : undefined;
  }

  commands(): string[] {
    return this.calls.map((call) => `${call.type}:${call.command}`);
  }
}

export interface Harness {
  host: FakeHostNetwork;
  ipam: FakeIpam;
  registry: DelegateRegistry;
  sysfsRoot: string;
  stateDir: string;
  call(type: string, command: string, conf: Record<string, unknown>, opts?: { netns?: string; ifname?: string; containerId?: string; cniArgs?: string }): Promise<unknown>;
  cleanup(): void;
}

export function delegateHarness(sysfs: FakeHostDescription = {}): Harness {
  const fake = buildFakeHost(sysfs);
  const stateDir = mkdtempSync(join(tmpdir(), 'nicplex-delegate-state-'));
  const host = new FakeHostNetwork();
  host.addNamespace(POD_NETNS);
  const ipam = new FakeIpam();
  const registry = new DelegateRegistry({ host, sysfsRoot: fake.sysfsRoot, stateDir, sriovCniCacheDir: join(stateDir, 'sriov-cni') });
  return {
    host, ipam, registry, sysfsRoot: fake.sysfsRoot, stateDir,
    call: (type, command, conf, opts = {}) => registry.run({
      type, command, containerId: opts.containerId ?? 'c0ffee', netns: opts.netns ?? POD_NETNS, ifname: opts.ifname ?? 'net1', cniArgs: opts.cniArgs ?? '',
      stdin: { cniVersion: '1.0.0', name: 'testnet', type, ...conf },
    }, ipam),
    cleanup: () => {
      fake.cleanup();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** The rejection of a promise (fails the test through `undefined` if it resolved). */
export async function rejection(promise: Promise<unknown>): Promise<Error | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error as Error;
  }
}
