/**
 * C struct layouts for the KVM ABI, declared once and computed with the C rules (each
 * member at its natural alignment, the struct padded to its largest alignment). The
 * computed offsets are checked against the kernel headers by compiling a C program in
 * test/kvm/abi-layout.test.ts, so a wrong field here fails a test rather than a guest.
 */

export interface ScalarType<N extends ScalarName = ScalarName> {
  readonly kind: 'scalar';
  readonly name: N;
  readonly size: number;
  readonly align: number;
}
export type ScalarName = 'u8' | 'u16' | 'u32' | 'u64';

export interface ArrayType<E extends Type = Type> {
  readonly kind: 'array';
  readonly element: E;
  /** 0 for a C99 flexible array member (`__DECLARE_FLEX_ARRAY`). */
  readonly length: number;
  readonly flexible: boolean;
  readonly size: number;
  readonly align: number;
}

export interface RecordType<F extends Fields = Fields> {
  readonly kind: 'struct' | 'union';
  /** The C tag (`kvm_regs`); empty for an anonymous struct or union. */
  readonly name: string;
  readonly fields: F;
  readonly offsets: { readonly [K in keyof F]: number };
  readonly size: number;
  readonly align: number;
}

export type Type = ScalarType | ArrayType<any> | RecordType<any>;
export type Fields = { readonly [name: string]: Type };

/** The JavaScript value of a C type: u64 as bigint, other integers as numbers. */
export type Value<T> = T extends ScalarType<'u64'>
  ? bigint
  : T extends ScalarType
    ? number
    : T extends ArrayType<infer E>
      ? Value<E>[]
      : T extends RecordType<infer F>
        ? { [K in keyof F]: Value<F[K]> }
        : never;

function scalar<N extends ScalarName>(name: N, size: number): ScalarType<N> {
  return { kind: 'scalar', name, size, align: size };
}
export const u8 = scalar('u8', 1);
export const u16 = scalar('u16', 2);
export const u32 = scalar('u32', 4);
export const u64 = scalar('u64', 8);

export function array<E extends Type>(element: E, length: number): ArrayType<E> {
  if (!Number.isInteger(length) || length <= 0) throw new RangeError(`array length ${length} is not a positive integer`);
  return { kind: 'array', element, length, flexible: false, size: element.size * length, align: element.align };
}

/** A flexible array member: occupies no space in sizeof, entries follow the struct. */
export function flexibleArray<E extends Type>(element: E): ArrayType<E> {
  return { kind: 'array', element, length: 0, flexible: true, size: 0, align: element.align };
}

const alignUp = (value: number, align: number) => Math.ceil(value / align) * align;

export function struct<F extends Fields>(name: string, fields: F): RecordType<F> {
  const offsets: Record<string, number> = {};
  let offset = 0;
  let align = 1;
  for (const [field, type] of Object.entries(fields)) {
    offset = alignUp(offset, type.align);
    offsets[field] = offset;
    offset += type.size;
    align = Math.max(align, type.align);
  }
  return { kind: 'struct', name, fields, offsets: offsets as RecordType<F>['offsets'], size: alignUp(offset, align), align };
}

export function union<F extends Fields>(name: string, fields: F): RecordType<F> {
  const offsets: Record<string, number> = {};
  let size = 0;
  let align = 1;
  for (const [field, type] of Object.entries(fields)) {
    offsets[field] = 0;
    size = Math.max(size, type.size);
    align = Math.max(align, type.align);
  }
  return { kind: 'union', name, fields, offsets: offsets as RecordType<F>['offsets'], size: alignUp(size, align), align };
}

/**
 * An anonymous member (`union { ... };` with no name in C) is declared here under a name
 * starting with `_`; paths and offsets skip it, as C does.
 */
function isAnonymous(field: string): boolean {
  return field.startsWith('_');
}

/**
 * The byte offset of a member, by its C path as offsetof() takes it: `io.port`,
 * `cs.base`, `internal.data`. Members of anonymous structs and unions are reached
 * without naming them, as in C.
 */
