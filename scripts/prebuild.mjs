#!/usr/bin/env node
// `npm run prebuild`: a prebuilt addon tagged with the LibTorch it was built against,
//   prebuilds/<platform>-<arch>/vpt-native.napi.libtorch-<version>.<variant>.node
// made by prebuildify, with cmake-js doing the build. The LibTorch is the one the build finds
// ($LIBTORCH, $Torch_DIR, python torch, .deps/torch-cpu; lib/prebuild.ts), and it is passed to
// the build as LIBTORCH so the tag and the binary agree. lib/binding.ts loads a prebuild only
// when the LibTorch found at run time has the same version and variant.
//   node scripts/prebuild.mjs [--out <dir>]     prebuilds/ goes under <dir> (default: the package)
//   node scripts/prebuild.mjs --package [--out <dir>] [--from-build <build>]
//                                                instead lays out the optional per-variant package
//                                                <dir>/@vpt-native/<platform>-<arch>-torch<x.y>-<variant>/
//                                                (package.json with name, version, os, cpu, libc, files;
//                                                vpt_native.node; vpt-build.json), ready for `npm publish`;
//                                                --from-build takes a finished cmake-js --out folder
//                                                for that LibTorch instead of compiling
//   VPT_PREBUILD_JPEG=1                          link the system libjpeg-turbo (native JPEG decode;
//                                                the prebuild then needs libjpeg.so.62 to load)
// The build runs in a temporary copy of CMakeLists.txt, cmake/ and native/, so build/ is left
// alone. prebuildify drives node-gyp's command line; this script stands in for node-gyp
// (`prebuild.mjs --as-node-gyp rebuild --arch=x64 --release ...`) and runs cmake-js.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
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
  const result = spawnSync(
    process.execPath,
    [
      require.resolve('cmake-js/bin/cmake-js'),
      'rebuild',
      '--out',
      'build',
      '--parallel',
      jobs,
      ...(arch ? ['--arch', arch] : []),
      ...(args.includes('--debug') ? ['--debug'] : []),
      // libjpeg-turbo's static library is not position-independent, so linking it would make the
      // prebuild NEED libjpeg.so.62 on every machine; a portable prebuild decodes with sharp.
      ...(process.env.VPT_PREBUILD_JPEG === '1' ? [] : ['--CDCMAKE_DISABLE_FIND_PACKAGE_JPEG=ON']),
    ],
    { stdio: 'inherit' },
  );
  process.exit(result.status ?? 1);
}

/** The LibTorch found here, with a known version (else exit). */
async function libTorchHere() {
  const selector = join(root, 'dist', 'lib', 'prebuild.js');
  if (!existsSync(selector)) {
    console.error('vpt-native prebuild: dist/ is missing; run `npm run build:ts` first (npm run prebuild does)');
    process.exit(1);
  }
  const { findLibTorch } = await import(pathToFileURL(selector).href);
  const libtorch = findLibTorch(root);
  if (!libtorch || libtorch.version === 'unknown' || libtorch.problem) {
    console.error(
      `vpt-native prebuild: ${libtorch ? `${libtorch.root} (from ${libtorch.source}) is not usable: ${libtorch.problem}` : 'no LibTorch found'}; set LIBTORCH=/path/to/libtorch`,
    );
    process.exit(1);
  }
  return libtorch;
}

/**
 * The optional package `@vpt-native/<platform>-<arch>-torch<x.y>-<variant>` under `out`, from a
 * build folder (`fromBuild`) or a fresh prebuild. The loader (lib/setup/locate-addon.ts) uses it
 * when the LibTorch found at run time has that variant and major.minor version.
 */
