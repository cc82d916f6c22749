/**
 * `vpt-native prepare-cub` output: the default conversion says that val.json is the official
 * test split (and how to get VPT's protocol); a forced default run after a --val-fraction one
 * says it removed the stale test.json.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { OFFICIAL_SPLIT_NOTE, registerPrepareCubCommand } from '../../lib/cli/prepare-cub-command.js';
import { tempDir } from '../helpers/common.js';
import { writeCubTree } from '../helpers/data.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
  await writeCubTree(tmp.dir, {
    images: [
      [1, 'a/1.jpg'],
      [2, 'a/2.jpg'],
      [3, 'a/3.jpg'],
      [4, 'b/1.jpg'],
      [5, 'b/2.jpg'],
      [6, 'b/3.jpg'],
    ],
    split: [
      [1, 1],
      [2, 1],
      [3, 0],
      [4, 1],
      [5, 1],
      [6, 0],
    ],
    labels: [
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 2],
      [5, 2],
      [6, 2],
    ],
  });
});
afterEach(async () => {
  vi.restoreAllMocks();
  await tmp.cleanup();
});

/** Runs `prepare-cub <args>` in this process; what it printed. */
async function prepareCub(...args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerPrepareCubCommand(program);
  let out = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['prepare-cub', ...args], { from: 'user' });
  } finally {
    write.mockRestore();
  }
  return out;
}

describe('prepare-cub tells what val.json is', () => {
  it("the default conversion prints one line: val.json is the official test split; --val-fraction 0.1 is VPT's protocol", async () => {
    const out = await prepareCub(tmp.dir);
    const notes = out.split('\n').filter((line) => line.includes('official test split'));
    expect(notes).toEqual([OFFICIAL_SPLIT_NOTE]);
    expect(OFFICIAL_SPLIT_NOTE).toMatch(
      /val\.json is the official test split, so model selection on val is selection on the test set/,
    );
    expect(OFFICIAL_SPLIT_NOTE).toContain('--val-fraction 0.1');
  });

  it('a --val-fraction conversion does not print it', async () => {
    const out = await prepareCub(tmp.dir, '--val-fraction', '0.5');
    expect(out).toMatch(/test\.json\s+2 images/);
    expect(out).not.toContain(OFFICIAL_SPLIT_NOTE);
  });

  it('--force after a --val-fraction run removes the stale test.json and says so', async () => {
    await prepareCub(tmp.dir, '--val-fraction', '0.5');
    const out = await prepareCub(tmp.dir, '--force');
    expect(out).toMatch(/train\.json\s+4 images/);
    expect(out).toMatch(/val\.json\s+2 images/);
    expect(out).toContain(`removed ${join(tmp.dir, 'test.json')}: left by an earlier --val-fraction run`);
    expect((await readdir(tmp.dir)).filter((f) => f.endsWith('.json')).sort()).toEqual(['train.json', 'val.json']);
  });
});
