// The one error type the native layer throws. Callers branch on `errno` ('EEXIST', 'ENODEV', ...),
// never on message text; the message names the operation, the link and the namespace for humans.
import { constants } from 'node:os';

// Linux has aliases (EAGAIN = EWOULDBLOCK, EOPNOTSUPP = ENOTSUP); name them as the kernel headers and
// iproute2 do, so callers can compare against one spelling.
const preferredAliases = new Set(['EAGAIN', 'EOPNOTSUPP']);
const errnoNames: Map<number, string> = new Map();
for (const [name, code] of Object.entries(constants.errno)) {
  if (!errnoNames.has(code) || preferredAliases.has(name)) errnoNames.set(code, name);
}

export function errnoName(code: number): string {
  return errnoNames.get(code) ?? `E${code}`;
}

export interface NativeErrorDetails {
  /** Positive errno number (e.g. 17 for EEXIST). */
  code: number;
  operation: string;
  link?: string;
  netns?: string;
  /** Kernel extended-ack text or the addon's own explanation, when there is one. */
  detail?: string;
}

export class NativeError extends Error {
  readonly errno: string;
  readonly code: number;
  readonly operation: string;
  readonly link: string | undefined;
  readonly netns: string | undefined;
  readonly detail: string | undefined;

  constructor(details: NativeErrorDetails) {
    const errno = errnoName(details.code);
    const where = [
      details.link !== undefined ? `link ${JSON.stringify(details.link)}` : '',
      details.netns !== undefined ? `netns ${details.netns}` : '',
    ].filter(Boolean).join(', ');
    const detail = details.detail ? `: ${details.detail}` : '';
    super(`${details.operation}${where ? ` (${where})` : ''} failed with ${errno}${detail}`);
    this.name = 'NativeError';
    this.errno = errno;
    this.code = details.code;
    this.operation = details.operation;
    this.link = details.link;
    this.netns = details.netns;
    this.detail = details.detail;
  }
}

/** An input rejected before any kernel call: EINVAL, with a message that says what to fix. */
export function invalidInput(operation: string, detail: string, link?: string, netns?: string): NativeError {
  return new NativeError({ code: constants.errno.EINVAL, operation, detail, ...(link !== undefined ? { link } : {}), ...(netns !== undefined ? { netns } : {}) });
}
