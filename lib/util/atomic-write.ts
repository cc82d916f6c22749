import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { ErrorCode, VptError } from '../errors.js';

/**
 * Writes `chunks` to `path` atomically: a temporary file in the same directory, fsync, then
 * rename. A reader sees the old file or the complete new one, never a partial write.
 */
export async function writeFileAtomic(path: string, chunks: Uint8Array[]): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(tmp, 'wx');
    for (const chunk of chunks) {
      // write() may write less than asked (a full disk, a signal): go on until all of it is written.
      for (let done = 0; done < chunk.byteLength; ) {
        const { bytesWritten } = await handle.write(chunk, done, chunk.byteLength - done);
        if (bytesWritten <= 0) throw new Error(`no progress writing ${tmp}`);
        done += bytesWritten;
      }
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new VptError(ErrorCode.Io, `cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
}
