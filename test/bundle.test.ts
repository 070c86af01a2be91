// The package's entry, the command line and the sweep worker are bundles (scripts/bundle.mjs):
// they must work as the modules they were made from do, worker threads included (their scripts
// are found from the bundles' folder). The command line's tests run through its bundle.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const smoke = fileURLToPath(new URL('../../test/fixtures/bundle-smoke.mjs', import.meta.url));

test('import rmad loads the bundle; gradients, threaded products and the GPU worker run from it', () => {
  const r = spawnSync(process.execPath, [smoke], { encoding: 'utf8', env: { ...process.env, RMAD_THREADS: '2' } });
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { resolved: string; grad: number; missing: string[]; matmulError: number; gpu: number[] | string };
  assert.match(out.resolved, /\/dist\/src\/rmad\.js$/);
  assert.is(out.grad, 6);
  assert.equal(out.missing, [], 'exported');
  assert.is(out.matmulError, 0, 'exact dyadic products');
  if (process.env.RMAD_REQUIRE_GPU === '1') assert.equal(out.gpu, [2, 4, 6]);
  else if (out.gpu === 'no adapter') console.log('webgpu: no adapter; the bundle\'s GPU worker was not started');
  else assert.equal(out.gpu, [2, 4, 6]);
});

test('every file a bundle looks for beside it is there (a worker that fails to start is only skipped)', () => {
  const found = new Set<string>();
  for (const name of ['rmad.js', 'cli.js', 'sweep-worker.js']) {
    const bundle = new URL(`../src/${name}`, import.meta.url);
    for (const [, path] of readFileSync(bundle, 'utf8').matchAll(/packageFile\("([^"]+)"\)/g)) {
      assert.ok(existsSync(new URL(path!, bundle)), `${name} looks for ${path}, which is not there`);
      found.add(path!);
    }
  }
  assert.equal([...found].sort(), ['../../package.json', 'engine/backends/wasm/worker.js', 'engine/backends/webgpu/worker.js', 'sweep-worker.js']);
});

test('the bundles import no npm package: the programs carry theirs inside, yargs aside (required at run time), the library has none', () => {
  // Packages loaded from node_modules cost every start their files one by one (scripts/bundle.mjs).
  const packages = (name: string): string[] => {
    const source = readFileSync(new URL(`../src/${name}`, import.meta.url), 'utf8');
    const found = new Set<string>();
    for (const [, imported, loaded] of source.matchAll(/^import .* from "([^"]+)";$|\bimport\("([^"]+)"\)/gm)) {
      const id = imported ?? loaded!;
      if (!id.startsWith('node:') && !id.startsWith('.')) found.add(id);
    }
    return [...found].sort();
  };
  assert.equal(packages('cli.js'), []);
  assert.equal(packages('sweep-worker.js'), []);
  assert.equal(packages('rmad.js'), []);
});

test('before Node 20.16 (no process.getBuiltinModule) the built-in modules load through require', () => {
  const builtins = new URL('../src/node-builtins.js', import.meta.url).href;
  const cli = new URL('../src/cli.js', import.meta.url).href;
  const model = fileURLToPath(new URL('../../models/mlp.yaml', import.meta.url));
  const code = `delete process.getBuiltinModule;
    const b = await import(${JSON.stringify(builtins)});
    console.log(String(b.nodeOs().availableParallelism() > 0 && typeof b.workerThreads().Worker === 'function' && typeof b.nodeV8().setFlagsFromString === 'function'));
    const m = await import(${JSON.stringify(cli)});
    await m.main(['validate', ${JSON.stringify(model)}]);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), `true\n${model}: ok`);
});

test.run();
