// The one logger of every nicplex component: pino, JSON lines on stderr (stdout belongs to the CNI
// protocol and to `--output json`), optionally also appended to a file. Each component adapts it to
// the small interface its code already uses.
import pino, { type Logger as PinoLogger, type Level } from 'pino';

export type PinoLevel = Level;

export interface LoggerOptions {
  level: PinoLevel;
  /** Component name, written as `component` on every line. */
  component: string;
  /** Append-only log file (in addition to, or instead of, stderr). */
  file?: string | undefined;
  toStderr?: boolean;
}

export function createPino(options: LoggerOptions): PinoLogger {
  const streams: pino.StreamEntry[] = [];
  // Synchronous writes: a CNI call or a stopping agent must not lose its last lines.
  if (options.toStderr !== false) streams.push({ level: options.level, stream: pino.destination({ fd: 2, sync: true }) });
  if (options.file) {
    try {
      streams.push({ level: options.level, stream: pino.destination({ dest: options.file, append: true, sync: true, mkdir: true }) });
    } catch {
      // a broken log file must never fail the component
    }
  }
  if (streams.length === 0) return pino({ enabled: false });
  return pino({ level: options.level, base: { component: options.component }, timestamp: pino.stdTimeFunctions.isoTime }, pino.multistream(streams));
}
