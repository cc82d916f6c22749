#!/usr/bin/env node
// npm install hook: use the prebuilt addon tagged with the LibTorch found here (lib/prebuild.ts)
// when there is one and it loads, otherwise explain why not and compile native/ with cmake-js
// against the LibTorch found by cmake/LocateLibTorch.cmake.
//   VPT_SKIP_BUILD=1   skip compiling (e.g. when packaging)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** True when a prebuild matches this machine's LibTorch and loads against it. */
async function matchingPrebuildLoads() {
  if (!existsSync(join(root, 'prebuilds'))) return false;
  const selector = join(root, 'dist', 'lib', 'prebuild.js');
  if (!existsSync(selector)) {
    console.warn('vpt-native: dist/ is not compiled yet, so the prebuilt addons cannot be matched to a LibTorch; compiling instead');
    return false;
  }
  const { choosePrebuild } = await import(pathToFileURL(selector).href);
  const choice = choosePrebuild(root);
  if (!choice) return false;
  if (!choice.prebuild) {
    console.warn(`${choice.explanation}\nvpt-native: compiling from source now.`);
    return false;
  }
  // Loaded in a fresh process exactly as at run time (lib/binding.ts preloads the matched
  // LibTorch), not through LD_LIBRARY_PATH, so a prebuild that would fail later fails here.
  const path = join(choice.folder, choice.prebuild.file);
  const binding = pathToFileURL(join(root, 'dist', 'lib', 'binding.js')).href;
  const env = { ...process.env };
  delete env.VPT_NATIVE_ADDON;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(binding)}); const { path } = m.loadAddon(); if (path !== ${JSON.stringify(path)}) throw new Error('loaded ' + path);`], {
    env, encoding: 'utf8',
  });
  if (r.status !== 0) {
    console.warn(`vpt-native: the prebuilt addon ${path} does not load (${(r.stderr.trim().split('\n').find((l) => l.includes('Error')) ?? `exit ${r.status}`).trim()}); compiling instead`);
    return false;
  }
  console.log(`vpt-native: using the prebuilt addon ${choice.prebuild.file} (LibTorch ${choice.libtorch.version}, ${choice.libtorch.variant}, at ${choice.libtorch.root})`);
  return true;
}

if (process.env.VPT_SKIP_BUILD === '1') {
  console.log('vpt-native: VPT_SKIP_BUILD=1, not compiling the native addon');
} else if (!(await matchingPrebuildLoads())) {
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
