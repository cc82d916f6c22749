/**
 * Prebuilt addons are tagged with the LibTorch they were built against; one is used only when
 * it matches the LibTorch found at run time.
 *
 *   prebuilds/<platform>-<arch>/vpt-native.napi.libtorch-<version>.<variant>.node
 *   variant: `cpu`, or `cu<major><minor>` for a CUDA LibTorch (`cu130` = CUDA 13.0)
 *
 * node-gyp-build ignores the extra tags (it knows runtime, napi, abi, uv, armv and libc), so
 * the LibTorch tags are read here. The LibTorch is found in the order the build uses
 * (cmake/LocateLibTorch.cmake), plus the project-local CPU wheel scripts/bootstrap.mjs installs.
 * Used by lib/binding.ts at run time and by scripts/install.mjs / scripts/prebuild.mjs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The LibTorch a prebuild needs or a machine has. */
export interface LibTorchBuild {
  /** Release without local suffix, e.g. `2.13.0`. */
  version: string;
  /** `cpu`, `cu130`, or `cuda` when a CUDA LibTorch does not say which CUDA. */
  variant: string;
}

/** A LibTorch found on this machine, and where. */
export interface FoundLibTorch extends LibTorchBuild {
  root: string;
  /** How it was found: `LIBTORCH`, `Torch_DIR`, `python torch`, `.deps/torch-cpu`. */
  source: string;
}

/** A prebuilt addon file and the LibTorch it needs. */
export interface Prebuild extends LibTorchBuild {
  file: string;
}

/** The outcome of choosing a prebuild: the file to load, or why none fits. */
export type PrebuildChoice =
  | { prebuild: Prebuild; libtorch: FoundLibTorch; explanation?: undefined }
  | { prebuild?: undefined; libtorch: FoundLibTorch | undefined; explanation: string };

const PREBUILD_NAME = /\.libtorch-(\d+\.\d+\.\d+)\.(cpu|cuda|cu\d+)\.node$/;

/** The folder node-gyp-build looks in for this platform. */
export function prebuildFolder(packageRoot: string, platform: string = process.platform, arch: string = process.arch): string {
  return join(packageRoot, 'prebuilds', `${platform}-${arch}`);
}

/**
 * The file name of a prebuild for `build`.
 * @example
 * ```ts
 * prebuildFileName('vpt-native', { version: '2.13.0', variant: 'cpu' });
 * // 'vpt-native.napi.libtorch-2.13.0.cpu.node'
 * ```
 */
export function prebuildFileName(packageName: string, build: LibTorchBuild): string {
  return `${packageName}.napi.libtorch-${build.version}.${build.variant}.node`;
}

/** The LibTorch a prebuild file name asks for, or undefined for an untagged file. */
export function parsePrebuildName(file: string): Prebuild | undefined {
  const m = PREBUILD_NAME.exec(file);
  return m ? { file, version: m[1]!, variant: m[2]! } : undefined;
}

/**
 * The LibTorch build a version string and CUDA version describe: `2.13.0+cpu` -> cpu,
 * `2.9.1+cu130` -> cu130, `2.9.1` with CUDA `12.8` -> cu128, neither -> cpu (or `cuda` when
 * `hasCudaLibrary` says the LibTorch has CUDA kernels but not which CUDA).
 * @example
 * ```ts
 * libTorchBuild('2.13.0+cpu', null, false); // { version: '2.13.0', variant: 'cpu' }
 * ```
 */
export function libTorchBuild(versionString: string, cuda: string | null, hasCudaLibrary: boolean): LibTorchBuild {
  const [release = '', local = ''] = versionString.trim().split('+');
  const version = /^\d+\.\d+\.\d+/.exec(release)?.[0] ?? release;
  if (local === 'cpu' || /^cu\d+$/.test(local)) return { version, variant: local };
  if (cuda) return { version, variant: `cu${cuda.split('.').slice(0, 2).join('')}` };
  return { version, variant: hasCudaLibrary ? 'cuda' : 'cpu' };
}

/**
 * Reads which LibTorch `root` holds: `build-version` (LibTorch archives), `version.py` (a
 * Python torch package), else TorchConfigVersion.cmake. Undefined when `root` is no LibTorch.
 */
export function readLibTorch(root: string): LibTorchBuild | undefined {
  const cudaLib = existsSync(join(root, 'lib', 'libtorch_cuda.so')) || existsSync(join(root, 'lib', 'torch_cuda.dll'));
  const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);
  const archive = read(join(root, 'build-version'));
  if (archive) return libTorchBuild(archive, null, cudaLib);
  const python = read(join(root, 'version.py'));
  const pyVersion = python && /__version__\s*=\s*['"]([^'"]+)['"]/.exec(python)?.[1];
  if (pyVersion) {
    const cuda = /^cuda\b[^=\n]*=\s*['"]([^'"]+)['"]/m.exec(python!)?.[1] ?? null;
    return libTorchBuild(pyVersion, cuda, cudaLib);
  }
  const cmake = read(join(root, 'share', 'cmake', 'Torch', 'TorchConfigVersion.cmake'));
  const cmakeVersion = cmake && /set\(PACKAGE_VERSION\s+"([^"]+)"/.exec(cmake)?.[1];
  return cmakeVersion ? libTorchBuild(cmakeVersion, null, cudaLib) : undefined;
}

