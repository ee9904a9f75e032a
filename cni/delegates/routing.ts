// The executor seam: a plugin whose `type` has an in-process implementation runs here, anything else
// (and every IPAM plugin) is exec'd. Built per request from long-lived parts: the agent builds its
// InProcessDelegates once; thin mode builds them lazily for one call (the delegate code loads only when
// a built-in type is actually routed).
import type { PluginExecutor, PluginInvocation } from '../exec.js';

/** The in-process delegates a process offers (see registry.ts). */
export interface InProcessDelegates {
  handles(type: string): boolean;
  /** Runs the delegate; `exec` runs IPAM (and any other plugin the delegate calls) as the references do. */
  run(invocation: PluginInvocation, exec: PluginExecutor): Promise<unknown>;
}

export class RoutingExecutor implements PluginExecutor {
  constructor(private readonly delegates: InProcessDelegates, private readonly exec: PluginExecutor) {}

  run(invocation: PluginInvocation): Promise<unknown> {
    return this.delegates.handles(invocation.type) ? this.delegates.run(invocation, this.exec) : this.exec.run(invocation);
  }
}

/**
 * InProcessDelegates for the types in `enabled`, created on the first call that needs one
 * (`create` imports the registry and builds the services).
 */
export function lazyDelegates(enabled: readonly string[], create: () => Promise<InProcessDelegates>): InProcessDelegates {
  let instance: Promise<InProcessDelegates> | undefined;
  return {
    handles: (type) => enabled.includes(type),
    run: async (invocation, exec) => {
      instance ??= create();
      return (await instance).run(invocation, exec);
    },
  };
}
