// The agent's delegate executor wrapper: refuses to delegate to the meta-CNI itself (its shim is in the
// same bin dir: a delegate of type "nicplex" would call the agent back and wait on itself), and reports
// each delegate call's type, command, outcome and duration (the agent's metrics).
import { CniCode, CniError } from './errors.js';
import type { PluginExecutor, PluginInvocation } from './exec.js';

export interface DelegateCall { type: string; command: string; ok: boolean; code?: number | undefined; seconds: number }

export class GuardedExecutor implements PluginExecutor {
  constructor(
    private readonly inner: PluginExecutor,
    private readonly selfTypes: ReadonlySet<string>,
    private readonly onCall?: (call: DelegateCall) => void,
  ) {}

  async run(invocation: PluginInvocation): Promise<unknown> {
    if (this.selfTypes.has(invocation.type)) {
      throw new CniError(CniCode.invalidConfig, `delegate type "${invocation.type}" is this meta-CNI itself; a network must name a real plugin (bridge, macvlan, …)`);
    }
    const started = process.hrtime.bigint();
    try {
      const result = await this.inner.run(invocation);
      this.report(invocation, started, true);
      return result;
    } catch (error) {
      this.report(invocation, started, false, error instanceof CniError ? error.code : undefined);
      throw error;
    }
  }

  private report(invocation: PluginInvocation, started: bigint, ok: boolean, code?: number): void {
    this.onCall?.({ type: invocation.type, command: invocation.command, ok, code, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
  }
}
