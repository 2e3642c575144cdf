/**
 * A command's arguments, checked against its declared parameters as QEMU's QAPI input visitor
 * checks them (qapi/qobject-input-visitor.c; messages measured against QEMU 7.2): each declared
 * parameter in order (missing, or of the wrong type), then the first member nobody declared.
 */
import { genericError } from './qmp-error.js';
import type { JsonObject, JsonValue } from './json-value.js';

export type ParameterType = 'str' | 'int' | 'bool' | { readonly listOf: ParameterType } | { readonly oneOf: readonly string[] };

export interface Parameter {
  readonly name: string;
  readonly type: ParameterType;
  readonly optional?: boolean;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export function checkArguments(parameters: readonly Parameter[], args: JsonObject): void {
  for (const { name, type, optional } of parameters) {
    const value = args.get(name);
    if (value === undefined) {
      if (!optional) throw genericError(`Parameter '${name}' is missing`);
      continue;
    }
    checkType(name, type, value);
  }
  for (const name of args.keys()) {
    if (!parameters.some((parameter) => parameter.name === name)) throw genericError(`Parameter '${name}' is unexpected`);
  }
}

function checkType(name: string, type: ParameterType, value: JsonValue, inList = false): void {
  const wrongType = (expected: string) => genericError(`Invalid parameter type for '${name}', expected: ${expected}`);
  if (type === 'str') {
    if (typeof value !== 'string') throw wrongType('string');
  } else if (type === 'int') {
    if (typeof value !== 'bigint' || value < INT64_MIN || value > INT64_MAX) throw wrongType('integer');
  } else if (type === 'bool') {
    if (typeof value !== 'boolean') throw wrongType('boolean');
  } else if ('listOf' in type) {
    if (!Array.isArray(value)) throw wrongType('array');
    (value as readonly JsonValue[]).forEach((item, index) => checkType(`${name}[${index}]`, type.listOf, item, true));
  } else {
    if (typeof value !== 'string') throw wrongType('string');
    // QEMU names a list's element 'enable[0]' for a type error, but gives its value check no name at all: 'null'.
    if (!type.oneOf.includes(value)) throw genericError(`Parameter '${inList ? 'null' : name}' does not accept value '${value}'`);
  }
}