export function offsetOf(type: RecordType, path: string): number {
  let current: Type = type;
  let offset = 0;
  for (const part of path.split('.')) {
    if (current.kind !== 'struct' && current.kind !== 'union') throw new Error(`${path}: ${part} is not in a struct`);
    const found = findMember(current, part);
    if (!found) throw new Error(`${type.name} has no member ${path}`);
    offset += found.offset;
    current = found.type;
  }
  return offset;
}

function findMember(record: RecordType, name: string): { offset: number; type: Type } | undefined {
  for (const [field, type] of Object.entries(record.fields) as [string, Type][]) {
    const offset = record.offsets[field] as number;
    if (field === name) return { offset, type };
    if (isAnonymous(field) && type.kind !== 'scalar' && type.kind !== 'array') {
      const inner = findMember(type, name);
      if (inner) return { offset: offset + inner.offset, type: inner.type };
    }
  }
  return undefined;
}

/** Every leaf member (scalar or array) with its C path, offset and size: what the ABI test checks. */
export function* leaves(type: RecordType, prefix = '', base = 0): Generator<{ path: string; offset: number; type: Type }> {
  for (const [field, member] of Object.entries(type.fields) as [string, Type][]) {
    const offset = base + (type.offsets[field] as number);
    const path = isAnonymous(field) ? prefix : `${prefix}${field}`;
    if (member.kind === 'struct' || member.kind === 'union') {
      yield* leaves(member, isAnonymous(field) ? prefix : `${path}.`, offset);
    } else {
      yield { path, offset, type: member };
    }
  }
}

/** Reads a struct (or any type without unions) from `view` at `offset`. */
export function decode<T extends Type>(type: T, view: DataView, offset = 0): Value<T> {
  switch (type.kind) {
    case 'scalar':
      return readScalar(type, view, offset) as Value<T>;
    case 'array':
      return Array.from({ length: type.length }, (_, i) =>
        decode(type.element, view, offset + i * type.element.size),
      ) as Value<T>;
    case 'struct': {
      const result: Record<string, unknown> = {};
      for (const [field, member] of Object.entries(type.fields) as [string, Type][]) {
        result[field] = decode(member, view, offset + (type.offsets[field] as number));
      }
      return result as Value<T>;
    }
    case 'union':
      throw new Error(`cannot decode union ${type.name}: read its members by offset`);
  }
}

/** Writes a struct (or any type without unions) into `view` at `offset`. */
export function encode<T extends Type>(type: T, value: Value<T>, view: DataView, offset = 0): void {
  switch (type.kind) {
    case 'scalar':
      writeScalar(type, value as number | bigint, view, offset);
      return;
    case 'array': {
      const values = value as unknown[];
      for (let i = 0; i < type.length; i++) {
        encode(type.element, values[i] as never, view, offset + i * type.element.size);
      }
      return;
    }
    case 'struct': {
      const record = value as Record<string, unknown>;
      for (const [field, member] of Object.entries(type.fields) as [string, Type][]) {
        encode(member, record[field] as never, view, offset + (type.offsets[field] as number));
      }
      return;
    }
    case 'union':
      throw new Error(`cannot encode union ${type.name}: write its members by offset`);
  }
}

function readScalar(type: ScalarType, view: DataView, offset: number): number | bigint {
  switch (type.name) {
    case 'u8':
      return view.getUint8(offset);
    case 'u16':
      return view.getUint16(offset, true);
    case 'u32':
      return view.getUint32(offset, true);
    case 'u64':
      return view.getBigUint64(offset, true);
  }
}

function writeScalar(type: ScalarType, value: number | bigint, view: DataView, offset: number): void {
  switch (type.name) {
    case 'u8':
      view.setUint8(offset, Number(value));
      return;
    case 'u16':
      view.setUint16(offset, Number(value), true);
      return;
    case 'u32':
      view.setUint32(offset, Number(value), true);
      return;
    case 'u64':
      view.setBigUint64(offset, BigInt(value), true);
      return;
  }
}
