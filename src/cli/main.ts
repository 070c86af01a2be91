/**
 * The command line: yargs parses, each command's file does its work. Bad flags, like bad model
 * files, get one line on stderr and exit code 2.
 */
import { createRequire } from 'node:module';
import type Yargs from 'yargs';
import type { Argv, CommandModule } from 'yargs';
import { version } from '../version.js';
import { EXIT, reportError, setDebug } from './output.js';
import { trainCommand } from './train.js';
import { evalCommand, predictCommand } from './use.js';
import { renderCommand, schemaCommand, validateCommand } from './modelfile.js';
import { gradcheckCommand } from './gradcheck.js';
import { graphCommand } from './graph.js';
import { sweepCommand } from './sweep.js';
import { compareCommand } from './compare.js';
import { benchCommand } from './bench.js';

/**
 * yargs's CommonJS build: one file of its own, where its ES modules are some thirty loaded one
 * by one (10-20 ms more of every start, with the cost of require itself counted).
 */
const yargs = createRequire(import.meta.url)('yargs') as typeof Yargs;

/** Every command; each file owns its flags' types, so the list only knows them as commands. */
const commands = [trainCommand, evalCommand, predictCommand, validateCommand, renderCommand, schemaCommand, gradcheckCommand, graphCommand, sweepCommand, compareCommand, benchCommand];

export async function main(argv: readonly string[]): Promise<void> {
  // A reader that went away (`rmad ... | head`) ends the output, not the program with a trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
    throw e;
  });
  let code: number = EXIT.ok;
  const first = argv[0];
  const names = commands.map((c) => String(c.command).split(' ')[0]!);
  if (first !== undefined && !first.startsWith('-') && !names.includes(first)) {
    process.stderr.write(`rmad: unknown command '${first}'; the commands are ${names.join(', ')}; see rmad --help\n`);
    process.exitCode = EXIT.input;
    return;
  }
  const parser: Argv = yargs([...argv])
    .scriptName('rmad')
    .usage('$0 <command> [options]')
    .option('debug', { type: 'boolean', describe: 'show stack traces of errors' })
    .middleware((args) => setDebug(Boolean(args.debug)))
    .demandCommand(1, 'name a command, e.g. rmad train models/mlp.yaml')
    .strict()
    .version(version)
    .help()
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      // yargs' own parse errors (a flag without its value) are usage errors too.
      if (err && err.name !== 'YError') throw err;
      throw new UsageError(usageLines(err?.message ?? msg));
    });
  for (const c of commands) parser.command(c as unknown as CommandModule);
  try {
    await parser.parseAsync();
  } catch (e) {
    if (e instanceof UsageError) {
      for (const line of e.message.split('\n')) process.stderr.write(`rmad: ${line}; see rmad --help\n`);
      code = EXIT.input;
    } else code = reportError(e);
  }
  process.exitCode = code;
}

class UsageError extends Error {}

/**
 * yargs' message as one line per problem: each invalid choice as `--flag: "given" is not one of
 * ...`, and a message yargs wraps over lines (a required flag and its hint) joined into one.
 */
function usageLines(message: string): string {
  const invalid = [...message.matchAll(/Argument: (\S+), Given: (.*), Choices: (.*)/g)];
  if (invalid.length > 0) return invalid.map(([, name, given, choices]) => `--${name}: ${given} is not one of ${choices}`).join('\n');
  return message.split('\n').map((l) => l.trim()).filter((l) => l !== '').join('; ');
}
