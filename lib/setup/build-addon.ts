/**
 * Compiles the addon against one LibTorch into its per-user cache entry, reporting progress
 * from cmake/ninja's "[n/N]" (or make's "[ nn%]") lines. `VPT_SETUP_BUILD_FROM=<folder>`
 * (a cmake-js --out folder: Release/vpt_native.node + vpt-build.json) takes an existing build
 * instead of compiling, through the same checks and cache layout (tests, packaging).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';

import { ErrorCode, VptError } from '../errors.js';
import type { FoundLibTorch } from '../prebuild.js';
import { ADDON_FILE } from './addon-cache.js';

/** What `setup` / ensureAddon report while working. */
export interface SetupProgress {
  phase: 'libtorch' | 'install' | 'configure' | 'compile' | 'done';
  message: string;
  /** compile: build steps done and in all (from "[n/N]"; percent-based builds report n of 100). */
  done?: number;
  total?: number;
  /** Since the compile (or the whole setup, for `done`) started. */
  elapsedMs: number;
}

/** "[12/87] Building CXX object ..." (ninja) or "[ 37%] Building ..." (make) -> done / total. */
export function parseBuildProgress(line: string): { done: number; total: number } | undefined {
  const ninja = /^\[(\d+)\/(\d+)\]/.exec(line.trim());
  if (ninja) return { done: Number(ninja[1]), total: Number(ninja[2]) };
  const make = /^\[\s*(\d+)%\]/.exec(line.trim());
  if (make) return { done: Number(make[1]), total: 100 };
  return undefined;
}

/** "11m42s", "38s". */
export function formatElapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

interface BuildInfo {
  torchVersion: string;
  torchRoot: string;
  cuda: boolean;
}

function readBuildInfo(folder: string): BuildInfo {
  const file = join(folder, 'vpt-build.json');
  if (!existsSync(file))
    throw new VptError(ErrorCode.Addon, `${file} is missing: ${folder} is not a finished vpt-native build`);
  return JSON.parse(readFileSync(file, 'utf8')) as BuildInfo;
}

/** Runs cmake-js for the package at `packageRoot` into `out`, against `libtorch`. */
async function compile(
  packageRoot: string,
  libtorch: FoundLibTorch,
  out: string,
  report: (p: Omit<SetupProgress, 'elapsedMs'>) => void,
): Promise<void> {
  const cmakeJs = createRequire(join(packageRoot, 'package.json')).resolve('cmake-js/bin/cmake-js');
  const jobs = process.env.CMAKE_BUILD_PARALLEL_LEVEL ?? String(Math.max(1, availableParallelism()));
  const env: NodeJS.ProcessEnv = { ...process.env, LIBTORCH: libtorch.root };
  delete env.Torch_DIR;
  const tail: string[] = [];
  await new Promise<void>((done, fail) => {
    const child = spawn(process.execPath, [cmakeJs, 'compile', '--out', out, '--parallel', jobs], {
      cwd: packageRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pending = '';
    const onData = (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split(/\r?\n/);
      pending = lines.pop()!;
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 40) tail.shift();
        const p = parseBuildProgress(line);
        if (p) report({ phase: 'compile', message: line.trim(), ...p });
        else if (/vpt-native: LibTorch|Configuring done|Generating done/.test(line))
          report({ phase: 'configure', message: line.replace(/^--\s*/, '').trim() });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', fail);
    child.on('close', (code) => {
      if (code === 0) done();
      else
        fail(
          new VptError(
            ErrorCode.Addon,
            `compiling the addon failed (cmake-js exited ${code}); its last lines:\n${tail.map((l) => `  ${l}`).join('\n')}`,
          ),
        );
    });
  });
}

/**
 * Builds (or with `from`, takes) the addon for `libtorch` and installs it as the cache entry
 * `dest`: vpt_native.node, vpt-build.json, setup.json. Returns the addon's path.
 */
export async function buildAddon(options: {
  packageRoot: string;
  libtorch: FoundLibTorch;
  dest: string;
  from?: string;
  onProgress?: (p: SetupProgress) => void;
}): Promise<string> {
  const { packageRoot, libtorch, dest } = options;
  const started = Date.now();
  const report = (p: Omit<SetupProgress, 'elapsedMs'>) =>
    options.onProgress?.({ ...p, elapsedMs: Date.now() - started });
  const staging = `${dest}.build-${process.pid}`;
  const entry = `${dest}.new-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  rmSync(entry, { recursive: true, force: true });
  try {
    let built = staging;
    if (options.from) {
      built = resolve(options.from);
      report({
        phase: 'configure',
        message: `VPT_SETUP_BUILD_FROM: taking the build in ${built} instead of compiling`,
      });
      if (!existsSync(join(built, 'Release', ADDON_FILE)))
        throw new VptError(ErrorCode.Addon, `VPT_SETUP_BUILD_FROM=${options.from} holds no Release/${ADDON_FILE}`);
      report({ phase: 'compile', message: `[1/1] copying ${join(built, 'Release', ADDON_FILE)}`, done: 1, total: 1 });
    } else {
      mkdirSync(staging, { recursive: true });
      report({ phase: 'configure', message: `configuring the build against ${libtorch.root}` });
      await compile(packageRoot, libtorch, staging, report);
    }
    const info = readBuildInfo(built);
    if (
      !info.torchVersion.startsWith(libtorch.version) ||
      (info.cuda ? libtorch.variant === 'cpu' : libtorch.variant !== 'cpu')
    ) {
      throw new VptError(
        ErrorCode.Addon,
        `the build in ${built} is for LibTorch ${info.torchVersion} (${info.cuda ? 'CUDA' : 'CPU'}), not ${libtorch.version} (${libtorch.variant}) at ${libtorch.root}`,
      );
    }
    mkdirSync(entry, { recursive: true });
    copyFileSync(join(built, 'Release', ADDON_FILE), join(entry, ADDON_FILE));
    copyFileSync(join(built, 'vpt-build.json'), join(entry, 'vpt-build.json'));
    writeFileSync(
      join(entry, 'setup.json'),
      `${JSON.stringify(
        {
          libtorch,
          builtAt: new Date().toISOString(),
          elapsedMs: Date.now() - started,
          from: options.from ? built : undefined,
        },
        null,
        2,
      )}\n`,
    );
    rmSync(dest, { recursive: true, force: true });
    renameSync(entry, dest);
    return join(dest, ADDON_FILE);
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(entry, { recursive: true, force: true });
  }
}
