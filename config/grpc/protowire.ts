// A small proto3 codec driven by hand-written schemas that mirror our .proto files
// (config/proto/). The kubelet APIs need a handful of flat messages; a table-driven codec
// keeps us off proto-loader/protobufjs and their start-up cost.

export type ScalarKind = 'string' | 'bytes' | 'bool' | 'int32' | 'int64' | 'uint32' | 'uint64';

export interface FieldSpec {
  /** Property name in the decoded JavaScript object (lowerCamelCase of the proto field). */
  readonly name: string;
  readonly no: number;
  readonly kind: ScalarKind | 'message' | 'map';
  readonly repeated?: boolean;
  /** For kind 'message'. A thunk so schemas can refer to each other in any order. */
  readonly message?: () => MessageSchema<object>;
}

// The phantom parameter ties a schema to the TypeScript shape it decodes to.
export interface MessageSchema<T extends object> {
  readonly typeName: string;
  readonly fields: readonly FieldSpec[];
  readonly __shape?: T;
}

export function messageSchema<T extends object>(typeName: string, fields: FieldSpec[]): MessageSchema<T> {
  const seen = new Set<number>();
  for (const field of fields) {
    if (seen.has(field.no)) throw new Error(`schema ${typeName}: field number ${field.no} used twice`);
    seen.add(field.no);
  }
  return { typeName, fields };
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

export class ProtoDecodeError extends Error {
  constructor(typeName: string, detail: string) {
    super(`cannot decode ${typeName}: ${detail}`);
    this.name = 'ProtoDecodeError';
  }
}

class Writer {
  private chunks: Buffer[] = [];
  private scratch = Buffer.allocUnsafe(10);

  varint(value: bigint | number): void {
    let v = BigInt.asUintN(64, BigInt(value));
    let i = 0;
    while (v >= 0x80n) {
      this.scratch[i++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.scratch[i++] = Number(v);
    this.chunks.push(Buffer.from(this.scratch.subarray(0, i)));
  }

  smallVarint(value: number): void {
    if (value < 0 || value > 0x7fffffff) return this.varint(value);
    const bytes: number[] = [];
    while (value >= 0x80) {
      bytes.push((value & 0x7f) | 0x80);
      value >>>= 7;
    }
    bytes.push(value);
    this.chunks.push(Buffer.from(bytes));
  }

  tag(no: number, wire: number): void {
    this.smallVarint((no << 3) | wire);
  }

  bytes(data: Buffer): void {
    this.smallVarint(data.length);
    this.chunks.push(data);
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function isDefault(field: FieldSpec, value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (field.repeated) return Array.isArray(value) && value.length === 0;
  if (field.kind === 'map') return typeof value === 'object' && Object.keys(value as object).length === 0;
  if (field.kind === 'message') return false;
  if (field.kind === 'bytes') return (value as Buffer).length === 0;
  return value === '' || value === false || value === 0 || value === 0n;
}

function writeScalar(writer: Writer, field: FieldSpec, value: unknown): void {
  switch (field.kind) {
    case 'string':
      writer.tag(field.no, WIRE_LEN);
      writer.bytes(Buffer.from(String(value), 'utf8'));
      return;
    case 'bytes':
      writer.tag(field.no, WIRE_LEN);
      writer.bytes(Buffer.isBuffer(value) ? value : Buffer.from(value as Uint8Array));
      return;
    case 'bool':
      writer.tag(field.no, WIRE_VARINT);
      writer.smallVarint(value ? 1 : 0);
      return;
    default:
      writer.tag(field.no, WIRE_VARINT);
      writer.varint(typeof value === 'bigint' ? value : Math.trunc(Number(value)));
  }
}

export function encodeMessage<T extends object>(schema: MessageSchema<T>, value: T): Buffer {
  const writer = new Writer();
  const record = value as Record<string, unknown>;
  for (const field of schema.fields) {
    const fieldValue = record[field.name];
    if (isDefault(field, fieldValue)) continue;
    if (field.kind === 'map') {
      for (const [key, entryValue] of Object.entries(fieldValue as Record<string, string>)) {
        const entry = new Writer();
        entry.tag(1, WIRE_LEN);
        entry.bytes(Buffer.from(key, 'utf8'));
        entry.tag(2, WIRE_LEN);
        entry.bytes(Buffer.from(String(entryValue), 'utf8'));
        writer.tag(field.no, WIRE_LEN);
        writer.bytes(entry.finish());
      }
      continue;
    }
    const items = field.repeated ? (fieldValue as unknown[]) : [fieldValue];
    for (const item of items) {
      if (field.kind === 'message') {
        writer.tag(field.no, WIRE_LEN);
        writer.bytes(encodeMessage(field.message!(), (item ?? {}) as object));
      } else {
        writeScalar(writer, field, item);
      }
    }
  }
  return writer.finish();
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer, private readonly typeName: string) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new ProtoDecodeError(this.typeName, 'truncated varint');
      const byte = this.buf[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
    throw new ProtoDecodeError(this.typeName, 'varint longer than 10 bytes');
  }

  smallVarint(): number {
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new ProtoDecodeError(this.typeName, 'truncated varint');
      const byte = this.buf[this.pos++]!;
      result += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return result;
      multiplier *= 128;
    }
    throw new ProtoDecodeError(this.typeName, 'varint longer than 10 bytes');
  }

  lengthDelimited(): Buffer {
    const length = this.smallVarint();
    if (length > this.buf.length - this.pos) throw new ProtoDecodeError(this.typeName, `length ${length} runs past the end of the message`);
    const slice = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return slice;
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.advance(8);
        return;
      case WIRE_LEN:
        this.lengthDelimited();
        return;
      case WIRE_I32:
        this.advance(4);
        return;
      default:
        throw new ProtoDecodeError(this.typeName, `unsupported wire type ${wire}`);
    }
  }

  private advance(count: number): void {
    if (this.pos + count > this.buf.length) throw new ProtoDecodeError(this.typeName, 'truncated fixed-width field');
    this.pos += count;
  }
}

function convertVarint(kind: ScalarKind, raw: bigint): number | boolean {
  switch (kind) {
    case 'bool':
      return raw !== 0n;
    case 'int32':
      return Number(BigInt.asIntN(32, raw));
    case 'uint32':
      return Number(BigInt.asUintN(32, raw));
    case 'int64':
      return Number(BigInt.asIntN(64, raw));
    default:
      return Number(BigInt.asUintN(64, raw));
  }
}

function defaultFor(field: FieldSpec): unknown {
  if (field.repeated) return [];
  switch (field.kind) {
    case 'map':
      return {};
    case 'message':
      return undefined;
    case 'string':
      return '';
    case 'bytes':
      return Buffer.alloc(0);
    case 'bool':
      return false;
    default:
      return 0;
  }
}

function decodeMapEntry(data: Buffer, typeName: string): [string, string] {
  const reader = new Reader(data, `${typeName} map entry`);
  let key = '';
  let value = '';
  while (!reader.done) {
    const tag = reader.smallVarint();
    const no = Math.floor(tag / 8);
    const wire = tag & 7;
    if ((no === 1 || no === 2) && wire === WIRE_LEN) {
      const text = reader.lengthDelimited().toString('utf8');
      if (no === 1) key = text;
      else value = text;
    } else reader.skip(wire);
  }
  return [key, value];
}

export function decodeMessage<T extends object>(schema: MessageSchema<T>, data: Buffer): T {
  const result: Record<string, unknown> = {};
  const byNumber = new Map<number, FieldSpec>();
  for (const field of schema.fields) {
    byNumber.set(field.no, field);
    result[field.name] = defaultFor(field);
  }
  const reader = new Reader(data, schema.typeName);
  while (!reader.done) {
    const tag = reader.smallVarint();
    const no = Math.floor(tag / 8);
    const wire = tag & 7;
    const field = byNumber.get(no);
    if (!field) {
      reader.skip(wire); // unknown fields from newer peers are ignored, as proto3 requires
      continue;
    }
    if (field.kind === 'map') {
      if (wire !== WIRE_LEN) throw new ProtoDecodeError(schema.typeName, `field ${field.name}: expected a map entry`);
      const [key, value] = decodeMapEntry(reader.lengthDelimited(), schema.typeName);
      (result[field.name] as Record<string, string>)[key] = value;
      continue;
    }
    let value: unknown;
    if (field.kind === 'message' || field.kind === 'string' || field.kind === 'bytes') {
      if (wire !== WIRE_LEN) throw new ProtoDecodeError(schema.typeName, `field ${field.name}: wire type ${wire}, expected length-delimited`);
      const bytes = reader.lengthDelimited();
      if (field.kind === 'message') value = decodeMessage(field.message!(), bytes);
      else if (field.kind === 'string') value = bytes.toString('utf8');
      else value = Buffer.from(bytes);
    } else if (wire === WIRE_LEN && field.repeated) {
      // Packed repeated scalars (the proto3 default for numeric fields).
      const packed = new Reader(reader.lengthDelimited(), schema.typeName);
      const list = result[field.name] as unknown[];
      while (!packed.done) list.push(convertVarint(field.kind, packed.varint()));
      continue;
    } else if (wire === WIRE_VARINT) {
      value = convertVarint(field.kind, reader.varint());
    } else {
      throw new ProtoDecodeError(schema.typeName, `field ${field.name}: wire type ${wire} does not fit ${field.kind}`);
    }
    if (field.repeated) (result[field.name] as unknown[]).push(value);
    else result[field.name] = value;
  }
  return result as T;
}
