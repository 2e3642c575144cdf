/** Command-line options of a tsvisor command, with usage errors a user can act on. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandOptions<const O extends Options>(command: string, args: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    const option = /'(-[^' ]+)/.exec(message)?.[1] ?? '';
    const problem =
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? `tsvisor ${command} has no option '${option}'`
        : code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
          ? `the option '${option}' needs a value`
          : message.replace(/\.$/, '');
    throw new UsageError(`${problem}. See \`tsvisor ${command} --help\` for its options.`);
  }
}
