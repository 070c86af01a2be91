/** rmad's version, read once from package.json (two folders above the compiled src/). */
import { readFileSync } from 'node:fs';
import { packageFile } from './package-file.js';

export const version: string = (JSON.parse(readFileSync(packageFile('../../package.json'), 'utf8')) as { version: string }).version;
