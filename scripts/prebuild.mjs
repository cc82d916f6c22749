#!/usr/bin/env node
// `npm run prebuild`: a prebuilt addon tagged with the LibTorch it was built against,
//   prebuilds/<platform>-<arch>/vpt-native.napi.libtorch-<version>.<variant>.node
// made by prebuildify, with cmake-js doing the build. The LibTorch is the one the build finds
// ($LIBTORCH, $Torch_DIR, python torch, .deps/torch-cpu; lib/prebuild.ts), and it is passed to
// the build as LIBTORCH so the tag and the binary agree. lib/binding.ts loads a prebuild only
// when the LibTorch found at run time has the same version and variant.
//   node scripts/prebuild.mjs [--out <dir>]     prebuilds/ goes under <dir> (default: the package)
//   VPT_PREBUILD_JPEG=1                          link the system libjpeg-turbo (native JPEG decode;
//                                                the prebuild then needs libjpeg.so.62 to load)
// The build runs in a temporary copy of CMakeLists.txt, cmake/ and native/, so build/ is left
// alone. prebuildify drives node-gyp's command line; this script stands in for node-gyp
// (`prebuild.mjs --as-node-gyp rebuild --arch=x64 --release ...`) and runs cmake-js.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const self = fileURLToPath(import.meta.url);
const root = join(dirname(self), '..');
const require = createRequire(import.meta.url);

/** node-gyp's `rebuild --arch=<a> --release|--debug`, done with cmake-js in the current folder. */
function buildAsNodeGyp(args) {
  const arch = args.find((a) => a.startsWith('--arch='))?.slice('--arch='.length);
  const jobs = process.env.CMAKE_BUILD_PARALLEL_LEVEL ?? String(availableParallelism());
  const result = spawnSync(process.execPath, [
    require.resolve('cmake-js/bin/cmake-js'), 'rebuild', '--out', 'build', '--parallel', jobs,
    ...(arch ? ['--arch', arch] : []), ...(args.includes('--debug') ? ['--debug'] : []),
    // libjpeg-turbo's static library is not position-independent, so linking it would make the
    // prebuild NEED libjpeg.so.62 on every machine; a portable prebuild decodes with sharp.
    ...(process.env.VPT_PREBUILD_JPEG === '1' ? [] : ['--CDCMAKE_DISABLE_FIND_PACKAGE_JPEG=ON']),
  ], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

async function prebuild(out) {
  const selector = join(root, 'dist', 'lib', 'prebuild.js');
  if (!existsSync(selector)) {
    console.error('vpt-native prebuild: dist/ is missing; run `npm run build:ts` first (npm run prebuild does)');
    process.exit(1);
  }
  const { findLibTorch, prebuildFileName } = await import(pathToFileURL(selector).href);
  const libtorch = findLibTorch(root);
  if (!libtorch || libtorch.version === 'unknown') {
    console.error(`vpt-native prebuild: ${libtorch ? `${libtorch.root} (from ${libtorch.source}) does not say which LibTorch it is` : 'no LibTorch found'}; set LIBTORCH=/path/to/libtorch`);
    process.exit(1);
  }
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const file = prebuildFileName(pkg.name, libtorch);
  console.error(`vpt-native prebuild: ${file} against LibTorch ${libtorch.version} (${libtorch.variant}) at ${libtorch.root}`);

  const stage = mkdtempSync(join(tmpdir(), 'vpt-native-prebuild-'));
  try {
    for (const entry of ['CMakeLists.txt', 'cmake', 'native', 'package.json']) {
      cpSync(join(root, entry), join(stage, entry), { recursive: true });
    }
    symlinkSync(join(root, 'node_modules'), join(stage, 'node_modules'), 'dir');
    process.env.LIBTORCH = libtorch.root;
    const prebuildify = require('prebuildify');
    await new Promise((done, fail) => prebuildify({
      cwd: stage,
      out,
      napi: true,
      targets: [process.versions.node],
      name: file.slice(0, -'.node'.length),
      nodeGyp: `"${process.execPath}" "${self}" --as-node-gyp`,
      shell: true,
      strip: true,
    }, (error) => (error ? fail(error) : done())));
    // The build must have used the LibTorch the name promises.
    const built = JSON.parse(readFileSync(join(stage, 'build', 'vpt-build.json'), 'utf8'));
    const dest = join(out, 'prebuilds', `${process.platform}-${process.arch}`, file);
    if (!built.torchVersion.startsWith(libtorch.version) || resolve(built.torchRoot) !== libtorch.root) {
      rmSync(dest, { force: true });
      throw new Error(`the build used LibTorch ${built.torchVersion} at ${built.torchRoot}, not ${libtorch.version} at ${libtorch.root}`);
    }
    console.log(dest);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

const argv = process.argv.slice(2);
if (argv[0] === '--as-node-gyp') {
  buildAsNodeGyp(argv.slice(1));
} else {
  const outIndex = argv.indexOf('--out');
  await prebuild(resolve(outIndex >= 0 ? argv[outIndex + 1] : root)).catch((error) => {
    console.error(`vpt-native prebuild: ${error.message}`);
    process.exit(1);
  });
}
