/**
 * `vpt-native setup`'s pure logic: the CUDA wheel for a driver (from nvidia-smi output), build
 * progress lines, the cache key, the optional @vpt-native/... packages laid out in a local
 * node_modules as npm would install them, and which load problem the loader reports.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseLibTorch, libTorchCandidates } from '../../lib/prebuild.js';
import { addonCacheKey, installedPackages, prebuiltPackageName, selectPackage } from '../../lib/setup/addon-cache.js';
import { formatElapsed, parseBuildProgress } from '../../lib/setup/build-addon.js';
import { pipCommand } from '../../lib/setup/install-libtorch.js';
import { locateAddon } from '../../lib/setup/locate-addon.js';
import { cpuWheel, cudaWheel, driverCudaVersion } from '../../lib/setup/torch-wheel.js';
import { tempDir } from '../helpers/common.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

const SMI = (cuda: string) =>
  [
    'Thu Dec  4 10:00:00 2026',
    '+-----------------------------------------------------------------------------------------+',
    `| NVIDIA-SMI 570.86.15              Driver Version: 570.86.15      CUDA Version: ${cuda}     |`,
    '|-----------------------------------------+------------------------+----------------------+',
  ].join('\n');

function write(root: string, files: Record<string, string>): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

/** An environment where only what the test lays out is found. */
function isolated(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    HOME: join(tmp.dir, 'home'),
    XDG_CACHE_HOME: join(tmp.dir, 'cache'),
    VPT_PYTHON: join(tmp.dir, 'no-python'),
    VPT_SYSTEM_PREFIXES: '',
    ...extra,
  };
}

describe('the CUDA wheel for the driver', () => {
  it('takes the newest torch CUDA wheel the driver runs', () => {
    expect(driverCudaVersion(SMI('12.8'))).toBe('12.8');
    expect(cudaWheel(SMI('13.1'))).toEqual({
      spec: 'torch==2.13.0+cu130',
      variant: 'cu130',
      indexUrl: 'https://download.pytorch.org/whl/cu130',
      withDeps: true,
    });
    expect(cudaWheel(SMI('13.0')).spec).toBe('torch==2.13.0+cu130');
    expect(cudaWheel(SMI('12.9')).spec).toBe('torch==2.13.0+cu128');
    expect(cudaWheel(SMI('12.8')).spec).toBe('torch==2.13.0+cu128');
    expect(cudaWheel(SMI('12.7')).spec).toBe('torch==2.13.0+cu126');
    expect(cudaWheel(SMI('12.6')).spec).toBe('torch==2.13.0+cu126');
  });

  it('refuses a driver older than every wheel, and output without a CUDA version', () => {
    expect(() => cudaWheel(SMI('12.4'))).toThrow(
      /supports CUDA 12\.4, older than every torch 2\.13\.0 CUDA wheel .*update the driver/,
    );
    expect(() => cudaWheel('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.')).toThrow(
      /did not report a CUDA version/,
    );
    expect(cudaWheel('', 'cu126').spec).toBe('torch==2.13.0+cu126');
    expect(() => cudaWheel('', '12.6')).toThrow(/expected a wheel tag/);
  });

  it('installs the CPU wheel without dependencies and a CUDA wheel with its nvidia-* libraries', () => {
    expect(cpuWheel().spec).toBe('torch==2.13.0+cpu');
    const cpu = pipCommand(cpuWheel(), '/c/libtorch/cpu', { VPT_PYTHON: 'py' });
    expect(cpu).toEqual([
      'py',
      '-m',
      'pip',
      'install',
      '--disable-pip-version-check',
      '--retries',
      '1',
      '--no-deps',
      '--target',
      '/c/libtorch/cpu',
      '--extra-index-url',
      'https://download.pytorch.org/whl/cpu',
      'torch==2.13.0+cpu',
    ]);
    expect(pipCommand(cudaWheel(SMI('12.8')), '/t', {})).not.toContain('--no-deps');
  });
});

