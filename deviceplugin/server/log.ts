// The device plugin's logger interface over the project's one logger (pino, config/logger.ts): JSON
// lines on stderr, so `kubectl logs` stays machine-readable. Tests pass a capturing or silent logger.
import type { Logger as PinoLogger } from 'pino';
import { createPino } from '../../config/logger.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, message: string): void;
}

/** Adapts a pino logger (the agent's, or a child) to this interface. */
export function loggerFromPino(pino: PinoLogger): Logger {
  return { log: (level, message) => pino[level](message) };
}

export function stderrLogger(minimum: LogLevel = 'info'): Logger {
  return loggerFromPino(createPino({ level: minimum, component: 'nicplex-deviceplugin' }));
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
