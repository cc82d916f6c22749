/**
 * `vpt-native info [--json]`: what LibTorch, CUDA and GPUs the addon runs on. Works without the
 * addon too: then it says so, lists the LibTorch candidates, where the addon would load from,
 * and the command that fixes it.
 */
import type { Command } from 'commander';

import { packageRoot } from '../binding.js';
import { ErrorCode, VptError } from '../errors.js';
import { runtimeInfo } from '../runtime-info.js';
import { locateAddon } from '../setup/locate-addon.js';
import { VERSION } from '../version.js';
import { archsListing } from './archs-listing.js';
import { describeSearch } from './setup-command.js';

/** `info` when the addon does not load. */
function infoWithoutAddon(error: VptError, json: boolean): void {
  const search = locateAddon(packageRoot);
  if (json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          version: VERSION,
          addon: null,
          error: error.message,
          fix: search.problem?.fix ?? 'npx vpt-native setup',
          libtorchCandidates: search.candidates,
          libtorch: search.libtorch ?? null,
          locations: search.locations,
          setupBuildsInto: search.cacheDir ?? null,
        },
        null,
        2,
      )}\n`,
    );
    return;
  }
  const lines = [
    `vpt-native ${VERSION}`,
    'addon          not loaded (info works without it; training, evaluation and prediction need it)',
    '',
    error.message,
    '',
    ...describeSearch(search),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description(
      'show the LibTorch build, CUDA and GPUs, CPU threads and BLAS in use (or, without an addon, what was found and the fix)',
    )
    .option('--json', 'print machine-readable JSON')
    .option('--archs', 'list the timm ViT architectures vpt-native builds (with --json: and why not the others)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ vpt-native info\n  $ vpt-native info --json | jq .gpus\n  $ vpt-native info --archs | grep dinov2',
    )
    .action((opts: { json?: boolean; archs?: boolean }) => {
      if (opts.archs) {
        process.stdout.write(archsListing(Boolean(opts.json)));
        return;
      }
      let info: ReturnType<typeof runtimeInfo>;
      try {
        info = runtimeInfo();
      } catch (error) {
        if (!(error instanceof VptError) || error.code !== ErrorCode.Addon) throw error;
        infoWithoutAddon(error, Boolean(opts.json));
        return;
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
        return;
      }
      const lines = [
        `vpt-native ${info.version}`,
        `LibTorch       ${info.torchVersion} (${info.cudaBuild ? `CUDA build${info.cudaRuntime ? `, runtime ${info.cudaRuntime}` : ''}${info.cudaFusedKernels ? ', fused kernels' : ', no fused kernels (built without nvcc)'}` : 'CPU build'})`,
        `CUDA           ${info.cudaAvailable ? `available, ${info.gpus.length} GPU(s)` : 'not available'}`,
        ...info.gpus.map(
          (g) => `  cuda:${g.index}       ${g.name}, ${gib(g.totalMemory)}, compute ${g.computeCapability}`,
        ),
        `CPU threads    ${info.cpuThreads} intra-op, ${info.interopThreads} inter-op (${info.cpuCapability || 'unknown ISA'}); libuv pool ${info.threadPoolSize}`,
        `BLAS           ${info.blas || 'unknown'}${info.mkl ? ' (MKL)' : ''}; oneDNN ${info.onednn ? 'yes' : 'no'}; OpenMP ${info.openmp ? 'yes' : 'no'}`,
        `JPEG decode    ${info.nativeJpeg ? 'native (libjpeg-turbo, PIL-exact)' : 'sharp (built without libjpeg)'}`,
        `data-parallel  ${
          Object.entries(info.distributedBackends)
            .filter(([, on]) => on)
            .map(([name]) => name)
            .join(', ') || 'no backend in this build'
        }`,
        `host heap      ${info.hostHeap.mode}: ${info.hostHeap.reason}`,
        `addon          ${info.addonPath}`,
        `built against  ${info.torchRoot}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
