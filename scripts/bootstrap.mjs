#!/usr/bin/env node
// Makes a fresh checkout runnable, so `npm test` and `npm run demo` each do their own set-up:
//   1. a LibTorch: $LIBTORCH / $Torch_DIR / an importable Python torch as the build finds them,
//      else the project-local CPU wheel in .deps/torch-cpu (installed with pip when missing;
//      VPT_TORCH_INDEX_URL adds a package index, e.g. https://download.pytorch.org/whl/cpu);
//   2. dependencies and the native addon (npm ci, which compiles native/ via scripts/install.mjs);
//   3. the compiled TypeScript (dist/).
// Each step is skipped when its result is already there.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TORCH_WHEEL = 'torch==2.13.0+cpu';
const LOCAL_TORCH = join(root, '.deps', 'torch-cpu', 'torch');

function log(message) {
  console.error(`vpt-native setup: ${message}`);
}

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    log(`\`${cmd} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

function pythonTorchRoot() {
  try {
    const out = execFileSync('python3', ['-c', 'import os, torch; print(os.path.dirname(torch.__file__))'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      encoding: 'utf8',
    });
    const dir = out.trim();
    return existsSync(join(dir, 'share', 'cmake', 'Torch', 'TorchConfig.cmake')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** Environment for the build: LIBTORCH set when we chose the LibTorch. */
function libtorchEnv() {
  if (process.env.LIBTORCH || process.env.Torch_DIR || pythonTorchRoot()) return process.env;
  if (!existsSync(join(LOCAL_TORCH, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'))) {
    log(`no LibTorch found; installing the CPU wheel ${TORCH_WHEEL} into .deps/torch-cpu (about 200 MB)`);
    const index = process.env.VPT_TORCH_INDEX_URL ? ['--extra-index-url', process.env.VPT_TORCH_INDEX_URL] : [];
    const r = spawnSync(
      'python3',
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--retries',
        '0',
        '--no-deps',
        '--target',
        join(root, '.deps', 'torch-cpu'),
        ...index,
        TORCH_WHEEL,
      ],
      { cwd: root, stdio: 'inherit' },
    );
    if (r.status !== 0) {
      log(
        [
          'could not install a LibTorch. Either:',
          `  VPT_TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu npm test      (pip fetches ${TORCH_WHEEL})`,
          '  LIBTORCH=/path/to/libtorch npm test                                   (a LibTorch >= 2.4 you have)',
        ].join('\n'),
      );
      process.exit(1);
    }
  }
  return { ...process.env, LIBTORCH: LOCAL_TORCH };
}

/** Newest modification time of the files under `dirs` whose names match `pattern`. */
function newest(dirs, pattern) {
  let t = 0;
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (e.isFile() && pattern.test(e.name)) t = Math.max(t, statSync(join(e.parentPath ?? e.path, e.name)).mtimeMs);
    }
  }
  return t;
}
const mtime = (path) => (existsSync(path) ? statSync(path).mtimeMs : 0);

const addonPath = join(root, 'build', 'Release', 'vpt_native.node');
const sourcesChanged = existsSync(addonPath) && newest([join(root, 'native')], /\.(cc|h)$/) > mtime(addonPath);
const addonBuilt =
  (existsSync(addonPath) && !sourcesChanged) || (!existsSync(addonPath) && existsSync(join(root, 'prebuilds')));
const depsInstalled = existsSync(join(root, 'node_modules', '.package-lock.json'));
if (!depsInstalled || !addonBuilt) {
  const env = libtorchEnv();
  if (!depsInstalled) {
    log('installing dependencies and compiling the native addon (npm ci)');
    run('npm', ['ci'], env);
  } else {
    log('compiling the native addon');
    run(process.execPath, [join(root, 'scripts', 'install.mjs')], env);
  }
}
const cli = join(root, 'dist', 'bin', 'vpt-native.js');
if (newest([join(root, 'lib'), join(root, 'bin')], /\.ts$/) > mtime(cli)) {
  log('compiling TypeScript');
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
}
