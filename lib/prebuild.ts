/**
 * Prebuilt addons are tagged with the LibTorch they were built against; one is used only when
 * it matches the LibTorch found at run time.
 *
 *   prebuilds/<platform>-<arch>/vpt-native.napi.libtorch-<version>.<variant>.node
 *   variant: `cpu`, or `cu<major><minor>` for a CUDA LibTorch (`cu130` = CUDA 13.0)
 *
 * node-gyp-build ignores the extra tags (it knows runtime, napi, abi, uv, armv and libc), so
 * the LibTorch tags are read here. The LibTorch is found in the order the build uses
 * (cmake/LocateLibTorch.cmake), plus the project-local CPU wheel scripts/bootstrap.mjs installs
 * and the wheels `vpt-native setup` installs into the user cache (lib/setup/).
 * Used by lib/binding.ts at run time and by scripts/install.mjs / scripts/prebuild.mjs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
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
  /** How it was found: `LIBTORCH`, `Torch_DIR`, `python torch`, `.deps/torch-cpu`, `user cache`, `system`. */
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
export function prebuildFolder(
  packageRoot: string,
  platform: string = process.platform,
  arch: string = process.arch,
): string {
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

/** The oldest LibTorch vpt-native builds against (cmake/LocateLibTorch.cmake). */
export const MIN_TORCH_VERSION = '2.4.0';

/** The Python whose torch counts as "an importable Python torch": `$VPT_PYTHON`, else `python3`. */
export function pythonCommand(env: NodeJS.ProcessEnv = process.env): string {
  return env.VPT_PYTHON || 'python3';
}

/** The package folder of an importable Python torch (found without importing it). */
function pythonTorchRoot(env: NodeJS.ProcessEnv): string | undefined {
  try {
    const out = execFileSync(
      pythonCommand(env),
      [
        '-c',
        "import importlib.util as u; s = u.find_spec('torch'); print(s.submodule_search_locations[0] if s else '')",
      ],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** vpt-native's per-user cache: `$XDG_CACHE_HOME/vpt-native`, default `~/.cache/vpt-native`. */
export function userCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(resolve(base), 'vpt-native');
}

/** Where `vpt-native setup` installs a LibTorch wheel of `variant` (pip --target); the LibTorch is its `torch/`. */
export function cachedTorchDir(variant: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(userCacheRoot(env), 'libtorch', variant);
}

/** LibTorch roots `vpt-native setup` installed, CUDA variants before CPU. */
function cachedTorchRoots(env: NodeJS.ProcessEnv): string[] {
  const dir = join(userCacheRoot(env), 'libtorch');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort((a, b) => (a === 'cpu' ? 1 : 0) - (b === 'cpu' ? 1 : 0) || b.localeCompare(a))
    .map((variant) => join(dir, variant, 'torch'))
    .filter((root) => existsSync(root));
}

/**
 * System installs (what CMake's find_package(Torch) would see): TorchConfig.cmake under the
 * prefixes in `$VPT_SYSTEM_PREFIXES` (colon-separated; default /usr/local:/usr:/opt/libtorch).
 */
function systemTorch(env: NodeJS.ProcessEnv): Array<{ root: string; build?: LibTorchBuild }> {
  const prefixes = (env.VPT_SYSTEM_PREFIXES ?? '/usr/local:/usr:/opt/libtorch').split(':').filter(Boolean);
  const out: Array<{ root: string; build?: LibTorchBuild }> = [];
  for (const prefix of prefixes) {
    for (const sub of [
      'share/cmake/Torch',
      'lib/cmake/Torch',
      `lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/cmake/Torch`,
    ]) {
      const dir = join(prefix, sub);
      if (!existsSync(join(dir, 'TorchConfig.cmake'))) continue;
      const cmake = existsSync(join(dir, 'TorchConfigVersion.cmake'))
        ? readFileSync(join(dir, 'TorchConfigVersion.cmake'), 'utf8')
        : '';
      const version = /set\(PACKAGE_VERSION\s+"([^"]+)"/.exec(cmake)?.[1];
      const cudaLib =
        existsSync(join(prefix, 'lib', 'libtorch_cuda.so')) ||
        existsSync(join(prefix, sub, '..', '..', 'libtorch_cuda.so'));
      out.push({
        root: resolve(prefix),
        build: readLibTorch(prefix) ?? (version ? libTorchBuild(version, null, cudaLib) : undefined),
      });
      break;
    }
  }
  return out;
}

/** `a` >= `b` for dotted release numbers. */
export function versionAtLeast(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (Number.isNaN(x) || Number.isNaN(y)) return false;
    if (x !== y) return x > y;
  }
  return true;
}

/** A LibTorch seen on this machine, with why it cannot be used (absent when it can). */
export interface LibTorchCandidate extends FoundLibTorch {
  /** `too old` (< MIN_TORCH_VERSION) or `unknown version`; undefined when usable. */
  problem?: string;
}

/**
 * Every LibTorch this machine offers, in the build's order: $LIBTORCH, $Torch_DIR, an importable
 * Python torch ($VPT_PYTHON or python3), the project-local `.deps/torch-cpu/torch`, the ones
 * `vpt-native setup` installed into the user cache, then system installs.
 */
export function libTorchCandidates(packageRoot: string, env: NodeJS.ProcessEnv = process.env): LibTorchCandidate[] {
  const sources: Array<[string, () => string[]]> = [
    ['LIBTORCH', () => (env.LIBTORCH ? [env.LIBTORCH] : [])],
    ['Torch_DIR', () => (env.Torch_DIR ? [resolve(env.Torch_DIR, '..', '..', '..')] : [])],
    [
      `python torch (${pythonCommand(env)})`,
      () => {
        const r = pythonTorchRoot(env);
        return r ? [r] : [];
      },
    ],
    [
      '.deps/torch-cpu',
      () => {
        const local = join(packageRoot, '.deps', 'torch-cpu', 'torch');
        return existsSync(local) ? [local] : [];
      },
    ],
    ['user cache', () => cachedTorchRoots(env)],
  ];
  const out: LibTorchCandidate[] = [];
  const add = (root: string, source: string, build: LibTorchBuild | undefined) => {
    if (out.some((c) => c.root === resolve(root))) return; // one entry per folder, under its first source
    const b = build ?? { version: 'unknown', variant: 'unknown' };
    const problem =
      b.version === 'unknown'
        ? 'unknown version (no build-version, version.py or TorchConfigVersion.cmake)'
        : versionAtLeast(b.version, MIN_TORCH_VERSION)
          ? undefined
          : `too old (vpt-native needs >= ${MIN_TORCH_VERSION})`;
    out.push({ root: resolve(root), source, ...b, ...(problem ? { problem } : {}) });
  };
  for (const [source, locate] of sources) {
    for (const root of locate())
      add(root, source.startsWith('python torch') ? 'python torch' : source, readLibTorch(root));
  }
  for (const { root, build } of systemTorch(env)) add(root, 'system', build);
  return out;
}

/**
 * The LibTorch this machine offers: $LIBTORCH or $Torch_DIR when set (an explicit choice wins
 * even when unusable, as in the build), else the first usable candidate, else the first one
 * found (too old or of unknown version, so the caller can say which).
 */
export function chooseLibTorch(candidates: readonly LibTorchCandidate[]): LibTorchCandidate | undefined {
  const explicit = candidates.find((c) => c.source === 'LIBTORCH' || c.source === 'Torch_DIR');
  return explicit ?? candidates.find((c) => !c.problem) ?? candidates[0];
}

/** `chooseLibTorch(libTorchCandidates(packageRoot, env))`. */
export function findLibTorch(packageRoot: string, env: NodeJS.ProcessEnv = process.env): LibTorchCandidate | undefined {
  return chooseLibTorch(libTorchCandidates(packageRoot, env));
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
export function selectPrebuild(
  files: readonly string[],
  libtorch: FoundLibTorch | undefined,
  folder = 'prebuilds/',
): PrebuildChoice {
  const prebuilds = files.map(parsePrebuildName).filter((p): p is Prebuild => p !== undefined);
  const match = libtorch && prebuilds.find((p) => p.version === libtorch.version && p.variant === libtorch.variant);
  if (match) return { prebuild: match, libtorch: libtorch! };
  const found = libtorch
    ? `found ${describe(libtorch)} at ${libtorch.root} (from ${libtorch.source})`
    : 'found no LibTorch (tried $LIBTORCH, $Torch_DIR, python3 torch, .deps/torch-cpu/torch, the user cache, system prefixes)';
  const needs =
    prebuilds.length > 0
      ? `the prebuilt addons in ${folder} need ${prebuilds.map(describe).join(' or ')}`
      : `${folder} holds no prebuilt addon tagged with a LibTorch version`;
  const why =
    !libtorch || prebuilds.length === 0
      ? ''
      : prebuilds.some((p) => p.version === libtorch.version)
        ? ' (same version, other CPU/CUDA variant)'
        : prebuilds.some((p) => p.variant === libtorch.variant)
          ? ' (other LibTorch version)'
          : '';
  const wanted = prebuilds.find((p) => p.variant !== 'cuda');
  return {
    libtorch,
    explanation: [
      `vpt-native: not using a prebuilt addon: ${found}; ${needs}${why}.`,
      `Fix: npx vpt-native setup     (builds the addon against ${libtorch ? `the LibTorch at ${libtorch.root}` : 'a LibTorch it finds or installs'}, with progress; a few minutes)`,
      ...(wanted
        ? [
            `  or install the LibTorch the prebuild needs and point LIBTORCH at it, e.g.`,
            `  python3 -m pip install --no-deps --target .deps/torch-${wanted.variant} "torch==${wanted.version}+${wanted.variant}" --index-url https://download.pytorch.org/whl/${wanted.variant}`,
            `  LIBTORCH=$PWD/.deps/torch-${wanted.variant}/torch node your-app.js`,
          ]
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
export function choosePrebuild(
  packageRoot: string,
  env: NodeJS.ProcessEnv = process.env,
): (PrebuildChoice & { folder: string }) | undefined {
  const files = listPrebuilds(packageRoot);
  if (files.length === 0) return undefined;
  const folder = prebuildFolder(packageRoot);
  return { ...selectPrebuild(files, findLibTorch(packageRoot, env), folder), folder };
}
