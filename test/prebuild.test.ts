/**
 * Prebuilt addons tagged with their LibTorch (lib/prebuild.ts): names, reading a LibTorch's
 * version and variant, choosing a prebuild or explaining why none fits, and the loader
 * (lib/binding.ts) taking a real addon from a package's prebuilds/ folder or from an optional
 * @vpt-native/... package laid out in node_modules by `prebuild.mjs --package`. The prebuild itself
 * (`npm run prebuild`, minutes of compiling) is checked by hand; see README "Prebuilt binaries".
 */
import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../lib/binding.js';
import { runtimeInfo } from '../lib/index.js';
import {
  type FoundLibTorch,
  findLibTorch,
  libTorchBuild,
  parsePrebuildName,
  prebuildFileName,
  readLibTorch,
  selectPrebuild,
} from '../lib/prebuild.js';
import { tempDir } from './helpers/common.js';

const run = promisify(execFile);
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

const CPU_2_13 = 'vpt-native.napi.libtorch-2.13.0.cpu.node';
const CU130_2_13 = 'vpt-native.napi.libtorch-2.13.0.cu130.node';
const found = (version: string, variant: string): FoundLibTorch => ({
  root: '/opt/libtorch',
  source: 'LIBTORCH',
  version,
  variant,
});

/** A folder that looks like a LibTorch to readLibTorch. */
function fakeLibTorch(name: string, files: Record<string, string>): string {
  const root = join(tmp.dir, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('prebuild names', () => {
  it('carry the LibTorch version and variant, and parse back', () => {
    expect(prebuildFileName('vpt-native', { version: '2.13.0', variant: 'cpu' })).toBe(CPU_2_13);
    expect(parsePrebuildName(CU130_2_13)).toEqual({ file: CU130_2_13, version: '2.13.0', variant: 'cu130' });
    expect(parsePrebuildName('vpt-native.node')).toBeUndefined();
    expect(parsePrebuildName('vpt-native.napi.libtorch-2.13.cpu.node')).toBeUndefined();
  });

  it('read a LibTorch version string the way torch writes it', () => {
    expect(libTorchBuild('2.13.0+cpu', null, false)).toEqual({ version: '2.13.0', variant: 'cpu' });
    expect(libTorchBuild('2.9.1+cu130\n', null, true)).toEqual({ version: '2.9.1', variant: 'cu130' });
    expect(libTorchBuild('2.8.0', '12.8', true)).toEqual({ version: '2.8.0', variant: 'cu128' });
    expect(libTorchBuild('2.8.0', null, true)).toEqual({ version: '2.8.0', variant: 'cuda' });
    expect(libTorchBuild('2.5.0a0+git1234', null, false)).toEqual({ version: '2.5.0', variant: 'cpu' });
  });
});

describe('finding the LibTorch of this machine', () => {
  it('reads build-version (archives), version.py (Python torch) or TorchConfigVersion.cmake', () => {
    expect(readLibTorch(fakeLibTorch('archive', { 'build-version': '2.13.0+cu130\n' }))).toEqual({
      version: '2.13.0',
      variant: 'cu130',
    });
    const wheel = fakeLibTorch('wheel', {
      'version.py': "__version__ = '2.12.1'\ndebug = False\ncuda: Optional[str] = '12.8'\n",
      'lib/libtorch_cuda.so': '',
    });
    expect(readLibTorch(wheel)).toEqual({ version: '2.12.1', variant: 'cu128' });
    const cmake = fakeLibTorch('cmake', {
      'share/cmake/Torch/TorchConfigVersion.cmake': 'set(PACKAGE_VERSION "2.11.0")\n',
    });
    expect(readLibTorch(cmake)).toEqual({ version: '2.11.0', variant: 'cpu' });
    expect(readLibTorch(join(tmp.dir, 'nothing-here'))).toBeUndefined();
  });

  it('takes the first source that is set, in the build order', () => {
    const libtorch = fakeLibTorch('env-libtorch', { 'build-version': '2.13.0+cpu' });
    const torchDir = fakeLibTorch('env-torch-dir', {
      'build-version': '2.12.0+cpu',
      'share/cmake/Torch/TorchConfig.cmake': '',
    });
    expect(findLibTorch(tmp.dir, { LIBTORCH: libtorch, Torch_DIR: join(torchDir, 'share/cmake/Torch') })).toEqual({
      root: libtorch,
      source: 'LIBTORCH',
      version: '2.13.0',
      variant: 'cpu',
    });
    expect(findLibTorch(tmp.dir, { Torch_DIR: join(torchDir, 'share/cmake/Torch') })).toMatchObject({
      root: torchDir,
      source: 'Torch_DIR',
      version: '2.12.0',
    });
    expect(findLibTorch(tmp.dir, { LIBTORCH: join(tmp.dir, 'not-a-libtorch') })).toMatchObject({
      version: 'unknown',
      source: 'LIBTORCH',
    });
  });
});

describe('choosing a prebuild', () => {
  const files = [CPU_2_13, CU130_2_13, 'vpt-native.node'];

  it('takes the one matching version and variant', () => {
    expect(selectPrebuild(files, found('2.13.0', 'cpu')).prebuild?.file).toBe(CPU_2_13);
    expect(selectPrebuild(files, found('2.13.0', 'cu130')).prebuild?.file).toBe(CU130_2_13);
  });

  it('explains a version mismatch: what was found, what the prebuilds need, how to build', () => {
    const choice = selectPrebuild(files, found('2.12.0', 'cpu'), 'prebuilds/linux-x64');
    expect(choice.prebuild).toBeUndefined();
    expect(choice.explanation).toContain('found LibTorch 2.12.0 (cpu) at /opt/libtorch (from LIBTORCH)');
    expect(choice.explanation).toContain(
      'the prebuilt addons in prebuilds/linux-x64 need LibTorch 2.13.0 (cpu) or LibTorch 2.13.0 (cu130) (other LibTorch version)',
    );
    expect(choice.explanation).toContain(
      'Fix: npx vpt-native setup     (builds the addon against the LibTorch at /opt/libtorch',
    );
    expect(choice.explanation).toContain('"torch==2.13.0+cpu" --index-url https://download.pytorch.org/whl/cpu');
  });

  it('explains a variant mismatch', () => {
    const choice = selectPrebuild([CPU_2_13], found('2.13.0', 'cu128'));
    expect(choice.prebuild).toBeUndefined();
    expect(choice.explanation).toContain('need LibTorch 2.13.0 (cpu) (same version, other CPU/CUDA variant)');
  });

  it('explains when there is no tagged prebuild or no LibTorch', () => {
    expect(selectPrebuild(['vpt-native.node'], found('2.13.0', 'cpu')).explanation).toContain(
      'holds no prebuilt addon tagged with a LibTorch version',
    );
    const none = selectPrebuild([CPU_2_13], undefined);
    expect(none.prebuild).toBeUndefined();
    expect(none.explanation).toContain('found no LibTorch');
    expect(none.explanation).toContain(
      'Fix: npx vpt-native setup     (builds the addon against a LibTorch it finds or installs',
    );
  });
});

describe('the loader with a package that ships prebuilds', () => {
  /**
   * A package folder: the compiled loader, a link to node_modules, and `prebuild` under the given
   * name. Its RUNPATH (`<LibTorch>/lib`) is pointed at a folder that does not exist, as on a user's
   * machine where the build machine's LibTorch is absent: only the loader's preload can bind it.
   */
  function packageWithPrebuild(name: string, prebuildName: string): string {
    const root = join(tmp.dir, name);
    cpSync(join(packageRoot, 'dist', 'lib'), join(root, 'dist', 'lib'), { recursive: true });
    copyFileSync(join(packageRoot, 'package.json'), join(root, 'package.json'));
    symlinkSync(join(packageRoot, 'node_modules'), join(root, 'node_modules'), 'dir');
    const folder = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
    mkdirSync(folder, { recursive: true });
    const addon = readFileSync(runtimeInfo().addonPath);
    const runpath = Buffer.from(`${runtimeInfo().torchRoot}/lib`);
    let patched = 0;
    for (let at = addon.indexOf(runpath); at >= 0; at = addon.indexOf(runpath, at + 1)) {
      const next = addon[at + runpath.length];
      if (next !== 0 && next !== 0x3a) continue; // an entry of the ':'-separated, NUL-ended list
      addon.write('nil', at + runpath.length - 3, 'latin1');
      patched++;
    }
    expect(patched).toBeGreaterThan(0);
    writeFileSync(join(folder, prebuildName), addon);
    return root;
  }

  async function loadIn(
    root: string,
    libtorch: string,
  ): Promise<{ addonPath?: string; torchVersion?: string; code?: string; message?: string }> {
    const script = `import(${JSON.stringify(join(root, 'dist', 'lib', 'index.js'))}).then((m) => {
      try { console.log(JSON.stringify(m.runtimeInfo())); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
    })`;
    // A private user cache, so an addon `vpt-native setup` built on this machine does not stand in.
    const env = { ...process.env, LIBTORCH: libtorch, XDG_CACHE_HOME: join(tmp.dir, 'cache') };
    delete env.VPT_NATIVE_ADDON;
    const { stdout } = await run(process.execPath, ['-e', script], { env });
    return JSON.parse(stdout.trim().split('\n').pop()!);
  }

  it('loads the prebuild tagged with the LibTorch found, and refuses one for another LibTorch', async () => {
    const torchRoot = runtimeInfo().torchRoot;
    const build = readLibTorch(torchRoot)!;
    expect(build).toBeDefined();
    const matching = packageWithPrebuild('pkg-match', prebuildFileName('vpt-native', build));
    const info = await loadIn(matching, torchRoot);
    expect(info.addonPath).toBe(
      join(matching, 'prebuilds', `${process.platform}-${process.arch}`, prebuildFileName('vpt-native', build)),
    );
    expect(info.torchVersion).toBe(build.version);

    const other = packageWithPrebuild('pkg-other', prebuildFileName('vpt-native', { ...build, version: '2.4.0' }));
    const refused = await loadIn(other, torchRoot);
    expect(refused.code).toBe('VPT_ADDON');
    expect(refused.message).toContain(
      `the prebuilt addons here are for another LibTorch version, not LibTorch ${build.version} (${build.variant}) at ${torchRoot} (from LIBTORCH)`,
    );
    expect(refused.message).toContain(
      `addons present, none for this LibTorch: ${join(other, 'prebuilds', `${process.platform}-${process.arch}`, prebuildFileName('vpt-native', { ...build, version: '2.4.0' }))}`,
    );
    expect(refused.message).toContain('Fix: npx vpt-native setup');
  });

  it('loads the optional @vpt-native/... package `prebuild.mjs --package` lays out, from node_modules as npm installs it', async () => {
    const info = runtimeInfo();
    const build = readLibTorch(info.torchRoot)!;
    const modules = join(tmp.dir, 'project', 'node_modules');
    const root = join(modules, 'vpt-native');
    cpSync(join(packageRoot, 'dist', 'lib'), join(root, 'dist', 'lib'), { recursive: true });
    copyFileSync(join(packageRoot, 'package.json'), join(root, 'package.json'));
    symlinkSync(join(packageRoot, 'node_modules'), join(root, 'node_modules'), 'dir');
    await run(
      process.execPath,
      [
        join(packageRoot, 'scripts', 'prebuild.mjs'),
        '--package',
        '--out',
        modules,
        '--from-build',
        join(info.addonPath, '..', '..'),
      ],
      {
        env: { ...process.env, LIBTORCH: info.torchRoot },
      },
    );
    const name = `@vpt-native/${process.platform}-${process.arch}-torch${build.version.split('.').slice(0, 2).join('.')}-${build.variant}`;
    const manifest = JSON.parse(readFileSync(join(modules, name, 'package.json'), 'utf8'));
    expect(manifest).toMatchObject({
      name,
      os: [process.platform],
      cpu: [process.arch],
      files: ['vpt_native.node', 'README.md'],
      vptNative: { torchVersion: build.version, variant: build.variant },
    });
    const loaded = await loadIn(root, info.torchRoot);
    expect(loaded.message).toBeUndefined();
    expect(loaded.addonPath).toBe(join(modules, name, 'vpt_native.node'));
  });
});
