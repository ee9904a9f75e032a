// Runtime config templates in test/e2e/templates/ (read from the source tree: tsc does not copy
// them to dist). `{{name}}` placeholders are filled in; a missing value is an error, never "".
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/paths.js';

export function renderTemplate(fileName: string, values: Record<string, string>): string {
  const path = join(repoRoot, 'test', 'e2e', 'templates', fileName);
  return readFileSync(path, 'utf8').replace(/\{\{(\w+)\}\}/g, (_match, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`${path}: no value for placeholder {{${key}}}`);
    return value;
  });
}
