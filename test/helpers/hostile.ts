// Hostile-input generators for the property tests (fast-check) and the figures each property prints:
// traversal strings, NUL, very long and non-ASCII text, garbage JSON, and mutations of valid documents.
import fc from 'fast-check';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import t, { type Test } from 'tap';

/** A scratch directory on tmpfs when there is one (thousands of small writes), removed when the file ends. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Fragments that break naive path, header and parser code. */
export const NASTY_FRAGMENTS = [
  '..', '../', '/..', '/', '//', '.', './', '\\', '..\\', '\0', 'a\0b', '%2e%2e%2f', '%00', ' ', '\t', '\n', '\r\n', ';', '=', ',', '@', ':',
  '"', "'", '{', '}', '[', ']', '$(id)', '`id`', '|', '&', '*', '?', '~', '-', '_', 'é', 'Ω', '\u202e', '\ufeff', '\ud800', '😀',
  'eth0', 'net1', 'default', 'kube-system', 'a'.repeat(64), 'b'.repeat(256), '/etc/passwd', '/proc/self/environ', 'CON', 'lo',
];

/** Strings a hostile runtime, pod author or NAD author can hand over. */
export function hostileString(maxLength = 300): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.array(fc.constantFrom(...NASTY_FRAGMENTS), { maxLength: 8 }).map((parts) => parts.join('')) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength }) },
    { weight: 1, arbitrary: fc.integer({ min: 200, max: 5000 }).map((length) => 'x'.repeat(length)) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('../', '/', './', '..'), fc.stringMatching(/^[a-z]{1,8}$/), fc.nat({ max: 12 })).map(([up, name, depth]) => `${up.repeat(depth)}${name}`) },
  );
}

/** Any JSON value, with hostile strings in it. */
export function hostileJson(): fc.Arbitrary<unknown> {
  return fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null), fc.boolean(), fc.double(), fc.integer(), hostileString(80),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(hostileString(20), tie('value'), { maxKeys: 4 }),
    ),
  })).value;
}

/** A copy of `base` with some keys replaced, removed, or added (from `keys` plus arbitrary ones). */
export function mutatedObject(base: Record<string, unknown>, keys: string[], value: fc.Arbitrary<unknown> = hostileJson()): fc.Arbitrary<Record<string, unknown>> {
  const edit = fc.oneof(
    fc.tuple(fc.constant('set' as const), fc.oneof(fc.constantFrom(...keys), hostileString(20)), value),
    fc.tuple(fc.constant('delete' as const), fc.constantFrom(...keys), fc.constant(undefined)),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    const copy: Record<string, unknown> = structuredClone(base);
    for (const [kind, key, next] of edits) {
      if (kind === 'delete') delete copy[key];
      else copy[key] = next;
    }
    return copy;
  });
}

/** Random bytes and truncations/corruptions of `valid` text. */
export function garbledText(valid: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.nat({ max: valid.length }).map((at) => valid.slice(0, at)),
    fc.tuple(fc.nat({ max: valid.length }), hostileString(20)).map(([at, insert]) => valid.slice(0, at) + insert + valid.slice(at)),
    fc.json(),
  );
}

/** True when `path` is `dir` itself or lies under it (after resolving "..", never by string prefix). */
export function isWithin(dir: string, path: string): boolean {
  const rel = relative(resolve(dir), resolve(path));
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
}

/** Runs a property with `numRuns` cases; prints cases, wall time and any shrunk counterexample; fails the tap test on one. */
export async function checkProperty(t: Test, name: string, property: fc.IProperty<unknown> | fc.IAsyncProperty<unknown>, numRuns: number, seed?: number): Promise<void> {
  const started = process.hrtime.bigint();
  const details = await fc.check(property as fc.IAsyncProperty<unknown>, { numRuns, endOnFailure: process.env['HOSTILE_NO_SHRINK'] === '1', ...(seed !== undefined ? { seed } : {}) });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const figures = `${name}: ${details.numRuns} cases in ${seconds.toFixed(2)} s (seed ${details.seed}${details.numSkips ? `, ${details.numSkips} skipped` : ''})`;
  if (details.failed) {
    const error = details.errorInstance as Error | undefined;
    const example = fc.stringify(details.counterexample);
    t.fail(`${figures}: ${error?.message ?? String(error)}\ncounterexample after ${details.numShrinks} shrinks: ${example.length > 4000 ? `${example.slice(0, 4000)}…` : example}\n${error?.stack ?? ''}`);
    return;
  }
  t.comment(figures);
  t.ok(details.numRuns >= numRuns, `${name}: ${details.numRuns} cases, none failed`);
}
