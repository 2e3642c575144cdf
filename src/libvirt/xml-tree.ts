/**
 * A domain XML document as a small tree of elements, each with where it starts (line and
 * column, 1-based) for errors. Parsed by saxes, a strict XML 1.0 parser with namespaces: a
 * document that is not well-formed is refused with saxes' own message and position.
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { DomainXmlError } from './domain-xml-error.js';

export interface XmlPosition {
  readonly line: number;
  readonly column: number;
}

export interface XmlAttribute extends XmlPosition {
  readonly value: string;
}

export interface XmlElement extends XmlPosition {
  /** The local name: "arg" for <qemu:arg>. */
  readonly name: string;
  /** The namespace URI, "" for none. */
  readonly namespace: string;
  /** Attributes without a namespace prefix, by name (namespace declarations left out). */
  readonly attributes: ReadonlyMap<string, XmlAttribute>;
  readonly children: readonly XmlElement[];
  /** The text directly inside, trimmed. */
  readonly text: string;
}

interface OpenElement {
  readonly name: string;
  readonly namespace: string;
  readonly attributes: Map<string, XmlAttribute>;
  readonly children: XmlElement[];
  text: string;
  readonly line: number;
  readonly column: number;
}

export function parseXml(text: string, file: string): XmlElement {
  const parser = new SaxesParser({ xmlns: true, position: true, fileName: file });
  const stack: OpenElement[] = [];
  let root: XmlElement | undefined;
  let failure: Error | undefined;
  parser.on('error', (error) => {
    failure ??= error;
  });
  parser.on('opentag', (tag: SaxesTagNS) => {
    // saxes' position is just past the tag's '>' or '/>': the start is found back from its name, below.
    const attributes = new Map<string, XmlAttribute>();
    for (const attribute of Object.values(tag.attributes)) {
      if (attribute.prefix === 'xmlns' || attribute.name === 'xmlns' || attribute.prefix !== '') continue;
      attributes.set(attribute.local, { value: attribute.value, line: tagStart.line, column: tagStart.column });
    }
    stack.push({ name: tag.local, namespace: tag.uri, attributes, children: [], text: '', ...tagStart });
  });
  let tagStart: XmlPosition = { line: 1, column: 1 };
  parser.on('opentagstart', (tag) => {
    tagStart = { line: parser.line, column: parser.column - tag.name.length - 1 };
  });
  parser.on('text', (chunk) => {
    const top = stack.at(-1);
    if (top) top.text += chunk;
  });
  parser.on('cdata', (chunk) => {
    const top = stack.at(-1);
    if (top) top.text += chunk;
  });
  parser.on('closetag', () => {
    const open = stack.pop() as OpenElement;
    const element: XmlElement = { ...open, text: open.text.trim() };
    const parent = stack.at(-1);
    if (parent) parent.children.push(element);
    else root = element;
  });
  try {
    parser.write(text).close();
  } catch (error) {
    failure ??= error as Error;
  }
  if (failure) {
    // saxes' message starts with "file:line:column: ".
    throw new DomainXmlError(failure.message.replace(/\.$/, ''), undefined, 'the file is not well-formed XML.', `Fix it there (\`xmllint --noout ${file}\` shows the same spot).`);
  }
  if (!root) throw new DomainXmlError(file, undefined, 'the file holds no XML element.', "A libvirt domain is a <domain type='kvm'> element.");
  return root;
}
