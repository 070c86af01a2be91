// Bundles the compiled entry points (tsc's output in dist/src/) into one file each, beside them
// in dist/src/: Node then loads one module where it loaded fifty to eighty, which was most of
// the time `import 'rmad'` (W6) and every `rmad` command took to start. The worker threads'
// scripts stay separate files, found through src/package-file.ts, which resolves the same from a
// bundle as from the module it was made of. Run by `npm run build` after tsc.
import { build } from 'esbuild';

const common = { outdir: 'dist/src', bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'warning' };

// The package's export, the library (src/index.ts): npm packages stay outside, for the user's
// own installation to provide.
await build({ ...common, entryPoints: { rmad: 'dist/src/index.js' }, packages: 'external' });

// The programs: what bin/rmad runs, and the process each sweep trial trains in (src/train/
// sweep.ts starts it). yaml, csv-parse and cli-progress come inside them: loaded from
// node_modules they are some hundred files to find, read and compile one by one, 70 ms of
// every command's start (`rmad train models/mlp.yaml` 725 -> 656 ms). yargs stays outside
// (src/cli/main.ts requires its CommonJS build, one file already, which finds its locales and
// the program's package.json from where it lies), as does webgpu (a native addon). What the
// bundled CommonJS code requires of Node's built-in modules it gets through
// process.getBuiltinModule (Node 20.16 and later) or createRequire.
await build({
  ...common,
  entryPoints: { cli: 'dist/src/cli/main.js', 'sweep-worker': 'dist/src/train/sweep-worker.js' },
  external: ['yargs', 'webgpu'],
  banner: {
    js: "const require = process.getBuiltinModule ? (id) => process.getBuiltinModule(id) : (await import('node:module')).createRequire(import.meta.url);",
  },
});
