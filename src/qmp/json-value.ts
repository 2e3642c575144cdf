/**
 * The values QMP carries, as tsvisor holds them.
 *
 * QEMU keeps a JSON number in one of three forms (qapi/qmp/qnum.h): a signed 64-bit integer, an
 * unsigned 64-bit one, or a double, and echoes each in its own form: an id of
 * 9007199254740993 comes back as 9007199254740993, 1.0 comes back as 1 and 1e17 as 1e+17. So an
 * integer the parser reads is a bigint and a number written with a fraction or an exponent is a
 * JsonDouble; values tsvisor makes itself may use plain numbers. Objects the parser reads are
 * Maps (they keep their members' order); values tsvisor makes may be plain objects.
 */
export type JsonValue = null | boolean | string | bigint | number | JsonDouble | readonly JsonValue[] | JsonObject | { readonly [key: string]: JsonValue };
export type JsonObject = ReadonlyMap<string, JsonValue>;

/** A number written with a fraction or an exponent: QEMU keeps it as a double, and prints it so (%.17g). */
export class JsonDouble {
  constructor(readonly value: number) {}
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return value instanceof Map;
}
