import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { ErrorCode, VptError } from '../errors.js';

/**
 * Test hook, for proving what a failing write does (a full disk, an I/O error):
 * `VPT_FAULT_WRITE=<name>:<ERRNO>` (e.g. `last.state.safetensors:ENOSPC`) makes every
 * writeFileAtomic whose file name contains `<name>` fail inside its write, after part of the
 * data went to the temporary file, with that errno code. Read at each write; unset, nothing
 * changes. Not for production use.
 */
function injectedFault(path: string): NodeJS.ErrnoException | undefined {
  const spec = process.env.VPT_FAULT_WRITE;
  if (!spec) return undefined;
  const at = spec.lastIndexOf(':');
  const name = spec.slice(0, at);
  const code = spec.slice(at + 1);
  if (at <= 0 || !/^E[A-Z]+$/.test(code) || !basename(path).includes(name)) return undefined;
  return Object.assign(new Error(`${code}: injected by VPT_FAULT_WRITE, write`), { code, errno: -1, syscall: 'write' });
}

/**
 * Writes `chunks` to `path` atomically: a temporary file in the same directory, fsync, then
 * rename. A reader sees the old file or the complete new one, never a partial write. A failure
 * (ENOSPC, EIO, ...) removes the temporary file, leaves `path` as it was, and is a VPT_IO error
 * naming `path`.
 */
export async function writeFileAtomic(path: string, chunks: Uint8Array[]): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(tmp, 'wx');
    const fault = injectedFault(path);
    for (const chunk of chunks) {
      // write() may write less than asked (a full disk, a signal): go on until all of it is written.
      for (let done = 0; done < chunk.byteLength; ) {
        if (fault) {
          await handle.write(chunk, 0, Math.min(chunk.byteLength, 64));
          throw fault;
        }
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
