/**
 * The package as a newcomer gets it: `npm pack`, installed into a scratch project with npm's
 * default install-script policy. Install never compiles; first use without a LibTorch names
 * `setup`; blocked install scripts are named; `setup --yes` builds into the per-user cache with
 * progress output (reusing this checkout's build through VPT_SETUP_BUILD_FROM instead of a
 * 12-minute compile) and then train() works; re-running the approved install script compiles
 * nothing. Needs the npm registry (or a warm npm cache) for the dependencies.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/binding.js';
import { syntheticTask, tempDir } from '../helpers/common.js';

const run = promisify(execFile);
/** A finished build of this checkout to stand in for compiling: $VPT_SETUP_BUILD_FROM or build/. */
const BUILD = process.env.VPT_SETUP_BUILD_FROM || join(packageRoot, 'build');
const HAVE_BUILD = existsSync(join(BUILD, 'Release', 'vpt_native.node')) && existsSync(join(BUILD, 'vpt-build.json'));
const HAVE_DIST = existsSync(join(packageRoot, 'dist', 'lib', 'setup', 'ensure-addon.js'));

let tmp: Awaited<ReturnType<typeof tempDir>>;
let project: string;
let installOutput: string;
let installed: string;
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=warn'];

/** The environment of a machine without any LibTorch. */
function bare(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    XDG_CACHE_HOME: join(tmp.dir, 'cache'),
    VPT_PYTHON: join(tmp.dir, 'python-without-torch'),
    VPT_SYSTEM_PREFIXES: '',
    ...extra,
  };
  for (const key of [
    'LIBTORCH',
    'Torch_DIR',
    'VPT_NATIVE_ADDON',
    'VPT_SETUP_BUILD_FROM',
    'VPT_BUILD_ON_INSTALL',
    'VPT_SKIP_BUILD',
    'INIT_CWD',
  ]) {
    if (!(key in extra)) delete env[key];
  }
  // Under `npm test` the outer npm's settings (local prefix, ignore-scripts, ...) must not reach
  // the scratch project's npm; its cache and registry may.
  for (const key of Object.keys(env)) {
    if (/^npm_/i.test(key) && !/^npm_config_(cache|registry|userconfig)$/i.test(key)) delete env[key];
  }
  return env;
}

async function node(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd: project, env, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const cli = (args: string[], env: NodeJS.ProcessEnv) =>
  node([join(installed, 'dist', 'bin', 'launch.cjs'), ...args], env);
const api = (body: string, env: NodeJS.ProcessEnv) =>
  node(
    [
      '--input-type=module',
      '-e',
      `import * as vpt from 'vpt-native';
try { ${body} } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`,
    ],
    env,
  );

beforeAll(async () => {
  tmp = await tempDir();
  if (!HAVE_DIST) return;
  writeFileSync(join(tmp.dir, 'python-without-torch'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  // dist/ is current here (npm test runs scripts/bootstrap.mjs first), so the pack skips `prepare`.
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp.dir, '--silent'], { cwd: packageRoot });
  const tarball = join(tmp.dir, readdirSync(tmp.dir).find((f) => f.endsWith('.tgz'))!);
  project = join(tmp.dir, 'project');
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, type: 'module' }),
  );
  const out = await run('npm', ['install', tarball, ...NPM_FLAGS], { cwd: project, env: bare(), maxBuffer: 16 << 20 });
  installOutput = out.stdout + out.stderr;
  installed = join(project, 'node_modules', 'vpt-native');
}, 180_000);
afterAll(async () => {
  await tmp.cleanup();
});

