// Our CRI schemas (test/helpers/cri-api.ts) must say what the .proto excerpt says: same messages,
// same field names and numbers, same RPCs. A wrong number would silently drop a field on the wire.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as criApi from '../helpers/cri-api.js';
import { runtimeServiceMethods } from '../helpers/cri-api.js';
import { repoRoot } from '../helpers/paths.js';
import type { MessageSchema } from '../../config/grpc/protowire.js';

const protoText = readFileSync(join(repoRoot, 'test', 'e2e', 'cri-runtime-v1-excerpt.proto'), 'utf8').replace(/\/\/[^\n]*/g, '');

function snakeToCamel(name: string): string {
  return name.replace(/_([a-z])/g, (_match, letter: string) => letter.toUpperCase());
}

function protoMessages(): Map<string, Map<string, number>> {
  const messages = new Map<string, Map<string, number>>();
  for (const match of protoText.matchAll(/message\s+(\w+)\s*\{([^}]*)\}/g)) {
    const fields = new Map<string, number>();
    for (const field of match[2]!.matchAll(/(?:repeated\s+)?(?:map<[^>]+>|[\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;/g)) {
      fields.set(snakeToCamel(field[1]!), Number(field[2]));
    }
    messages.set(match[1]!, fields);
  }
  return messages;
}

const schemas = Object.values(criApi).filter(
  (value): value is MessageSchema<object> => typeof value === 'object' && value !== null && 'typeName' in value && 'fields' in value,
);

t.test('every CRI schema matches its message in the .proto excerpt', async (t) => {
  const messages = protoMessages();
  t.ok(schemas.length >= 20, `found ${schemas.length} schemas`);
  for (const schema of schemas) {
    const messageName = schema.typeName.replace(/^runtime\.v1\./, '');
    const protoFields = messages.get(messageName);
    if (!protoFields) {
      t.fail(`${schema.typeName}: no message ${messageName} in the excerpt`);
      continue;
    }
    const schemaFields = new Map(schema.fields.map((field) => [field.name, field.no]));
    t.same(Object.fromEntries(schemaFields), Object.fromEntries(protoFields), `${messageName}: field names and numbers`);
  }
});

t.test('the RuntimeService methods match the excerpt', async (t) => {
  const rpcs = [...protoText.matchAll(/rpc\s+(\w+)\((\w+)\)\s+returns\s+\((\w+)\)/g)].map((m) => ({ name: m[1]!, request: m[2]!, response: m[3]! }));
  const ours = Object.entries(runtimeServiceMethods).map(([name, spec]) => ({
    name,
    request: spec.request.typeName.replace(/^runtime\.v1\./, ''),
    response: spec.response.typeName.replace(/^runtime\.v1\./, ''),
  }));
  t.same(ours, rpcs, 'same RPCs, request and response types, in the same order');
});
