/**
 * Path safety for dataset entries. A JSON key (or an `images.txt` path) names a file under the
 * image root; one that is absolute, has a `..` segment, or resolves (through symlinks) outside
 * the root is rejected, so a dataset file cannot make the loader read arbitrary files.
 */
import { realpath } from 'node:fs/promises';
import { dirname, join, posix, sep, win32 } from 'node:path';

/** Why `key` is not a safe relative image path, or null when it is. */
export function unsafeKeyReason(key: string): string | null {
  if (key.length === 0) return 'it is empty';
  if (key.includes('\0')) return 'it contains a NUL character';
  if (posix.isAbsolute(key) || win32.isAbsolute(key)) return 'it is an absolute path';
  if (key.split(/[\\/]/).includes('..')) return 'it contains a ".." segment';
  return null;
}

/** The real path of `path`, or of the nearest existing folder above it; null when none exists. */
async function realpathOfExisting(path: string): Promise<string | null> {
  for (let p = path; ; p = dirname(p)) {
    try {
      return await realpath(p);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) return null;
    }
  }
}

/**
 * The absolute path of the image `key` names under `imagesDir` (whose real path is
 * `realImagesDir`), or a reason it is unsafe. A file that does not exist yet is judged by its
 * nearest existing folder; reading it later reports it missing.
 */
export async function resolveImageKey(
  imagesDir: string,
  realImagesDir: string,
  key: string,
): Promise<{ path: string } | { reason: string }> {
  const lexical = unsafeKeyReason(key);
  if (lexical) return { reason: lexical };
  const path = join(imagesDir, key);
  const real = await realpathOfExisting(path);
  if (real !== null && real !== realImagesDir && !real.startsWith(realImagesDir + sep)) {
    return { reason: `it resolves to ${real}, outside ${realImagesDir}` };
  }
  return { path };
}
