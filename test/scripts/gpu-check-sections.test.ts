// scripts/gpu-check/: every listed section exists and has the shape run-sections.mjs expects;
// an unknown section name is refused before anything runs. (The sections themselves are
// measurements for a GPU; each runs on the CPU with `node scripts/gpu-check/run-sections.mjs
// --device cpu NAME`, which takes a minute or more: too long for the test suite.)
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

const folder = join(__dirname, '..', '..', 'scripts', 'gpu-check');

describe('gpu-check sections', () => {
  it('lists every section module of the folder, each with a title and a run function', async () => {
    const { SECTIONS } = await import(join(folder, 'run-sections.mjs'));
    const files = (await readdir(folder)).filter((f) => f.endsWith('.mjs') && f !== 'run-sections.mjs');
    expect([...SECTIONS].sort()).toEqual(files.map((f) => f.replace(/\.mjs$/, '')).sort());
    for (const name of SECTIONS) {
      const mod = await import(join(folder, `${name}.mjs`));
      expect(typeof mod.title, name).toBe('string');
      expect(typeof mod.run, name).toBe('function');
    }
  });

  it('refuses an unknown section by name before running any', async () => {
    const { runSections } = await import(join(folder, 'run-sections.mjs'));
    const checks: unknown[] = [];
    await expect(
      runSections({
        device: 'cpu',
        quick: true,
        check: (...args: unknown[]) => checks.push(args),
        report: {},
        save: async () => {},
        tmp: '/nonexistent',
        root: '/nonexistent',
        names: ['serve', 'no-such-section'],
      }),
    ).rejects.toThrow(/no section 'no-such-section'/);
    expect(checks).toEqual([]);
  });
});