describe('build progress and the cache key', () => {
  it('reads ninja and make progress lines', () => {
    expect(parseBuildProgress('[12/87] Building CXX object CMakeFiles/vpt_engine.dir/native/model/vit.cc.o')).toEqual({
      done: 12,
      total: 87,
    });
    expect(parseBuildProgress('[ 37%] Building CXX object x.o')).toEqual({ done: 37, total: 100 });
    expect(parseBuildProgress('-- Configuring done')).toBeUndefined();
    expect(formatElapsed(702_000)).toBe('11m42s');
    expect(formatElapsed(38_200)).toBe('38s');
  });

  it('keys the cache by vpt-native version, platform, LibTorch version and variant', () => {
    expect(addonCacheKey('0.1.0', { version: '2.13.0', variant: 'cu130' }, 'linux', 'x64')).toBe(
      '0.1.0-linux-x64-torch2.13.0-cu130',
    );
    expect(prebuiltPackageName({ version: '2.13.0', variant: 'cpu' }, 'linux', 'x64')).toBe(
      '@vpt-native/linux-x64-torch2.13-cpu',
    );
  });
});

describe('optional prebuilt packages in node_modules', () => {
  /** A project with vpt-native and prebuilt packages installed side by side, as npm lays them out. */
  function project(name: string, variants: Array<[string, string]>): string {
    const modules = join(tmp.dir, name, 'node_modules');
    write(join(modules, 'vpt-native'), { 'package.json': JSON.stringify({ name: 'vpt-native', version: '0.1.0' }) });
    for (const [torchVersion, variant] of variants) {
      const pkg = prebuiltPackageName({ version: torchVersion, variant });
      write(join(modules, pkg), {
        'package.json': JSON.stringify({
          name: pkg,
          version: '0.1.0',
          os: [process.platform],
          cpu: [process.arch],
          vptNative: { torchVersion, variant },
        }),
        'vpt_native.node': '',
      });
    }
    return join(modules, 'vpt-native');
  }

  it('finds them by Node resolution and picks the one for the LibTorch found', () => {
    const root = project('proj-packages', [
      ['2.13.0', 'cpu'],
      ['2.13.0', 'cu130'],
    ]);
    const packages = installedPackages(root);
    expect(packages.map((p) => p.name).sort()).toEqual([
      `@vpt-native/${process.platform}-${process.arch}-torch2.13-cpu`,
      `@vpt-native/${process.platform}-${process.arch}-torch2.13-cu130`,
    ]);
    expect(selectPackage(packages, { version: '2.13.0', variant: 'cu130' })?.name).toMatch(/torch2\.13-cu130$/);
    expect(selectPackage(packages, { version: '2.13.1', variant: 'cpu' })?.name).toMatch(/torch2\.13-cpu$/);
    expect(selectPackage(packages, { version: '2.12.0', variant: 'cpu' })).toBeUndefined();
    expect(selectPackage(packages, { version: '2.13.0', variant: 'cu128' })).toBeUndefined();
  });

  it('the loader takes the matching package (preloading that LibTorch), or names the mismatch and setup', () => {
    const root = project('proj-loader', [['2.13.0', 'cu130']]);
    const cu130 = write(join(tmp.dir, 'torch-cu130'), { 'build-version': '2.13.0+cu130\n' });
    const found = locateAddon(root, isolated({ LIBTORCH: cu130 }));
    expect(found.locations).toEqual([
      expect.objectContaining({
        source: 'package',
        preload: cu130,
        path: join(root, '..', '@vpt-native', `${process.platform}-${process.arch}-torch2.13-cu130`, 'vpt_native.node'),
      }),
    ]);

    const cpu = write(join(tmp.dir, 'torch-cpu'), { 'build-version': '2.13.0+cpu\n' });
    const other = locateAddon(root, isolated({ LIBTORCH: cpu }));
    expect(other.locations).toEqual([]);
    expect(other.problem?.kind).toBe('prebuild-other-libtorch');
    expect(other.problem?.message).toContain(
      'the prebuilt addons here are for another CPU/CUDA variant, not LibTorch 2.13.0 (cpu)',
    );
    expect(other.problem?.fix).toBe('npx vpt-native setup');
  });
});

