// The in-process delegates keyed by plugin `type`, with the long-lived services they share. The agent
// builds one registry at start-up and hands it to every request (RoutingExecutor); thin mode builds one
// for a single call.
import { isJsonObject } from '../../config/cni-json.js';
import { nativeHostNetwork, type HostNetwork } from '../../native/index.js';
import { CniCode, CniError } from '../errors.js';
import type { PluginExecutor, PluginInvocation } from '../exec.js';
import { silentLogger, type Logger } from '../log.js';
import type { BuiltinDelegate, DelegateServices } from './common.js';
import { hostDeviceDelegate } from './host-device.js';
import { ipvlanDelegate } from './ipvlan.js';
import type { InProcessDelegates } from './routing.js';
import { sriovDelegate } from './sriov.js';
import { runStaticIpam } from './static-ipam.js';

export const ALL_BUILTIN_DELEGATES: readonly BuiltinDelegate[] = [sriovDelegate, hostDeviceDelegate, ipvlanDelegate];

/** The IPAM plugins that run in-process when enabled (for the built-in delegates; no lock: they touch nothing). */
const IN_PROCESS_IPAM: Readonly<Record<string, (invocation: PluginInvocation) => unknown>> = { static: runStaticIpam };

/** Runs work for one key at a time, in arrival order; other keys run concurrently. */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async with<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => { release = resolve; });
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

export interface RegistryOptions {
  host?: HostNetwork;
  sysfsRoot?: string;
  stateDir: string;
  /** The namespace treated as the host (default: the agent's own). */
  hostNetns?: string;
  /** sriov-cni's cache directory, read by DEL when nicplex has no state of its own (default /var/lib/cni/sriov). */
  sriovCniCacheDir?: string;
  log?: Logger;
  /** Types to run in-process (default: the three delegates and static IPAM). */
  enabled?: readonly string[];
  delegates?: readonly BuiltinDelegate[];
}

export class DelegateRegistry implements InProcessDelegates {
  readonly services: DelegateServices;
  private readonly delegates = new Map<string, BuiltinDelegate>();
  private readonly ipam = new Map<string, (invocation: PluginInvocation) => unknown>();

  constructor(options: RegistryOptions) {
    const locks = new KeyedLock();
    this.services = {
      host: options.host ?? nativeHostNetwork(),
      sysfsRoot: options.sysfsRoot ?? '/sys',
      stateDir: options.stateDir,
      hostNetns: options.hostNetns,
      sriovCniCacheDir: options.sriovCniCacheDir ?? '/var/lib/cni/sriov',
      log: options.log ?? silentLogger,
      lock: (key, work) => locks.with(key, work),
    };
    const enabled = options.enabled ?? [...ALL_BUILTIN_DELEGATES.map((delegate) => delegate.type), ...Object.keys(IN_PROCESS_IPAM)];
    for (const delegate of options.delegates ?? ALL_BUILTIN_DELEGATES) {
      if (enabled.includes(delegate.type)) this.delegates.set(delegate.type, delegate);
    }
    for (const [type, run] of Object.entries(IN_PROCESS_IPAM)) if (enabled.includes(type)) this.ipam.set(type, run);
  }

  handles(type: string): boolean {
    return this.delegates.has(type) || this.ipam.has(type);
  }

  types(): string[] {
    return [...this.delegates.keys(), ...this.ipam.keys()];
  }

  async run(invocation: PluginInvocation, exec: PluginExecutor): Promise<unknown> {
    const ipam = this.ipam.get(invocation.type);
    if (ipam) return ipam(invocation);
    const delegate = this.delegates.get(invocation.type);
    if (!delegate) return exec.run(invocation);
    if (!isJsonObject(invocation.stdin)) throw new CniError(CniCode.decodeFailure, `${invocation.type}: the plugin config must be a JSON object`);
    const key = `${invocation.containerId}/${invocation.ifname}`;
    // The delegate's own IPAM calls: in-process for the enabled IPAM types, exec'd for the rest.
    const ipamExec: PluginExecutor = this.ipam.size === 0 ? exec : { run: async (call) => (this.ipam.get(call.type) ?? ((other) => exec.run(other)))(call) };
    return this.services.lock(`attachment:${key}`, () => delegate.run({ invocation, conf: invocation.stdin, exec: ipamExec, services: this.services }));
  }
}
