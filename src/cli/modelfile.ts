/** `rmad validate`, `rmad render` and `rmad schema`: model files without training. */
import type { Argv, CommandModule } from 'yargs';
import { InputError, InputErrors } from '../errors.js';
import { loadModelFile, renderModel } from '../loaders/modelfile.js';
import { toJsonSchema } from '../loaders/schema.js';
import { EXIT, Exit } from './output.js';
import { modelFileOptions, overrides } from './train.js';

export const validateCommand: CommandModule<object, { files: string[] }> = {
  command: 'validate <files..>',
  describe: 'check model files; every problem on one line',
  builder: (y) => y.positional('files', { type: 'string', array: true, demandOption: true }) as Argv<{ files: string[] }>,
  handler: (args) => {
    const errors: InputError[] = [];
    for (const file of args.files) {
      try {
        loadModelFile(file);
        process.stdout.write(`${file}: ok\n`);
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        errors.push(...(e instanceof InputErrors ? e.errors : [e]));
      }
    }
    if (errors.length) {
      for (const e of errors) process.stderr.write(`${e.line()}\n`);
      throw new Exit(EXIT.input);
    }
  },
};

export const renderCommand: CommandModule<object, { file: string; set?: string[]; seed?: number }> = {
  command: 'render <file>',
  describe: 'print the resolved model file, every default filled in',
  builder: (y) => modelFileOptions(y.positional('file', { type: 'string', demandOption: true })) as Argv<{ file: string; set?: string[]; seed?: number }>,
  handler: (args) => {
    process.stdout.write(renderModel(loadModelFile(args.file, overrides(args)).spec));
  },
};

export const schemaCommand: CommandModule = {
  command: 'schema',
  describe: 'print the JSON Schema of model files (for editors)',
  handler: () => {
    process.stdout.write(`${JSON.stringify(toJsonSchema(), null, 2)}\n`);
  },
};
