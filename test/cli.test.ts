import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../lib/binding.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist', 'bin', 'vpt-native.js');

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

  it('prints a readable summary', async () => {
    const { stdout } = await run(process.execPath, [cli, 'info']);
    expect(stdout).toMatch(/LibTorch\s+2\.\d+/);
    expect(stdout).toMatch(/CPU threads/);
  });
});
