// A delegate config value that fails validation: which key, what is wrong, how to fix it. The CNI side
// turns it into a CNI error that also names the network.
export class DelegateConfigError extends Error {
  constructor(readonly key: string, readonly problem: string, readonly fix: string, readonly kind: 'invalid' | 'decode' = 'invalid') {
    super(`"${key}" ${problem}${fix ? `; ${fix}` : ''}`);
    this.name = 'DelegateConfigError';
  }
}

export function optionalString(raw: Record<string, unknown>, key: string, path = key): string | undefined {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new DelegateConfigError(path, `must be a string, got ${JSON.stringify(value)}`, `write it as "${String(value)}"`, 'decode');
  return value;
}

export function optionalInteger(raw: Record<string, unknown>, key: string, path = key): number | undefined {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new DelegateConfigError(path, `must be an integer, got ${JSON.stringify(value)}`, 'write a whole number without quotes', 'decode');
  return value;
}

export function optionalBoolean(raw: Record<string, unknown>, key: string): boolean | undefined {
  const value = raw[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new DelegateConfigError(key, `must be true or false, got ${JSON.stringify(value)}`, 'write true or false without quotes', 'decode');
  return value;
}

export function runtimeConfigOf(raw: Record<string, unknown>): Record<string, unknown> {
  const value = raw['runtimeConfig'];
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

const MAC = /^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/;

/** Go's net.ParseMAC for 6-byte addresses, lower-cased with ':'. */
export function parseMacValue(key: string, value: string): string {
  if (!MAC.test(value)) throw new DelegateConfigError(key, `failed to parse MAC address "${value}"`, 'use six hex pairs separated by ":" (e.g. "02:00:00:00:00:01")');
  return value.toLowerCase().replace(/-/g, ':');
}
