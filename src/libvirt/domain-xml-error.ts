/** An error in a libvirt domain XML file, located by file:line:column and the element it is about, with a fix. */
import { ExitStatus, TsvisorError } from '../errors.js';

export interface XmlPlace {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export class DomainXmlError extends TsvisorError {
  override name = 'DomainXmlError';

  /** `what` names the element or attribute ("<vcpu current='3'>"); `problem` and `fix` are sentences. */
  constructor(place: XmlPlace | string, what: string | undefined, problem: string, fix = '') {
    const where = typeof place === 'string' ? place : `${place.file}:${place.line}:${place.column}`;
    super(`${where}: ${what ? `${what}: ` : ''}${problem}${fix ? ` ${fix}` : ''}`, ExitStatus.badInput);
  }
}