/** The package folder of an importable Python torch (found without importing it). */
function pythonTorchRoot(): string | undefined {
  try {
    const out = execFileSync('python3', ['-c', "import importlib.util as u; s = u.find_spec('torch'); print(s.submodule_search_locations[0] if s else '')"], {
      stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8', timeout: 10_000,
    });
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The LibTorch this machine offers, in the build's order: $LIBTORCH, $Torch_DIR, an importable
 * Python torch, the project-local `.deps/torch-cpu/torch`. The first source that is set wins,
 * as in the build; its version is `unknown` when the folder does not say.
 */
export function findLibTorch(packageRoot: string, env: NodeJS.ProcessEnv = process.env): FoundLibTorch | undefined {
  const sources: Array<[string, () => string | undefined]> = [
    ['LIBTORCH', () => env.LIBTORCH],
    ['Torch_DIR', () => (env.Torch_DIR ? resolve(env.Torch_DIR, '..', '..', '..') : undefined)],
    ['python torch', pythonTorchRoot],
    ['.deps/torch-cpu', () => {
      const local = join(packageRoot, '.deps', 'torch-cpu', 'torch');
      return existsSync(local) ? local : undefined;
    }],
  ];
  for (const [source, locate] of sources) {
    const root = locate();
    if (!root) continue;
    const build = readLibTorch(root) ?? { version: 'unknown', variant: 'unknown' };
    return { root: resolve(root), source, ...build };
  }
  return undefined;
}

const describe = (b: LibTorchBuild) => `LibTorch ${b.version} (${b.variant})`;

/**
 * Picks the prebuild among `files` (names in the platform's prebuild folder) that matches
 * `libtorch` in version and variant; otherwise explains what was found, what the prebuilds
 * need and how to build from source.
 * @example
 * ```ts
 * const found = { root: '/opt/libtorch', source: 'LIBTORCH', version: '2.13.0', variant: 'cpu' };
 * selectPrebuild(['vpt-native.napi.libtorch-2.13.0.cpu.node'], found).prebuild?.file;
 * ```
 */
export function selectPrebuild(files: readonly string[], libtorch: FoundLibTorch | undefined, folder = 'prebuilds/'): PrebuildChoice {
  const prebuilds = files.map(parsePrebuildName).filter((p): p is Prebuild => p !== undefined);
  const match = libtorch && prebuilds.find((p) => p.version === libtorch.version && p.variant === libtorch.variant);
  if (match) return { prebuild: match, libtorch: libtorch! };
  const found = libtorch
    ? `found ${describe(libtorch)} at ${libtorch.root} (from ${libtorch.source})`
    : 'found no LibTorch (tried $LIBTORCH, $Torch_DIR, python3 torch, .deps/torch-cpu/torch)';
  const needs = prebuilds.length > 0
    ? `the prebuilt addons in ${folder} need ${prebuilds.map(describe).join(' or ')}`
    : `${folder} holds no prebuilt addon tagged with a LibTorch version`;
  const why = !libtorch || prebuilds.length === 0
    ? ''
    : prebuilds.some((p) => p.version === libtorch.version)
      ? ' (same version, other CPU/CUDA variant)'
      : prebuilds.some((p) => p.variant === libtorch.variant) ? ' (other LibTorch version)' : '';
  const wanted = prebuilds.find((p) => p.variant !== 'cuda');
  return {
    libtorch,
    explanation: [
      `vpt-native: not using a prebuilt addon: ${found}; ${needs}${why}.`,
      'Build from source against your LibTorch instead (a few minutes):',
      `  ${libtorch ? `LIBTORCH=${libtorch.root} ` : 'LIBTORCH=/path/to/libtorch '}npm rebuild vpt-native     (runs scripts/install.mjs, which compiles native/)`,
      ...(wanted
        ? [`or install the LibTorch the prebuild needs and point LIBTORCH at it, e.g.`,
          `  python3 -m pip install --target .deps/torch-${wanted.variant} "torch==${wanted.version}+${wanted.variant}" --index-url https://download.pytorch.org/whl/${wanted.variant}`,
          `  LIBTORCH=$PWD/.deps/torch-${wanted.variant}/torch node your-app.js`]
        : []),
    ].join('\n'),
  };
}

/** The prebuild files for this platform (empty when there is no prebuild folder). */
export function listPrebuilds(packageRoot: string): string[] {
  const folder = prebuildFolder(packageRoot);
  return existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith('.node')) : [];
}

/**
 * Chooses a prebuild of the package at `packageRoot` for the LibTorch found now; undefined
 * when the package has no prebuilds for this platform.
 */
export function choosePrebuild(packageRoot: string, env: NodeJS.ProcessEnv = process.env): (PrebuildChoice & { folder: string }) | undefined {
  const files = listPrebuilds(packageRoot);
  if (files.length === 0) return undefined;
  const folder = prebuildFolder(packageRoot);
  return { ...selectPrebuild(files, findLibTorch(packageRoot, env), folder), folder };
}
