// One line per event on stderr, with a level, so `kubectl logs` stays greppable. Tests pass a
// capturing or silent logger instead of writing to the console.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, message: string): void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function stderrLogger(minimum: LogLevel = 'info'): Logger {
  return {
    log(level, message) {
      if (RANK[level] < RANK[minimum]) return;
      process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} ${message.replaceAll('\n', ' ')}\n`);
    },
  };
}

export const silentLogger: Logger = { log() {} };

/** Keeps every line in memory; tests assert on what was logged. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (level, message) => void lines.push(`${level} ${message}`) };
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
