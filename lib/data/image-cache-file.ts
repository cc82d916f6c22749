/**
 * The decoded-image cache on disk: the in-memory cache of one loader (one dataset split at one
 * resize), persisted, so later runs decode no JPEG at all.
 *
 *   8 bytes  little-endian header length
 *   header   JSON { format, version, resize, fit?, entries: [{ path, size, mtimeMs, width, height, offset }] }
 *            (fit: 'fill' for VTAB's square resize; absent for the shorter-side resize)
 *   pixels   each entry's (height, width, 3) RGB bytes, at the end of the header + offset
 *
 * An entry counts only while its source file keeps the size and mtime it had when the cache file
 * was written. A file made for another resize (or fit), or one that does not parse, is ignored and
 * replaced at the next write.
 */
import { type FileHandle, mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

import { writeFileAtomic } from '../util/atomic-write.js';
import type { DecodedImage } from './decode-image.js';

const FORMAT = 'vpt-native-image-cache';
const VERSION = 1;
/** Largest header accepted (CUB's train split needs about 700 KB). */
const MAX_HEADER_BYTES = 256 * 1024 * 1024;
/** Source files whose stamps are checked at once. */
const STAT_BATCH = 256;

interface FileEntry {
  path: string;
  size: number;
  mtimeMs: number;
  width: number;
  height: number;
  offset: number;
}

/** What reading a cache file found. */
export type CacheFileStatus = 'absent' | 'loaded' | 'other-resize' | 'unreadable';

/**
 * Writes the cached images of a loader, atomically, with their source files' stamps (an image
 * whose source has gone is left out).
 * @example
 * ```ts
 * await writeImageCacheFile('cache/cub-train-256.vptcache', 256, cache.entries());
 * ```
 */
export async function writeImageCacheFile(
  file: string,
  resize: number,
  entries: Iterable<[string, DecodedImage]>,
  fit: 'shorter' | 'fill' = 'shorter',
): Promise<void> {
  const header: { format: string; version: number; resize: number; fit?: 'fill'; entries: FileEntry[] } = {
    format: FORMAT,
    version: VERSION,
    resize,
    ...(fit === 'fill' ? { fit } : {}),
    entries: [],
  };
  const pixels: Uint8Array[] = [];
  let offset = 0;
  const list = [...entries];
  for (let i = 0; i < list.length; i += STAT_BATCH) {
    const chunk = list.slice(i, i + STAT_BATCH);
    const stamps = await Promise.all(
      chunk.map(([path]) =>
        stat(path).then(
          (s) => s,
          () => null,
        ),
      ),
    );
    chunk.forEach(([path, image], j) => {
      const s = stamps[j];
      if (!s) return;
      header.entries.push({ path, size: s.size, mtimeMs: s.mtimeMs, width: image.width, height: image.height, offset });
      pixels.push(image.data);
      offset += image.data.byteLength;
    });
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const length = new Uint8Array(8);
  new DataView(length.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, [length, json, ...pixels]);
}

function isEntry(e: unknown, dataBytes: number): e is FileEntry {
  const x = e as FileEntry;
  return (
    x !== null &&
    typeof x === 'object' &&
    typeof x.path === 'string' &&
    [x.size, x.width, x.height, x.offset].every((v) => Number.isSafeInteger(v) && v >= 0) &&
    typeof x.mtimeMs === 'number' &&
    x.offset + x.width * x.height * 3 <= dataBytes
  );
}

/**
 * Reads the entries of `file` whose paths are `wanted` and whose sources are unchanged, handing
 * each to `admit` until it returns false (the memory budget is full).
 * @returns what was found, and how many images were admitted
 */
export async function readImageCacheFile(
  file: string,
  resize: number,
  wanted: ReadonlySet<string>,
  admit: (path: string, image: DecodedImage) => boolean,
  fit: 'shorter' | 'fill' = 'shorter',
): Promise<{ status: CacheFileStatus; admitted: number }> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    return { status: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'unreadable', admitted: 0 };
  }
  try {
    const fileBytes = (await handle.stat()).size;
    const head = new Uint8Array(8);
    if (fileBytes < 8 || (await handle.read(head, 0, 8, 0)).bytesRead !== 8)
      return { status: 'unreadable', admitted: 0 };
    const headerBytes = Number(new DataView(head.buffer).getBigUint64(0, true));
    if (headerBytes > MAX_HEADER_BYTES || 8 + headerBytes > fileBytes) return { status: 'unreadable', admitted: 0 };
    const json = new Uint8Array(headerBytes);
    await handle.read(json, 0, headerBytes, 8);
    let header: { format?: unknown; version?: unknown; resize?: unknown; fit?: unknown; entries?: unknown };
    try {
      header = JSON.parse(new TextDecoder().decode(json)) as typeof header;
    } catch {
      return { status: 'unreadable', admitted: 0 };
    }
    const dataStart = 8 + headerBytes;
    if (
      header.format !== FORMAT ||
      header.version !== VERSION ||
      !Array.isArray(header.entries) ||
      !header.entries.every((e) => isEntry(e, fileBytes - dataStart))
    ) {
      return { status: 'unreadable', admitted: 0 };
    }
    if (header.resize !== resize || (header.fit ?? 'shorter') !== fit) return { status: 'other-resize', admitted: 0 };

    const candidates = (header.entries as FileEntry[]).filter((e) => wanted.has(e.path));
    let admitted = 0;
    for (let i = 0; i < candidates.length; i += STAT_BATCH) {
      const chunk = candidates.slice(i, i + STAT_BATCH);
      const stamps = await Promise.all(
        chunk.map((e) =>
          stat(e.path).then(
            (s) => s,
            () => null,
          ),
        ),
      );
      for (const [j, e] of chunk.entries()) {
        const s = stamps[j];
        if (!s || s.size !== e.size || s.mtimeMs !== e.mtimeMs) continue;
        const data = new Uint8Array(e.width * e.height * 3);
        await handle.read(data, 0, data.byteLength, dataStart + e.offset);
        if (!admit(e.path, { data, width: e.width, height: e.height })) return { status: 'loaded', admitted };
        admitted++;
      }
    }
    return { status: 'loaded', admitted };
  } finally {
    await handle.close();
  }
}
