// A small levelled logger with Multus's level names. stdout belongs to the CNI protocol, so logs go to
// stderr (logToStderr) and/or an append-only logFile.
import { appendFileSync } from 'node:fs';
import type { LogLevel } from '../config/multus-config.js';

const RANK: Record<LogLevel | 'warning', number> = { panic: 0, error: 1, warning: 2, verbose: 3, debug: 4 };

export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  verbose(message: string): void;
  debug(message: string): void;
}

export function createLogger(options: { level: LogLevel; file?: string | undefined; toStderr: boolean }): Logger {
  const threshold = RANK[options.level];
  const write = (level: keyof typeof RANK, message: string): void => {
    // Warnings are always worth a line on stderr: they explain ignored config keys and tolerated failures.
    if (RANK[level] > threshold && level !== 'warning') return;
    const line = `${new Date().toISOString()} [${level}] nicplex-cni: ${message}\n`;
    if (options.toStderr) process.stderr.write(line);
    if (options.file) {
      try {
        appendFileSync(options.file, line);
      } catch {
        // a broken log file must never fail a CNI command
      }
    }
  };
  return {
    error: (message) => write('error', message),
    warn: (message) => write('warning', message),
    verbose: (message) => write('verbose', message),
    debug: (message) => write('debug', message),
  };
}

export const silentLogger: Logger = { error: () => undefined, warn: () => undefined, verbose: () => undefined, debug: () => undefined };
