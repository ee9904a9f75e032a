// Assertions about the native addon's errors, shared by the host-kernel and lab suites.
import type { Test } from 'tap';
import { NativeError } from '../../native/index.js';

/** Awaits `promise` and asserts it failed with a NativeError carrying `errno`. */
export async function rejectsWithErrno(t: Test, promise: Promise<unknown>, errno: string, what: string): Promise<void> {
  try {
    await promise;
    t.fail(`${what}: expected ${errno}, but the call succeeded`);
  } catch (error) {
    t.ok(error instanceof NativeError, `${what}: a NativeError`);
    t.equal((error as { errno?: unknown }).errno, errno, `${what}: errno ${errno} (${error instanceof Error ? error.message : String(error)})`);
  }
}
