/**
 * The per-user addon cache `vpt-native setup` builds into, and the optional per-variant
 * packages that ship prebuilt addons (sharp's pattern):
 *
 *   $XDG_CACHE_HOME/vpt-native/<version>-<platform>-<arch>-torch<torch>-<variant>/vpt_native.node
 *   $XDG_CACHE_HOME/vpt-native/libtorch/<variant>/torch            (a wheel setup installed)
 *   node_modules/@vpt-native/<platform>-<arch>-torch<major.minor>-<variant>/vpt_native.node
 *
 * Pure path and naming logic plus directory listing; lib/setup/locate-addon.ts decides.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { type LibTorchBuild, userCacheRoot } from '../prebuild.js';

/** The file name of the addon inside a cache entry or an optional package. */
export const ADDON_FILE = 'vpt_native.node';
/** The scope of the optional prebuilt packages. */
export const PACKAGE_SCOPE = '@vpt-native';

/** `0.1.0-linux-x64-torch2.13.0-cpu`: one cache entry per vpt-native version, platform, LibTorch version and variant. */
export function addonCacheKey(
  version: string,
  build: LibTorchBuild,
  platform: string = process.platform,
  arch: string = process.arch,
): string {
  return `${version}-${platform}-${arch}-torch${build.version}-${build.variant}`;
}

/** The cache folder of `key`: it holds vpt_native.node, vpt-build.json and setup.json. */
export function addonCacheDir(key: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(userCacheRoot(env), key);
}

/** Cache entries holding an addon, for any version or LibTorch (to say what is there). */
export function listCachedAddons(env: NodeJS.ProcessEnv = process.env): string[] {
  const root = userCacheRoot(env);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((key) => existsSync(join(root, key, ADDON_FILE)))
    .sort();
}

/** `2.13.0` -> `2.13`. */
export function majorMinor(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

/**
 * The optional package holding the prebuilt addon for `build`.
 * @example
 * ```ts
 * prebuiltPackageName({ version: '2.13.0', variant: 'cu130' }, 'linux', 'x64'); // '@vpt-native/linux-x64-torch2.13-cu130'
 * ```
 */
export function prebuiltPackageName(
  build: LibTorchBuild,
  platform: string = process.platform,
  arch: string = process.arch,
): string {
  return `${PACKAGE_SCOPE}/${platform}-${arch}-torch${majorMinor(build.version)}-${build.variant}`;
}

/** An installed optional prebuilt package. */
export interface PrebuiltPackage {
  name: string;
  dir: string;
  /** The exact LibTorch release it was built against. */
  torchVersion: string;
  variant: string;
  file: string;
}

/**
 * The `@vpt-native/<platform>-<arch>-*` packages Node's resolution would find from
 * `packageRoot` (its own node_modules, then each parent's), the nearest of each name first.
 */
export function installedPackages(
  packageRoot: string,
  platform: string = process.platform,
  arch: string = process.arch,
): PrebuiltPackage[] {
  const require = createRequire(join(packageRoot, 'package.json'));
  const dirs = require.resolve.paths(`${PACKAGE_SCOPE}/x`) ?? [];
  const seen = new Set<string>();
  const out: PrebuiltPackage[] = [];
  for (const modules of dirs) {
    const scope = join(modules, PACKAGE_SCOPE);
    if (!existsSync(scope)) continue;
    for (const entry of readdirSync(scope).sort()) {
      const name = `${PACKAGE_SCOPE}/${entry}`;
      if (seen.has(name) || !entry.startsWith(`${platform}-${arch}-`)) continue;
      const dir = join(scope, entry);
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
          vptNative?: { torchVersion?: string; variant?: string; file?: string };
        };
        const meta = pkg.vptNative;
        if (!meta?.torchVersion || !meta.variant) continue;
        seen.add(name);
        out.push({
          name,
          dir,
          torchVersion: meta.torchVersion,
          variant: meta.variant,
          file: join(dir, meta.file ?? ADDON_FILE),
        });
      } catch {
        // not a vpt-native prebuilt package
      }
    }
  }
  return out;
}

/**
 * The installed package that serves `libtorch`: same variant and LibTorch major.minor (patch
 * releases keep LibTorch's C++ ABI), the exact release preferred.
 */
export function selectPackage(
  packages: readonly PrebuiltPackage[],
  libtorch: LibTorchBuild,
): PrebuiltPackage | undefined {
  const fits = packages.filter(
    (p) => p.variant === libtorch.variant && majorMinor(p.torchVersion) === majorMinor(libtorch.version),
  );
  return fits.find((p) => p.torchVersion === libtorch.version) ?? fits[0];
}
