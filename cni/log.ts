// The meta-CNI's logger interface, with Multus's level names, over the project's one logger (pino,
// config/logger.ts). stdout belongs to the CNI protocol, so logs go to stderr and/or logFile.
// Thin mode (one process per CNI call) buffers lines and loads pino only when there is one to write:
// importing pino costs ≈ 35 ms here, and most calls log nothing.
import type { Logger as PinoLogger } from 'pino';
import type { LogLevel } from '../config/multus-config.js';

export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  verbose(message: string): void;
  debug(message: string): void;
}

type PinoMethod = 'error' | 'warn' | 'info' | 'debug';
// Warnings are always written: they explain ignored config keys and tolerated failures.
const PINO_LEVEL: Record<LogLevel, 'warn' | 'info' | 'debug'> = { panic: 'warn', error: 'warn', verbose: 'info', debug: 'debug' };
const RANK: Record<PinoMethod, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** Adapts a pino logger (the agent's, or a child with request fields) to this interface. */
export function loggerFromPino(pino: PinoLogger): Logger {
  return {
    error: (message) => pino.error(message),
    warn: (message) => pino.warn(message),
    verbose: (message) => pino.info(message),
    debug: (message) => pino.debug(message),
  };
}

export interface BufferedLogger extends Logger {
  /** Writes the buffered lines (loads pino if there are any). */
  flush(): Promise<void>;
}

export function createLogger(options: { level: LogLevel; file?: string | undefined; toStderr: boolean }): BufferedLogger {
  const threshold = RANK[PINO_LEVEL[options.level]];
  const lines: Array<[PinoMethod, string]> = [];
  const keep = (method: PinoMethod) => (message: string) => {
    if (RANK[method] <= threshold && (options.toStderr || options.file)) lines.push([method, message]);
  };
  return {
    error: keep('error'),
    warn: keep('warn'),
    verbose: keep('info'),
    debug: keep('debug'),
    async flush() {
      if (lines.length === 0) return;
      const { createPino } = await import('../config/logger.js');
      const pino = createPino({ level: PINO_LEVEL[options.level], component: 'nicplex-cni', file: options.file, toStderr: options.toStderr });
      for (const [method, message] of lines.splice(0)) pino[method](message);
    },
  };
}

export const silentLogger: Logger = { error: () => undefined, warn: () => undefined, verbose: () => undefined, debug: () => undefined };
