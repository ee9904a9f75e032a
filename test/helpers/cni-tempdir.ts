// Temp directories for CNI unit tests, removed when the test file ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const made: string[] = [];
let registered = false;

export function tempDir(prefix: string): string {
  if (!registered) {
    registered = true;
    t.teardown(() => { for (const dir of made) rmSync(dir, { recursive: true, force: true }); });
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
