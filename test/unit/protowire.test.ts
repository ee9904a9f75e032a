import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeMessage, encodeMessage, messageSchema, ProtoDecodeError, type FieldSpec, type MessageSchema } from '../../config/grpc/protowire.js';
import * as api from '../../config/grpc/kubelet-api.js';
import { repoRoot } from '../helpers/paths.js';

t.test('encodes proto3 scalars, repeated strings, nested messages and maps to the exact wire bytes', async (t) => {
  // RegisterRequest{version:"v1beta1", endpoint:"a.sock", resource_name:"x/y", options{get_preferred_allocation_available:true}}
  const bytes = encodeMessage(api.RegisterRequestSchema, {
    version: 'v1beta1',
    endpoint: 'a.sock',
    resourceName: 'x/y',
    options: { preStartRequired: false, getPreferredAllocationAvailable: true },
  });
  t.equal(bytes.toString('hex'), '0a0776316265746131' + '1206612e736f636b' + '1a03782f79' + '22021001');
  const envs = encodeMessage(api.ContainerAllocateResponseSchema, { envs: { A: 'b' }, mounts: [], devices: [], annotations: {}, cdiDevices: [] });
  t.equal(envs.toString('hex'), '0a06' + '0a0141' + '120162');
});

t.test('round-trips every kubelet message shape, including negative int64 and defaults', async (t) => {
  const response: api.ListAndWatchResponse = {
    devices: [
      { ID: '0000:03:02.0', health: api.HEALTHY, topology: { nodes: [{ ID: 1 }] } },
      { ID: '0000:03:02.1', health: api.UNHEALTHY, topology: { nodes: [{ ID: -1 }] } },
    ],
  };
  const decoded = decodeMessage(api.ListAndWatchResponseSchema, encodeMessage(api.ListAndWatchResponseSchema, response));
  t.same(decoded, response);
  const emptyDecoded = decodeMessage(api.ContainerAllocateResponseSchema, Buffer.alloc(0));
  t.same(emptyDecoded, { envs: {}, mounts: [], devices: [], annotations: {}, cdiDevices: [] });
  const pod: api.ListPodResourcesResponse = {
    podResources: [{ name: 'p', namespace: 'ns', cpuIds: [], memory: [], containers: [{ name: 'c', cpuIds: [3, 5], memory: [], dynamicResources: [], devices: [{ resourceName: 'intel.com/a', deviceIds: ['0000:01:00.1'], topology: undefined }] }] }],
  };
  t.same(decodeMessage(api.ListPodResourcesResponseSchema, encodeMessage(api.ListPodResourcesResponseSchema, pod)), pod);
});

t.test('decodes packed and unpacked repeated numbers and skips unknown fields', async (t) => {
  const schema = messageSchema<{ ids: number[] }>('t.Ids', [{ name: 'ids', no: 3, kind: 'int64', repeated: true }]);
  t.same(decodeMessage(schema, Buffer.from('1a0203051805', 'hex')).ids, [3, 5, 5]);
  t.same(decodeMessage(schema, Buffer.from('08011a0107', 'hex')).ids, [7]);
});

t.test('rejects truncated or malformed input with a ProtoDecodeError naming the message', async (t) => {
  t.throws(() => decodeMessage(api.DeviceSchema, Buffer.from('0a05616263', 'hex')), ProtoDecodeError);
  t.throws(() => decodeMessage(api.DeviceSchema, Buffer.from('0aff', 'hex')), /v1beta1\.Device/);
  t.throws(() => decodeMessage(api.DeviceSchema, Buffer.from('78ffffffffffffffffffff01', 'hex')), /varint/);
  t.throws(() => messageSchema('t.Dup', [{ name: 'a', no: 1, kind: 'bool' }, { name: 'b', no: 1, kind: 'bool' }]), /used twice/);
});

interface ProtoField { name: string; no: number; repeated: boolean; type: string }

/** Reads `message X { ... }` blocks of our own .proto files (flat, one field per statement). */
function parseProtoMessages(text: string): Map<string, ProtoField[]> {
  const messages = new Map<string, ProtoField[]>();
  const body = text.replace(/\/\/.*$/gm, '');
  for (const match of body.matchAll(/message\s+(\w+)\s*\{([^}]*)\}/g)) {
    const fields: ProtoField[] = [];
    for (const statement of match[2]!.split(';')) {
      const field = /^\s*(repeated\s+|optional\s+)?(map<[^>]+>|[\w.]+)\s+(\w+)\s*=\s*(\d+)\s*$/.exec(statement);
      if (field) fields.push({ repeated: field[1]?.trim() === 'repeated', type: field[2]!, name: field[3]!, no: Number(field[4]) });
    }
    messages.set(match[1]!, fields);
  }
  return messages;
}

function camel(protoName: string): string {
  return protoName === 'ID' ? 'ID' : protoName.replace(/_([a-zA-Z])/g, (_, c: string) => c.toUpperCase());
}

t.test('every schema matches its message in config/proto/*.proto (names, numbers, repetition)', async (t) => {
  const files: Record<string, string> = { v1beta1: 'deviceplugin-v1beta1.proto', pluginregistration: 'pluginregistration-v1.proto', v1: 'podresources-v1.proto' };
  const schemas = Object.values(api).filter((value): value is MessageSchema<object> => typeof value === 'object' && value !== null && 'typeName' in value);
  const seen = new Set<string>();
  for (const schema of schemas) seen.add(schema.typeName);
  // The nested pod-resources helper schemas are reached through the exported ones.
  const walk = (schema: MessageSchema<object>): void => {
    for (const field of schema.fields) if (field.message && !seen.has(field.message().typeName)) { seen.add(field.message().typeName); schemas.push(field.message()); walk(field.message()); }
  };
  for (const schema of [...schemas]) walk(schema);
  let compared = 0;
  for (const schema of schemas) {
    const [pkg, name] = schema.typeName.split('.') as [string, string];
    const proto = parseProtoMessages(readFileSync(join(repoRoot, 'config', 'proto', files[pkg]!), 'utf8')).get(name);
    t.ok(proto, `${schema.typeName} exists in ${files[pkg]}`);
    if (!proto) continue;
    const ours = schema.fields.map((f: FieldSpec) => ({ name: f.name, no: f.no, repeated: Boolean(f.repeated) || f.kind === 'map' }));
    const theirs = proto.map((f) => ({ name: camel(f.name), no: f.no, repeated: f.repeated || f.type.startsWith('map<') }));
    t.same(ours, theirs, `${schema.typeName} fields`);
    compared += 1;
  }
  t.ok(compared >= 39, `compared ${compared} message schemas`);
});
