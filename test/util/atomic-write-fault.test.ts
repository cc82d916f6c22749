/**
 * writeFileAtomic when the disk fails mid-write, through its test hook VPT_FAULT_WRITE: the old
 * file stays byte for byte, no temporary file is left, and the error is VPT_IO naming the file.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { writeFileAtomic } from '../../lib/util/atomic-write.js';
import { tempDir } from '../helpers/common.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterEach(() => {
  delete process.env.VPT_FAULT_WRITE;
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('writeFileAtomic on a failing disk (VPT_FAULT_WRITE)', () => {
  for (const code of ['ENOSPC', 'EIO']) {
    it(`${code}: VPT_IO naming the file, the old file intact, no temporary file`, async () => {
      const dir = join(tmp.dir, code);
      await mkdir(dir);
      const path = join(dir, 'last.state.safetensors');
      const old = Buffer.from('the previous checkpoint');
      await writeFile(path, old);
      process.env.VPT_FAULT_WRITE = `last.state:${code}`;
      const error = await writeFileAtomic(path, [Buffer.alloc(4096, 7), Buffer.alloc(10, 1)]).catch((e) => e);
      expect(error).toMatchObject({ code: 'VPT_IO', cause: { code } });
      expect(error.message).toContain(path);
      expect(error.message).toContain(code);
      expect(await readFile(path)).toEqual(old);
      expect(await readdir(dir)).toEqual(['last.state.safetensors']);
      // Other names are not touched by the hook, and without it the write succeeds.
      await writeFileAtomic(join(dir, 'metrics.jsonl'), [Buffer.from('x')]);
      delete process.env.VPT_FAULT_WRITE;
      await writeFileAtomic(path, [Buffer.from('new')]);
      expect(await readFile(path, 'utf8')).toBe('new');
    });
  }
});
