/** `vpt-native info [--json]`: what LibTorch, CUDA and GPUs the addon runs on. */
import type { Command } from 'commander';

import { runtimeInfo } from '../runtime-info.js';

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description('show the LibTorch build, CUDA and GPUs, CPU threads and BLAS in use')
    .option('--json', 'print machine-readable JSON')
    .addHelpText('after', '\nExamples:\n  $ vpt-native info\n  $ vpt-native info --json | jq .gpus')
    .action((opts: { json?: boolean }) => {
      const info = runtimeInfo();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
        return;
      }
      const lines = [
        `vpt-native ${info.version}`,
        `LibTorch       ${info.torchVersion} (${info.cudaBuild ? `CUDA build${info.cudaRuntime ? `, runtime ${info.cudaRuntime}` : ''}${info.cudaFusedKernels ? ', fused kernels' : ', no fused kernels (built without nvcc)'}` : 'CPU build'})`,
        `CUDA           ${info.cudaAvailable ? `available, ${info.gpus.length} GPU(s)` : 'not available'}`,
        ...info.gpus.map((g) => `  cuda:${g.index}       ${g.name}, ${gib(g.totalMemory)}, compute ${g.computeCapability}`),
        `CPU threads    ${info.cpuThreads} intra-op, ${info.interopThreads} inter-op (${info.cpuCapability || 'unknown ISA'}); libuv pool ${info.threadPoolSize}`,
        `BLAS           ${info.blas || 'unknown'}${info.mkl ? ' (MKL)' : ''}; oneDNN ${info.onednn ? 'yes' : 'no'}; OpenMP ${info.openmp ? 'yes' : 'no'}`,
        `JPEG decode    ${info.nativeJpeg ? 'native (libjpeg-turbo, PIL-exact)' : 'sharp (built without libjpeg)'}`,
        `data-parallel  ${Object.entries(info.distributedBackends).filter(([, on]) => on).map(([name]) => name).join(', ') || 'no backend in this build'}`,
        `addon          ${info.addonPath}`,
        `built against  ${info.torchRoot}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
