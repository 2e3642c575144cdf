/**
 * An error a QMP command answers with: QEMU's error class and its human-readable desc
 * (docs/interop/qmp-spec.txt, 2.4.2 "error"). Only two classes are used by the commands
 * tsvisor has, as by QEMU's for them.
 */
export type QmpErrorClass = 'GenericError' | 'CommandNotFound';

export class QmpError extends Error {
  override name = 'QmpError';
  constructor(
    readonly errorClass: QmpErrorClass,
    message: string,
  ) {
    super(message);
  }
}

export const genericError = (desc: string) => new QmpError('GenericError', desc);
