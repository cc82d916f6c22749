/**
 * `ensureAddon()`: makes the native addon loadable, as `npx vpt-native setup` does — finds a
 * LibTorch (or, with consent, installs one into the user cache with pip), compiles the addon
 * into the user cache with progress, and loads it.
 */
import { execFileSync } from 'node:child_process';

import { loadAddon, packageRoot } from '../binding.js';
import { ErrorCode, VptError } from '../errors.js';
import { cachedTorchDir } from '../prebuild.js';
import { buildAddon, formatElapsed, type SetupProgress } from './build-addon.js';
import { chooseWheel, installWheel, pipCommand } from './install-libtorch.js';
import { type AddonSearch, locateAddon } from './locate-addon.js';
import type { TorchWheel } from './torch-wheel.js';

export type { SetupProgress } from './build-addon.js';

export interface EnsureAddonOptions {
  /** Progress of the LibTorch install and the compile. */
  onProgress?: (event: SetupProgress) => void;
  /** Consent to install a LibTorch with pip when none is found (~200 MB CPU, a few GB CUDA). */
  yes?: boolean;
  /** Install the CUDA LibTorch matching the driver (nvidia-smi) rather than the CPU one. */
  cuda?: boolean;
  /** Rebuild the cache entry even when an addon loads already. */
  force?: boolean;
  /** Asked before installing a LibTorch when `yes` is not set (the CLI asks on a terminal). */
  confirm?: (question: string) => Promise<boolean>;
  /** pip's own output: to stderr (default) or nowhere. */
  pipOutput?: 'inherit' | 'ignore';
}

export interface EnsureAddonResult {
  /** The addon file now loaded. */
  path: string;
  /** Something was built (or taken from VPT_SETUP_BUILD_FROM) into the cache by this call. */
  built: boolean;
  /** A LibTorch was installed by this call. */
  installedLibTorch: boolean;
  elapsedMs: number;
}

function wantsCuda(search: AddonSearch, cuda: boolean): boolean {
  return cuda && (!search.libtorch || search.libtorch.variant === 'cpu' || Boolean(search.libtorch.problem));
}

/**
 * Makes sure the addon loads: returns at once when it does, else builds it for the LibTorch
 * found (installing one first only with `yes` or `confirm`'s consent).
 * @example
 * ```ts
 * import { ensureAddon } from 'vpt-native';
 * await ensureAddon({ yes: true, onProgress: (e) => console.error(e.phase, e.message) });
 * ```
 */
export async function ensureAddon(options: EnsureAddonOptions = {}): Promise<EnsureAddonResult> {
  const started = Date.now();
  const report = (p: Omit<SetupProgress, 'elapsedMs'>) =>
    options.onProgress?.({ ...p, elapsedMs: Date.now() - started });
  if (!options.force) {
    try {
      const { path } = loadAddon();
      if (!options.cuda || !locateAddon(packageRoot).libtorch || locateAddon(packageRoot).libtorch!.variant !== 'cpu') {
        return { path, built: false, installedLibTorch: false, elapsedMs: Date.now() - started };
      }
    } catch (error) {
      if (!(error instanceof VptError) || error.code !== ErrorCode.Addon) throw error;
    }
  }
  let search = locateAddon(packageRoot);
  let installedLibTorch = false;
  const explicit =
    search.libtorch && (search.libtorch.source === 'LIBTORCH' || search.libtorch.source === 'Torch_DIR')
      ? search.libtorch
      : undefined;
  if (explicit && (explicit.problem || wantsCuda(search, Boolean(options.cuda)))) {
    throw new VptError(
      ErrorCode.Addon,
      `${explicit.source} points at LibTorch ${explicit.version} (${explicit.variant}) at ${explicit.root}, which ${explicit.problem ? `is ${explicit.problem}` : 'is a CPU build and --cuda was asked'}; unset ${explicit.source} or point it at a suitable LibTorch`,
    );
  }
  if (!search.libtorch || search.libtorch.problem || wantsCuda(search, Boolean(options.cuda))) {
    const wheel: TorchWheel = chooseWheel(Boolean(options.cuda));
    const target = cachedTorchDir(wheel.variant);
    const why = !search.libtorch
      ? 'No LibTorch was found'
      : search.libtorch.problem
        ? `The LibTorch found (${search.libtorch.version} at ${search.libtorch.root}) is ${search.libtorch.problem}`
        : 'A CUDA LibTorch was asked for';
    const question = `${why}. Install ${wheel.spec} (${wheel.withDeps ? 'a few GB with its CUDA libraries' : 'about 200 MB'}) into ${target} with pip?`;
    const consent = options.yes || (options.confirm ? await options.confirm(question) : false);
    if (!consent) {
      throw new VptError(
        ErrorCode.Addon,
        [
          `${why}; installing one needs your consent.`,
          `  ${SETUP_HINT(options.cuda)}    (installs ${wheel.spec} into ${target} and builds the addon)`,
          '  or install a LibTorch >= 2.4 yourself and set LIBTORCH=/path/to/libtorch',
        ].join('\n'),
      );
    }
    report({
      phase: 'install',
      message: `installing ${wheel.spec} into ${target}: ${pipCommand(wheel, target).join(' ')}`,
    });
    const root = await installWheel(wheel, process.env, options.pipOutput ?? 'inherit');
    installedLibTorch = true;
    search = locateAddon(packageRoot);
    if (search.libtorch?.root !== root) {
      report({
        phase: 'libtorch',
        message: `note: ${search.libtorch ? `${search.libtorch.root} (from ${search.libtorch.source}) comes first` : 'the installed LibTorch was not found'}; set LIBTORCH=${root} to use the one just installed`,
      });
    }
  }
  const libtorch = search.libtorch;
  if (!libtorch || libtorch.problem || !search.cacheDir)
    throw new VptError(ErrorCode.Addon, search.problem?.message ?? 'no usable LibTorch');
  report({
    phase: 'libtorch',
    message: `LibTorch ${libtorch.version} (${libtorch.variant}) at ${libtorch.root} (from ${libtorch.source})`,
  });
  const path = await buildAddon({
    packageRoot,
    libtorch,
    dest: search.cacheDir,
    from: process.env.VPT_SETUP_BUILD_FROM || undefined,
    onProgress: options.onProgress,
  });
  const loaded = loadAddon();
  report({ phase: 'done', message: `ready in ${formatElapsed(Date.now() - started)}: ${loaded.path}` });
  if (loaded.path !== path)
    report({
      phase: 'done',
      message: `note: ${loaded.path} loaded rather than ${path} (it comes first in the search order)`,
    });
  return { path: loaded.path, built: true, installedLibTorch, elapsedMs: Date.now() - started };
}

const SETUP_HINT = (cuda?: boolean) => `npx vpt-native setup --yes${cuda ? ' --cuda' : ''}`;

/** Runs nvidia-smi; '' when there is none (for `setup --check`). */
export function nvidiaSmiOutput(): string {
  try {
    return execFileSync('nvidia-smi', [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20_000 });
  } catch {
    return '';
  }
}