describe.skipIf(!HAVE_DIST)('a newcomer installing the packed package', () => {
  it('installs without compiling anything', () => {
    expect(existsSync(join(installed, 'package.json'))).toBe(true);
    expect(existsSync(join(installed, 'build'))).toBe(false);
    expect(installOutput).not.toMatch(/cmake|Building CXX/i);
    // npm ran the install script (then it deferred the build) or skipped it (then nothing marks it).
    const status = existsSync(join(installed, 'install-status.json'))
      ? JSON.parse(readFileSync(join(installed, 'install-status.json'), 'utf8'))
      : undefined;
    if (status)
      expect(status).toMatchObject({ action: 'deferred', message: expect.stringContaining('npx vpt-native setup') });
  });

  it('first use without a LibTorch names `setup`: the API, the CLI (exit 3), and info (works, says so)', async () => {
    const loaded = await api('vpt.runtimeInfo();', bare());
    const error = JSON.parse(loaded.stdout.trim()) as { code: string; message: string };
    expect(error.code).toBe('VPT_ADDON');
    expect(error.message).toContain('no LibTorch was found');
    expect(error.message).toContain('Fix: npx vpt-native setup');

    const train = await cli(['train'], bare());
    expect(train.code).toBe(3);
    expect(train.stderr).toContain('npx vpt-native setup');

    const info = await cli(['info'], bare());
    expect(info.code).toBe(0);
    expect(info.stdout).toContain('addon          not loaded (info works without it');
    expect(info.stdout).toContain('LibTorch candidates');
    expect(info.stdout).toContain('Fix: npx vpt-native setup');
  });

  it('names blocked install scripts (npm >= 11) and the command that fixes it', async () => {
    const marker = join(installed, 'install-status.json');
    const saved = existsSync(marker) ? readFileSync(marker) : undefined;
    rmSync(marker, { force: true }); // what npm leaves when it skips the script
    try {
      const torch = (JSON.parse(readFileSync(join(BUILD, 'vpt-build.json'), 'utf8')) as { torchRoot: string })
        .torchRoot;
      const error = JSON.parse((await api('vpt.runtimeInfo();', bare({ LIBTORCH: torch }))).stdout.trim()) as {
        message: string;
      };
      expect(error.message).toContain("npm did not run vpt-native's install script");
      expect(error.message).toContain('npm install-scripts approve vpt-native');
      expect(error.message).toContain('Fix: npx vpt-native setup');
    } finally {
      if (saved) writeFileSync(marker, saved);
    }
  });

  it.skipIf(!HAVE_BUILD)(
    '`setup --yes` builds into the user cache with progress, then train() works',
    async () => {
      const { torchRoot } = JSON.parse(readFileSync(join(BUILD, 'vpt-build.json'), 'utf8')) as { torchRoot: string };
      const env = bare({ LIBTORCH: torchRoot });
      const check = await cli(['setup', '--check'], env);
      expect(check.code).toBe(0);
      expect(check.stdout).toContain(`setup would compile the addon against ${torchRoot}`);

      const setup = await cli(['setup', '--yes'], bare({ LIBTORCH: torchRoot, VPT_SETUP_BUILD_FROM: BUILD }));
      expect(setup.code, setup.stderr).toBe(0);
      expect(setup.stderr).toMatch(/vpt-native setup: compiling \[1\/1\] \d+s/);
      expect(setup.stderr).toMatch(/vpt-native setup: ready in \d+s: .*vpt_native\.node/);
      const cacheEntry = readdirSync(join(tmp.dir, 'cache', 'vpt-native')).find((d) => d.includes('-torch'))!;
      expect(cacheEntry).toMatch(/^\d+\.\d+\.\d+-.*-torch\d+\.\d+\.\d+-cpu$/);

      const { data, weights } = await syntheticTask(
        join(tmp.dir, 'task'),
        { classes: 2, imagesPerClass: 4, imageSize: 40, seed: 1 },
        { embedDim: 32, depth: 1, numHeads: 2, patchSize: 8, imgSize: 32, seed: 1 },
      );
      const config = {
        data,
        weights,
        out: join(tmp.dir, 'run'),
        epochs: 1,
        warmupEpochs: 0,
        batchSize: 4,
        cropSize: 32,
        device: 'cpu',
        seed: 1,
        workers: 1,
      };
      const trained = await api(
        `const r = await vpt.train(${JSON.stringify(config)}); console.log(JSON.stringify({ addon: vpt.runtimeInfo().addonPath }));`,
        env,
      );
      const result = JSON.parse(trained.stdout.trim().split('\n').pop()!) as { addon?: string; message?: string };
      expect(result.message).toBeUndefined();
      expect(result.addon).toBe(join(tmp.dir, 'cache', 'vpt-native', cacheEntry, 'vpt_native.node'));
      expect(existsSync(join(tmp.dir, 'run', 'summary.json'))).toBe(true);
    },
    120_000,
  );

  it('with the install script approved and VPT_BUILD_ON_INSTALL unset, nothing compiles during install', async () => {
    const started = Date.now();
    await run('npm', ['install-scripts', 'approve', 'vpt-native', ...NPM_FLAGS], { cwd: project, env: bare() });
    expect(JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')).allowScripts).toBeDefined();
    const out = await run('npm', ['rebuild', 'vpt-native', '--foreground-scripts', ...NPM_FLAGS], {
      cwd: project,
      env: bare(),
    });
    const lines = (out.stdout + out.stderr).split('\n').filter((l) => l.startsWith('vpt-native:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/run `npx vpt-native setup` to build it/);
    expect(out.stdout + out.stderr).not.toMatch(/cmake|Building CXX/i);
    expect(existsSync(join(installed, 'build'))).toBe(false);
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 90_000);
});