async function makePackage(out, fromBuild) {
  const libtorch = await libTorchHere();
  const { prebuiltPackageName, ADDON_FILE } = await import(
    pathToFileURL(join(root, 'dist', 'lib', 'setup', 'addon-cache.js')).href
  );
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const name = prebuiltPackageName(libtorch);
  const dest = join(out, ...name.split('/'));
  let addon;
  let buildInfo;
  let staging;
  if (fromBuild) {
    addon = join(resolve(fromBuild), 'Release', ADDON_FILE);
    buildInfo = join(resolve(fromBuild), 'vpt-build.json');
  } else {
    staging = mkdtempSync(join(tmpdir(), 'vpt-native-package-'));
    await prebuild(staging, libtorch);
    addon = join(
      staging,
      'prebuilds',
      `${process.platform}-${process.arch}`,
      (await import(pathToFileURL(join(root, 'dist', 'lib', 'prebuild.js')).href)).prebuildFileName(pkg.name, libtorch),
    );
  }
  try {
    if (buildInfo) {
      const built = JSON.parse(readFileSync(buildInfo, 'utf8'));
      if (
        !built.torchVersion.startsWith(libtorch.version) ||
        (built.cuda ? libtorch.variant === 'cpu' : libtorch.variant !== 'cpu')
      ) {
        throw new Error(
          `${fromBuild} was built against LibTorch ${built.torchVersion} (${built.cuda ? 'CUDA' : 'CPU'}), not ${libtorch.version} (${libtorch.variant}) at ${libtorch.root}`,
        );
      }
    }
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dest, { recursive: true });
    copyFileSync(addon, join(dest, ADDON_FILE));
    writeFileSync(
      join(dest, 'package.json'),
      `${JSON.stringify(
        {
          name,
          version: pkg.version,
          description: `vpt-native's prebuilt addon for LibTorch ${libtorch.version} (${libtorch.variant}) on ${process.platform}-${process.arch}; LibTorch itself is not included`,
          license: pkg.license,
          os: [process.platform],
          cpu: [process.arch],
          ...(process.platform === 'linux' ? { libc: ['glibc'] } : {}),
          files: [ADDON_FILE, 'README.md'],
          vptNative: { torchVersion: libtorch.version, variant: libtorch.variant, file: ADDON_FILE, napi: 8 },
        },
        null,
        2,
      )}\n`,
    );
    writeFileSync(
      join(dest, 'README.md'),
      `# ${name}\n\nThe native addon of [vpt-native](https://www.npmjs.com/package/vpt-native) ${pkg.version}, built against LibTorch ${libtorch.version} (${libtorch.variant}). Installed as an optional dependency of vpt-native; it needs that LibTorch at run time (vpt-native finds it: $LIBTORCH, a Python torch, ...).\n`,
    );
    console.log(dest);
  } finally {
    if (staging) rmSync(staging, { recursive: true, force: true });
  }
}

async function prebuild(out, found) {
  const libtorch = found ?? (await libTorchHere());
  const { prebuildFileName } = await import(pathToFileURL(join(root, 'dist', 'lib', 'prebuild.js')).href);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const file = prebuildFileName(pkg.name, libtorch);
  console.error(
    `vpt-native prebuild: ${file} against LibTorch ${libtorch.version} (${libtorch.variant}) at ${libtorch.root}`,
  );

  const stage = mkdtempSync(join(tmpdir(), 'vpt-native-prebuild-'));
  try {
    for (const entry of ['CMakeLists.txt', 'cmake', 'native', 'package.json']) {
      cpSync(join(root, entry), join(stage, entry), { recursive: true });
    }
    symlinkSync(join(root, 'node_modules'), join(stage, 'node_modules'), 'dir');
    process.env.LIBTORCH = libtorch.root;
    const prebuildify = require('prebuildify');
    await new Promise((done, fail) =>
      prebuildify(
        {
          cwd: stage,
          out,
          napi: true,
          targets: [process.versions.node],
          name: file.slice(0, -'.node'.length),
          nodeGyp: `"${process.execPath}" "${self}" --as-node-gyp`,
          shell: true,
          strip: true,
        },
        (error) => (error ? fail(error) : done()),
      ),
    );
    // The build must have used the LibTorch the name promises.
    const built = JSON.parse(readFileSync(join(stage, 'build', 'vpt-build.json'), 'utf8'));
    const dest = join(out, 'prebuilds', `${process.platform}-${process.arch}`, file);
    if (!built.torchVersion.startsWith(libtorch.version) || resolve(built.torchRoot) !== libtorch.root) {
      rmSync(dest, { force: true });
      throw new Error(
        `the build used LibTorch ${built.torchVersion} at ${built.torchRoot}, not ${libtorch.version} at ${libtorch.root}`,
      );
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
  const flagValue = (flag) => (argv.indexOf(flag) >= 0 ? argv[argv.indexOf(flag) + 1] : undefined);
  const out = resolve(flagValue('--out') ?? root);
  const task = argv.includes('--package') ? makePackage(out, flagValue('--from-build')) : prebuild(out);
  await task.catch((error) => {
    console.error(`vpt-native prebuild: ${error.message}`);
    process.exit(1);
  });
}
