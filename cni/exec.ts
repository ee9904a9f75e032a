// Runs delegate plugins the way libcni does: binary found on binDir then CNI_PATH, config on stdin,
// CNI_* in the environment, never through a shell, bounded by a timeout, stderr kept for errors.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { runProcess, type ProcessOutcome } from '../native/index.js';
import { CniCode, CniError } from './errors.js';

export interface PluginInvocation {
  type: string;
  command: string;
  containerId: string;
  netns: string;
  ifname: string;
  cniArgs: string;
  stdin: Record<string, unknown>;
}

export interface PluginExecutor {
  /** Returns the parsed stdout JSON (undefined for an empty stdout). Throws CniError on failure. */
  run(invocation: PluginInvocation): Promise<unknown>;
}

const PLUGIN_TYPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function findPlugin(type: string, searchPath: string[]): string {
  if (!PLUGIN_TYPE_PATTERN.test(type)) {
    throw new CniError(CniCode.invalidConfig, `plugin "type" "${type}" is not a plain binary name (letters, digits, "_.-")`);
  }
  for (const dir of searchPath) {
    const candidate = join(dir, type);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new CniError(CniCode.invalidConfig, `failed to find plugin "${type}" in path [${searchPath.join(' ')}]`);
}

export class ExecPluginExecutor implements PluginExecutor {
  constructor(
    private readonly searchPath: string[],
    private readonly timeoutMs: number,
    private readonly baseEnv: NodeJS.ProcessEnv = process.env,
  ) {}

  async run(invocation: PluginInvocation): Promise<unknown> {
    const binary = findPlugin(invocation.type, this.searchPath);
    const env: NodeJS.ProcessEnv = {
      ...this.baseEnv,
      CNI_COMMAND: invocation.command,
      CNI_CONTAINERID: invocation.containerId,
      CNI_NETNS: invocation.netns,
      CNI_IFNAME: invocation.ifname,
      CNI_ARGS: invocation.cniArgs,
      CNI_PATH: this.searchPath.join(':'),
    };
    const input = JSON.stringify(invocation.stdin);
    let outcome: ProcessOutcome | undefined;
    // libcni retries "text file busy" (a plugin binary being replaced) a few times.
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        outcome = await runProcess(binary, env, input, this.timeoutMs);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ETXTBSY' || attempt === 4) {
          throw new CniError(CniCode.internal, `cannot execute plugin ${binary}: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)));
      }
    }
    if (!outcome) throw new CniError(CniCode.internal, `cannot execute plugin ${binary}`);
    const stderrText = outcome.stderr.trim();
    if (outcome.timedOut) {
      throw new CniError(CniCode.tryAgainLater, `plugin ${invocation.type} (${invocation.command}) did not finish within ${this.timeoutMs} ms and was killed${stderrText ? `; stderr: ${stderrText}` : ''}`);
    }
    const stdoutText = outcome.stdout.trim();
    let parsed: unknown;
    if (stdoutText !== '') {
      try {
        parsed = JSON.parse(stdoutText);
      } catch {
        if (outcome.code === 0) throw new CniError(CniCode.decodeFailure, `plugin ${invocation.type} (${invocation.command}) printed invalid JSON: ${stdoutText.slice(0, 200)}`);
      }
    }
    if (outcome.code !== 0) {
      if (parsed && typeof parsed === 'object' && typeof (parsed as Record<string, unknown>)['code'] === 'number') {
        const error = parsed as { code: number; msg?: string; details?: string };
        const details = [error.details, stderrText].filter((part) => part).join('; ');
        throw new CniError(error.code, error.msg ?? `plugin ${invocation.type} failed`, details || undefined);
      }
      const text = stderrText || stdoutText || (outcome.signal ? `killed by ${outcome.signal}` : `exit code ${outcome.code}`);
      throw new CniError(CniCode.internal, `plugin ${invocation.type} (${invocation.command}) failed: ${text}`);
    }
    return parsed;
  }
}
