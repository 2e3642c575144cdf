/**
 * Reading one element of a domain XML strictly: each attribute and child the mapping takes is
 * asked for by name, and finish() refuses whatever was not asked for, by name and position,
 * so that nothing in a definition is silently dropped.
 */
import { DomainXmlError, type XmlPlace } from './domain-xml-error.js';
import type { XmlElement } from './xml-tree.js';

export const QEMU_NAMESPACE = 'http://libvirt.org/schemas/domain/qemu/1.0';

export class ElementReader {
  private readonly takenAttributes = new Set<string>();
  private readonly takenChildren = new Set<XmlElement>();

  constructor(
    readonly element: XmlElement,
    readonly file: string,
  ) {}

  place(element: XmlElement = this.element): XmlPlace {
    return { file: this.file, line: element.line, column: element.column };
  }

  attribute(name: string): string | undefined {
    this.takenAttributes.add(name);
    return this.element.attributes.get(name)?.value;
  }

  /** The first child named `name` (libvirt reads the first of repeated single elements). */
  child(name: string, namespace = ''): ElementReader | undefined {
    const matches = this.element.children.filter((child) => child.name === name && child.namespace === namespace);
    for (const match of matches) this.takenChildren.add(match);
    const first = matches[0];
    return first && new ElementReader(first, this.file);
  }

  children(name: string, namespace = ''): ElementReader[] {
    return this.element.children
      .filter((child) => child.name === name && child.namespace === namespace)
      .map((child) => {
        this.takenChildren.add(child);
        return new ElementReader(child, this.file);
      });
  }

  /** Marks every child as read (an element whose content is free, such as <metadata>). */
  takeAll(): void {
    for (const child of this.element.children) this.takenChildren.add(child);
  }

  get text(): string {
    return this.element.text;
  }

  /** Refuses attributes and children nobody asked for: `why` says what tsvisor does instead. */
  finish(why = 'tsvisor does not have it.'): void {
    for (const [name, attribute] of this.element.attributes) {
      if (!this.takenAttributes.has(name)) {
        throw new DomainXmlError({ file: this.file, ...attribute }, `<${this.element.name} ${name}='${attribute.value}'>`, `the attribute ${name} is not one tsvisor takes here:`, why);
      }
    }
    for (const child of this.element.children) {
      if (!this.takenChildren.has(child)) {
        const name = child.namespace === QEMU_NAMESPACE ? `qemu:${child.name}` : child.name;
        throw new DomainXmlError(this.place(child), `<${name}>`, `tsvisor does not support this element inside <${this.element.name}>:`, why);
      }
    }
  }

  fail(what: string | undefined, problem: string, fix = '', at: XmlElement = this.element): DomainXmlError {
    return new DomainXmlError(this.place(at), what, problem, fix);
  }
}
