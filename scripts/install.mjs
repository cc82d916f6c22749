#!/usr/bin/env node
// npm install hook. As a dependency it never fails and never compiles: it notes whether an
// addon is ready (a prebuild or an optional @vpt-native/... package matching the LibTorch found,
// or an earlier `vpt-native setup` build) and otherwise prints ONE line saying how the addon
// gets built (`npx vpt-native setup`, or on first use of a command that needs it).
// It compiles native/ into build/ (cmake-js, against the LibTorch cmake/LocateLibTorch.cmake
// finds) only when asked, VPT_BUILD_ON_INSTALL=1, or in the repository's own checkout (`npm ci`
// in a clone: package.json not inside node_modules, with .git or test/ beside it), where a
// failed compile fails the install.
//   VPT_SKIP_BUILD=1         never compile (packaging)
//   VPT_BUILD_ON_INSTALL=1   compile during install, as before
// What it did is recorded in install-status.json, so the loader can tell "npm skipped the install
// script" (npm >= 11 blocks dependency scripts until approved) from "deferred to setup".
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const checkout =
  !root.split(sep).includes('node_modules') && (existsSync(join(root, '.git')) || existsSync(join(root, 'test')));

function record(action, message) {
  if (checkout) return; // the loader never suspects blocked scripts in a checkout
  try {
    writeFileSync(
      join(root, 'install-status.json'),
      `${JSON.stringify({ action, message, at: new Date().toISOString() })}\n`,
    );
  } catch {
    // a read-only package folder: the loader then reports "install script not run", which is harmless
  }
}

/** The compiled locator (dist/), or undefined before the TypeScript build (a fresh checkout). */
async function locator() {
  const file = join(root, 'dist', 'lib', 'setup', 'locate-addon.js');
  return existsSync(file) ? import(pathToFileURL(file).href) : undefined;
}

/** Compiles native/ into build/; returns cmake-js's exit status. */
function compile() {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const jobs = process.env.CMAKE_BUILD_PARALLEL_LEVEL ?? String(Math.max(1, availableParallelism()));
  return (
    spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build', '--parallel', jobs], {
      cwd: root,
      stdio: 'inherit',
    }).status ?? 1
  );
}

const HELP = [
  'It needs a LibTorch >= 2.4, found in this order: $LIBTORCH, $Torch_DIR, an importable Python torch, .deps/torch-cpu, a system install.',
  '  npx vpt-native setup --check     what is found and what would be used',
  '  npx vpt-native setup             finds or installs (with consent) a LibTorch and compiles the addon, with progress',
];

if (process.env.VPT_SKIP_BUILD === '1') {
  console.log('vpt-native: VPT_SKIP_BUILD=1, not compiling the native addon');
  record('skipped');
} else if (checkout || process.env.VPT_BUILD_ON_INSTALL === '1') {
  const located = checkout ? undefined : (await locator())?.locateAddon(root);
  const ready = located?.locations.find((l) => l.source !== 'build' && l.source !== 'VPT_NATIVE_ADDON');
  if (ready && !checkout) {
    console.log(`vpt-native: using ${ready.label}; nothing to compile`);
    record('ready', ready.path);
  } else {
    console.log(
      `vpt-native: compiling the native addon into build/ (${checkout ? 'source checkout' : 'VPT_BUILD_ON_INSTALL=1'}; several minutes)`,
    );
    const status = compile();
    if (status !== 0) {
      console.error(['', 'vpt-native: compiling the native addon failed.', ...HELP].join('\n'));
      record('failed');
      // In the checkout a broken build must fail `npm ci`; as a dependency the install never fails.
      if (checkout) process.exit(status);
    } else {
      record('compiled');
    }
  }
} else {
  let line;
  try {
    const located = (await locator())?.locateAddon(root);
    const ready = located?.locations[0];
    line = ready
      ? `vpt-native: native addon ready (${ready.label}); nothing to compile`
      : `vpt-native: no prebuilt addon for ${located?.libtorch && !located.libtorch.problem ? `LibTorch ${located.libtorch.version} (${located.libtorch.variant})` : 'this machine (no LibTorch >= 2.4 found)'}; run \`npx vpt-native setup\` to build it (a few minutes, with progress), or the first command that needs it offers to`;
    record(ready ? 'ready' : 'deferred', line);
  } catch (error) {
    line = `vpt-native: the native addon is built on first use: run \`npx vpt-native setup\` (${error.message})`;
    record('deferred', line);
  }
  console.log(line);
}
