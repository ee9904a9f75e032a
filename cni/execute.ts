// Side effects of a plan: runs each attachment's plugin list through a PluginExecutor, the way libcni
// runs a conflist (ADD/CHECK in order with prevResult chaining, DEL in reverse, best effort).
import { CniCode, CniError } from './errors.js';
import type { PluginExecutor } from './exec.js';
import { pluginStdin, runtimeConfigFor } from './delegate-conf.js';
import type { PlannedAttachment } from './plan.js';
import { compareVersions } from './version.js';

export interface ExecContext {
  executor: PluginExecutor;
  containerId: string;
  netns: string;
}

function invocationFor(ctx: ExecContext, attachment: PlannedAttachment, command: string, plugin: Record<string, unknown>, prevResult: unknown) {
  return {
    type: String(plugin['type']),
    command,
    containerId: ctx.containerId,
    netns: ctx.netns,
    ifname: attachment.ifname,
    cniArgs: attachment.cniArgs,
    stdin: pluginStdin(attachment.conf, plugin, { runtimeConfig: runtimeConfigFor(plugin, attachment.runtimeConfig), prevResult }),
  };
}

/** Returns the list's final raw result (in the list's cniVersion). */
export async function addAttachment(ctx: ExecContext, attachment: PlannedAttachment): Promise<unknown> {
  let previous: unknown;
  for (const plugin of attachment.conf.plugins) {
    const output = await ctx.executor.run(invocationFor(ctx, attachment, 'ADD', plugin, previous));
    if (output !== undefined) previous = output;
  }
  return previous;
}

/** DEL every plugin in reverse; keeps going on errors and throws one error listing them all. */
export async function delAttachment(ctx: ExecContext, attachment: PlannedAttachment, cachedResult: unknown): Promise<void> {
  const passResult = compareVersions(attachment.conf.cniVersion, '0.4.0') >= 0 ? cachedResult : undefined;
  const failures: string[] = [];
  for (const plugin of [...attachment.conf.plugins].reverse()) {
    try {
      await ctx.executor.run(invocationFor(ctx, attachment, 'DEL', plugin, passResult));
    } catch (error) {
      failures.push(`${String(plugin['type'])}: ${(error as Error).message}`);
    }
  }
  if (failures.length > 0) throw new CniError(CniCode.internal, failures.join('; '));
}

/** CHECK needs a 0.4.0+ list and a cached result; lists that opt out with disableCheck are skipped. */
export async function checkAttachment(ctx: ExecContext, attachment: PlannedAttachment, cachedResult: unknown): Promise<'checked' | 'skipped'> {
  if (attachment.conf.disableCheck || compareVersions(attachment.conf.cniVersion, '0.4.0') < 0) return 'skipped';
  if (cachedResult === undefined) {
    throw new CniError(CniCode.invalidConfig, `network "${attachment.networkName}" (${attachment.ifname}): no cached ADD result to check against`);
  }
  for (const plugin of attachment.conf.plugins) {
    await ctx.executor.run(invocationFor(ctx, attachment, 'CHECK', plugin, cachedResult));
  }
  return 'checked';
}
