// Bundles the compiled entry points (tsc's output in dist/src/) into one file each, beside them
// in dist/src/: Node then loads one module where it loaded fifty to eighty, which was most of
// the time `import 'rmad'` (W6) and every `rmad` command took to start. npm packages stay
// outside (they load from node_modules as before); the worker threads' scripts stay separate
// files, found through src/package-file.ts, which resolves the same from a bundle as from the
// module it was made of. Run by `npm run build` after tsc.
import { build } from 'esbuild';

const entries = {
  // The package's export: the library (src/index.ts).
  rmad: 'dist/src/index.js',
  // What bin/rmad runs.
  cli: 'dist/src/cli/main.js',
  // The process each sweep trial trains in (src/train/sweep.ts starts it).
  'sweep-worker': 'dist/src/train/sweep-worker.js',
};

await build({
  entryPoints: entries,
  outdir: 'dist/src',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
