/**
 * QEMU's -initrd for a multiboot kernel: modules separated by commas (",," is a comma in a
 * name), each "file[ arguments]". The whole text of each, arguments included, is the
 * module's string in the multiboot information; the file is the text up to the first space.
 * As QEMU 7.2 reads it (observed with test/qemu/multiboot-modules.test.ts's guest): an empty
 * -initrd gives no modules, one trailing comma is dropped, and any other empty module is a
 * file QEMU cannot open ('').
 */
import { splitElements } from './keyval.js';

export interface InitrdModule {
  /** The host file, as written. */
  readonly file: string;
  /** Its string in the multiboot information: the module's whole text. */
  readonly string: string;
}

export function parseInitrd(text: string): InitrdModule[] {
  if (text === '') return [];
  const modules = splitElements(text);
  if (modules.length > 1 && modules.at(-1) === '') modules.pop();
  return modules.map((string) => ({ file: string.split(' ')[0] as string, string }));
}
