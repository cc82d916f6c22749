/**
 * Installs a PyTorch wheel (a complete LibTorch) into the per-user cache with pip:
 * `$XDG_CACHE_HOME/vpt-native/libtorch/<variant>/torch`. Only with the user's consent
 * (ensureAddon asks, or `setup --yes`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { ErrorCode, VptError } from '../errors.js';
import { cachedTorchDir, pythonCommand } from '../prebuild.js';
import { cpuWheel, cudaWheel, type TorchWheel } from './torch-wheel.js';

/** The wheel setup would install: CPU, or with `cuda` the one matching `nvidia-smi`'s driver. */
export function chooseWheel(cuda: boolean, env: NodeJS.ProcessEnv = process.env): TorchWheel {
  if (!cuda) return cpuWheel();
  if (env.VPT_TORCH_CUDA) return cudaWheel('', env.VPT_TORCH_CUDA);
  const smi = spawnSync('nvidia-smi', [], { encoding: 'utf8', timeout: 20_000 });
  if (smi.error || smi.status !== 0) {
    throw new VptError(
      ErrorCode.Addon,
      `--cuda: nvidia-smi could not be run (${smi.error?.message ?? `exit ${smi.status}`}); install the NVIDIA driver, set VPT_TORCH_CUDA=cu128 (a wheel tag), or run setup without --cuda`,
    );
  }
  try {
    return cudaWheel(smi.stdout);
  } catch (error) {
    throw new VptError(ErrorCode.Addon, `--cuda: ${(error as Error).message}`);
  }
}

/** The command line `installWheel` runs (shown to the user before asking). */
export function pipCommand(wheel: TorchWheel, target: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const index = env.VPT_TORCH_INDEX_URL ?? wheel.indexUrl;
  return [
    pythonCommand(env),
    '-m',
    'pip',
    'install',
    '--disable-pip-version-check',
    '--retries',
    '1',
    ...(wheel.withDeps ? [] : ['--no-deps']),
    '--target',
    target,
    ...(index ? ['--extra-index-url', index] : []),
    wheel.spec,
  ];
}

/**
 * Installs `wheel` into the cache (into a staging folder first, so a failed download leaves
 * nothing half-installed) and returns the LibTorch root. pip's own output goes to stderr.
 */
export async function installWheel(
  wheel: TorchWheel,
  env: NodeJS.ProcessEnv = process.env,
  output: 'inherit' | 'ignore' = 'inherit',
): Promise<string> {
  const dir = cachedTorchDir(wheel.variant, env);
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  const [cmd, ...args] = pipCommand(wheel, staging, env);
  const code = await new Promise<number | null>((done, fail) => {
    const child = spawn(cmd!, args, {
      stdio: [
        'ignore',
        output === 'inherit' ? process.stderr : 'ignore',
        output === 'inherit' ? process.stderr : 'ignore',
      ],
      env,
    });
    child.on('error', fail);
    child.on('close', done);
  }).catch((error: Error) => {
    throw new VptError(
      ErrorCode.Addon,
      `could not run ${cmd}: ${error.message} (set VPT_PYTHON to a Python 3 with pip)`,
    );
  });
  if (code !== 0 || !existsSync(join(staging, 'torch', 'share', 'cmake', 'Torch', 'TorchConfig.cmake'))) {
    rmSync(staging, { recursive: true, force: true });
    throw new VptError(
      ErrorCode.Addon,
      [
        `installing ${wheel.spec} failed (${cmd} -m pip exited ${code}).`,
        `  command: ${[cmd, ...args].join(' ')}`,
        '  Set VPT_TORCH_INDEX_URL to a package index that serves it (default: download.pytorch.org), or install a',
        '  LibTorch yourself and point LIBTORCH at it, then run `npx vpt-native setup` again.',
      ].join('\n'),
    );
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return join(dir, 'torch');
}
