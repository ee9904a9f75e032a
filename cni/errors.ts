// CNI error codes (spec "Error codes" table) and the error type every command path throws.
export const CniCode = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  invalidNetns: 8,
  tryAgainLater: 11,
  notAvailable: 50,
  limitedConnectivity: 51,
  internal: 999,
} as const;

export class CniError extends Error {
  constructor(readonly code: number, message: string, readonly details?: string) {
    super(message);
    this.name = 'CniError';
  }

  toJSON(cniVersion: string): Record<string, unknown> {
    const body: Record<string, unknown> = { cniVersion, code: this.code, msg: this.message };
    if (this.details) body['details'] = this.details;
    return body;
  }
}

/** Wraps anything thrown into a CniError, keeping CNI codes that delegates reported. */
export function asCniError(error: unknown): CniError {
  if (error instanceof CniError) return error;
  if (error instanceof Error) return new CniError(CniCode.internal, error.message);
  return new CniError(CniCode.internal, String(error));
}