describe('which load problem is reported', () => {
  const pkg = (name: string, status?: string) =>
    write(join(tmp.dir, name, 'node_modules', 'vpt-native'), {
      'package.json': JSON.stringify({ name: 'vpt-native', version: '0.1.0' }),
      ...(status ? { 'install-status.json': JSON.stringify({ action: status }) } : {}),
    });

  it('no LibTorch, a too old one, blocked install scripts, not built yet', () => {
    const none = locateAddon(pkg('p-none', 'deferred'), isolated());
    expect(none.problem?.kind).toBe('no-libtorch');
    expect(none.problem?.message).toMatch(/Fix: npx vpt-native setup .*torch==2\.13\.0\+cpu/);

    const system = write(join(tmp.dir, 'usr'), {
      'share/cmake/Torch/TorchConfig.cmake': '',
      'share/cmake/Torch/TorchConfigVersion.cmake': 'set(PACKAGE_VERSION "1.13.1")\n',
    });
    const env = isolated({ VPT_SYSTEM_PREFIXES: system });
    expect(chooseLibTorch(libTorchCandidates(tmp.dir, env))).toMatchObject({
      source: 'system',
      version: '1.13.1',
      problem: expect.stringContaining('too old'),
    });
    const old = locateAddon(pkg('p-old', 'deferred'), env);
    expect(old.problem?.kind).toBe('libtorch-too-old');
    expect(old.problem?.message).toContain(
      `LibTorch 1.13.1 (cpu) at ${system} (from system) is too old (vpt-native needs >= 2.4.0)`,
    );

    const good = write(join(tmp.dir, 'torch-good'), { 'build-version': '2.13.0+cpu\n' });
    const cached = write(join(tmp.dir, 'cache', 'vpt-native', 'libtorch', 'cpu', 'torch'), {
      'version.py': "__version__ = '2.13.0+cpu'\n",
    });
    // A usable LibTorch wins over the older system one: here the one setup installed in the cache.
    expect(chooseLibTorch(libTorchCandidates(tmp.dir, env))).toMatchObject({ source: 'user cache', root: cached });

    const blocked = locateAddon(pkg('p-blocked'), isolated({ LIBTORCH: good }));
    expect(blocked.problem?.kind).toBe('scripts-blocked');
    expect(blocked.problem?.message).toContain('npm install-scripts approve vpt-native');
    expect(blocked.problem?.message).toContain('Fix: npx vpt-native setup');

    const deferred = locateAddon(pkg('p-deferred', 'deferred'), isolated({ LIBTORCH: good }));
    expect(deferred.problem?.kind).toBe('not-built');
    expect(deferred.cacheDir).toBe(
      join(tmp.dir, 'cache', 'vpt-native', `0.1.0-${process.platform}-${process.arch}-torch2.13.0-cpu`),
    );
  });

  it('an addon setup built for another LibTorch', () => {
    const root = pkg('p-other-build', 'deferred');
    const env = isolated({
      XDG_CACHE_HOME: join(tmp.dir, 'cache2'),
      LIBTORCH: write(join(tmp.dir, 'torch-212'), { 'build-version': '2.12.0+cpu\n' }),
    });
    write(join(tmp.dir, 'cache2', 'vpt-native', `0.1.0-${process.platform}-${process.arch}-torch2.13.0-cpu`), {
      'vpt_native.node': '',
    });
    const search = locateAddon(root, env);
    expect(search.problem?.kind).toBe('build-other-libtorch');
    expect(search.problem?.message).toContain(
      'the addons built here are for another LibTorch or vpt-native version, not LibTorch 2.12.0 (cpu)',
    );
  });
});
