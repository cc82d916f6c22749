/**
 * writeFileAtomic on a file system whose write() writes less than asked (as a full disk or
 * a signal can make it): the file still gets every byte, and a failing write leaves the old
 * file whole.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { writeFileAtomic } from '../../lib/util/atomic-write.js';
import { tempDir } from '../helpers/common.js';

/** Largest write the mocked file handles perform; 0 makes them fail. */
const limit = vi.hoisted(() => ({ bytes: 7 }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof actual.open = async (...args) => {
    const handle = await actual.open(...args);
    const write = handle.write.bind(handle) as (
      b: Uint8Array,
      o?: number,
      l?: number,
    ) => Promise<{ bytesWritten: number; buffer: Uint8Array }>;
    Object.assign(handle, {
      write: (buffer: Uint8Array, offset = 0, length = buffer.byteLength - offset) => {
        if (limit.bytes === 0)
          return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
        return write(buffer, offset, Math.min(length, limit.bytes));
      },
    });
    return handle;
  };
  return { ...actual, open };
});

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('writeFileAtomic', () => {
  it('writes every byte when each write() takes only a few of them', async () => {
    const path = join(tmp.dir, 'short.bin');
    const chunks = [
      Uint8Array.from({ length: 100 }, (_, i) => i),
      new Uint8Array(0),
      Uint8Array.from({ length: 33 }, (_, i) => 255 - i),
    ];
    limit.bytes = 7;
    await writeFileAtomic(path, chunks);
    expect(new Uint8Array(await readFile(path))).toEqual(Uint8Array.from([...chunks[0]!, ...chunks[2]!]));
  });

  it('a failing write leaves the old file and no temporary file', async () => {
    const path = join(tmp.dir, 'kept.txt');
    await writeFile(path, 'old contents');
    limit.bytes = 0;
    await expect(writeFileAtomic(path, [Buffer.from('new contents')])).rejects.toMatchObject({
      code: 'VPT_IO',
      message: expect.stringContaining(path),
    });
    limit.bytes = 7;
    expect(await readFile(path, 'utf8')).toBe('old contents');
    expect((await readdir(tmp.dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
