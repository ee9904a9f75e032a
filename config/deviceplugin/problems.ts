// Collects config errors and warnings, each naming the file, the JSON path and what was expected.
import { nearestKey } from '../nearest-key.js';

export interface ConfigProblem {
  file: string;
  /** JSON path such as `resourceList[2].selectors.pfNames[1]`; empty for the whole document. */
  path: string;
  message: string;
}

export function formatProblem(problem: ConfigProblem): string {
  return problem.path === '' ? `${problem.file}: ${problem.message}` : `${problem.file}: ${problem.path}: ${problem.message}`;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(`invalid device plugin config:\n${problems.map((problem) => `  ${formatProblem(problem)}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export class ProblemSink {
  readonly errors: ConfigProblem[] = [];
  readonly warnings: ConfigProblem[] = [];

  constructor(readonly file: string) {}

  error(path: string, message: string): void {
    this.errors.push({ file: this.file, path, message });
  }

  warning(path: string, message: string): void {
    this.warnings.push({ file: this.file, path, message });
  }

  errorCount(): number {
    return this.errors.length;
  }

  /** Unknown keys are ignored, as the reference plugin does, but said out loud with a likely fix. */
  unknownKey(path: string, key: string, known: readonly string[]): void {
    const suggestion = nearestKey(key, known);
    const hint = suggestion === null ? `known keys: ${known.join(', ')}` : `did you mean "${suggestion}"?`;
    this.warning(path, `unknown key "${key}" is ignored; ${hint}`);
  }
}
