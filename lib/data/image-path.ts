/**
 * Path safety for dataset entries. A JSON key (or an `images.txt` path) names a file under the
 * image root; one that is absolute, has a `..` segment, or resolves (through symlinks) outside
 * the root is rejected, so a dataset file cannot make the loader read arbitrary files. The root
 * is `images/` (itself possibly a link); a key under a link directly in `images/` that the
 * dataset's splits.json names in `imageFolders` (the folder of links `prepare cars` writes:
 * `images/cars_train -> ../../cars_train`) must stay inside that link's target instead. Other
 * links in `images/` (one an image archive brought along) are no way out.
 */
import { lstat, realpath, stat } from 'node:fs/promises';
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
 * `realImagesDir`), or a reason it is unsafe. `linkedRoots` maps the names of trusted links directly
 * in `imagesDir` to their real paths (linkedImageRoots): a key under one must stay inside that. A file that does not
 * exist yet is judged by its nearest existing folder; reading it later reports it missing.
 */
export async function resolveImageKey(
  imagesDir: string,
  realImagesDir: string,
  key: string,
  linkedRoots?: ReadonlyMap<string, string>,
): Promise<{ path: string } | { reason: string }> {
  const lexical = unsafeKeyReason(key);
  if (lexical) return { reason: lexical };
  const path = join(imagesDir, key);
  const real = await realpathOfExisting(path);
  const top = key.split(/[\\/]/)[0]!;
  const root = (top !== key && linkedRoots?.get(top)) || realImagesDir;
  if (real !== null && real !== root && !real.startsWith(root + sep)) {
    return { reason: `it resolves to ${real}, outside ${root}` };
  }
  return { path };
}

/**
 * The real paths of the links directly in `imagesDir` named by `names` (splits.json's
 * `imageFolders`) that lead to folders; other names are left out.
 */
export async function linkedImageRoots(imagesDir: string, names: readonly string[]): Promise<Map<string, string>> {
  const roots = new Map<string, string>();
  for (const name of names) {
    if (unsafeKeyReason(name) !== null || /[\\/]/.test(name) || name === '.') continue;
    const link = join(imagesDir, name);
    const isLink = await lstat(link).then(
      (s) => s.isSymbolicLink(),
      () => false,
    );
    if (!isLink) continue;
    const real = await realpath(link).catch(() => null);
    if (real === null) continue;
    if (
      await stat(real).then(
        (s) => s.isDirectory(),
        () => false,
      )
    )
      roots.set(name, real);
  }
  return roots;
}
