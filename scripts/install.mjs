#!/usr/bin/env node
// npm install hook: use a prebuilt addon for this platform when one loads, otherwise compile
// native/ with cmake-js against the LibTorch found by cmake/LocateLibTorch.cmake.
//   VPT_SKIP_BUILD=1   skip compiling (e.g. when packaging)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function prebuildLoads() {
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(dir)) return false;
  try {
    require('node-gyp-build')(root);
    return true;
  } catch (error) {
    console.warn(`vpt-native: the prebuilt addon in ${dir} does not load (${error.message.split('\n')[0]}); compiling instead`);
    return false;
  }
}

if (process.env.VPT_SKIP_BUILD === '1') {
  console.log('vpt-native: VPT_SKIP_BUILD=1, not compiling the native addon');
} else if (prebuildLoads()) {
  console.log('vpt-native: using the prebuilt addon');
} else {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const jobs = process.env.CMAKE_BUILD_PARALLEL_LEVEL ?? String(Math.max(1, (await import('node:os')).availableParallelism()));
  const result = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build', '--parallel', jobs], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error([
      '',
      'vpt-native: compiling the native addon failed.',
      'It needs a LibTorch >= 2.4, found in this order: $LIBTORCH, $Torch_DIR, an importable Python torch, a system install.',
      '  CPU:  python3 -m pip install --target .deps/torch-cpu "torch==2.13.0+cpu" --index-url https://download.pytorch.org/whl/cpu',
      '        LIBTORCH=$PWD/.deps/torch-cpu/torch npm rebuild vpt-native',
      '  CUDA: python3 -m pip install torch, then npm rebuild vpt-native',
    ].join('\n'));
    process.exit(result.status ?? 1);
  }
}
