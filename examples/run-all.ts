// Runs the seed's five examples in order, each in its own process as a user would.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
for (const file of readdirSync(here).filter((f) => /^ex\d\d-.*\.js$/.test(f)).sort()) {
  console.log(`== ${file.replace(/\.js$/, '')}`);
  process.stdout.write(execFileSync(process.execPath, [join(here, file)], { encoding: 'utf8' }));
}
