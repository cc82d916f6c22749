import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/binding.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist', 'bin', 'launch.cjs');

describe('vpt-native info', () => {
  it('--json describes the runtime', async () => {
    const { stdout } = await run(process.execPath, [cli, 'info', '--json']);
    const info = JSON.parse(stdout);
    expect(info.torchVersion).toMatch(/^2\.\d+/);
    expect(typeof info.cudaAvailable).toBe('boolean');
    expect(info.cpuThreads).toBeGreaterThan(0);
    expect(info.addonPath).toMatch(/vpt_native\.node$/);
    expect(Array.isArray(info.gpus)).toBe(true);
  });

  it('sizes the libuv thread pool to the machine before anything runs', async () => {
    const env = { ...process.env };
    delete env.UV_THREADPOOL_SIZE;
    const { stdout } = await run(process.execPath, [cli, 'info', '--json'], { env });
    expect(JSON.parse(stdout).threadPoolSize).toBe(Math.min(64, Math.max(4, availableParallelism() + 2)));
    const pinned = await run(process.execPath, [cli, 'info', '--json'], { env: { ...env, UV_THREADPOOL_SIZE: '7' } });
    expect(JSON.parse(pinned.stdout).threadPoolSize).toBe(7);
  });

  it('prints a readable summary', async () => {
    const { stdout } = await run(process.execPath, [cli, 'info']);
    expect(stdout).toMatch(/LibTorch\s+2\.\d+/);
    expect(stdout).toMatch(/CPU threads/);
  });
});
