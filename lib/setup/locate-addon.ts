/**
 * Where the addon is loaded from, and — when it cannot be — which of the known situations this
 * is and the one command that fixes it. Used by the loader (lib/binding.ts), `vpt-native info`,
 * `vpt-native setup --check` and ensureAddon().
 *
 * Order: $VPT_NATIVE_ADDON (only that); a local `build/Release/` build; the package's
 * `prebuilds/` file tagged with the LibTorch found now; an optional `@vpt-native/...` package
 * for that LibTorch; the per-user cache entry `vpt-native setup` built for it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';

import {
  chooseLibTorch,
  type LibTorchCandidate,
  libTorchCandidates,
  listPrebuilds,
  MIN_TORCH_VERSION,
  prebuildFolder,
  selectPrebuild,
} from '../prebuild.js';
import {
  ADDON_FILE,
  addonCacheDir,
  addonCacheKey,
  installedPackages,
  listCachedAddons,
  prebuiltPackageName,
  selectPackage,
} from './addon-cache.js';

export type AddonSource = 'VPT_NATIVE_ADDON' | 'build' | 'prebuild' | 'package' | 'cache';

/** A place an addon can be loaded from. */
export interface AddonLocation {
  source: AddonSource;
  path: string;
  /** The LibTorch to load first so the addon binds to it (prebuilt and cached addons). */
  preload?: string;
  /** What it is, for messages. */
  label: string;
}

export type AddonProblemKind =
  | 'scripts-blocked'
  | 'not-built'
  | 'no-libtorch'
  | 'libtorch-too-old'
  | 'prebuild-other-libtorch'
  | 'build-other-libtorch'
  | 'load-failed';

/** Why no addon can be loaded, and the way out. */
export interface AddonProblem {
  kind: AddonProblemKind;
  /** The whole explanation, ending with the fix. */
  message: string;
  /** The one command that fixes it. */
  fix: string;
}

/** Everything the loader looked at. */
export interface AddonSearch {
  packageRoot: string;
  version: string;
  /** Places to load from, in order (usually zero or one). */
  locations: AddonLocation[];
  candidates: LibTorchCandidate[];
  /** The LibTorch an addon is chosen for (and setup would build against). */
  libtorch?: LibTorchCandidate;
  /** Where `vpt-native setup` puts the addon for `libtorch`. */
  cacheDir?: string;
  /** What was looked at, for messages. */
  looked: string[];
  /** Set when `locations` is empty. */
  problem?: AddonProblem;
}

/** A source checkout (not an installed dependency): not inside node_modules, and .git or test/ beside package.json. */
export function isCheckout(packageRoot: string): boolean {
  return (
    !packageRoot.split(sep).includes('node_modules') &&
    (existsSync(join(packageRoot, '.git')) || existsSync(join(packageRoot, 'test')))
  );
}

/** What scripts/install.mjs recorded (install-status.json), undefined when it never ran. */
export function installStatus(packageRoot: string): { action: string; message?: string } | undefined {
  try {
    return JSON.parse(readFileSync(join(packageRoot, 'install-status.json'), 'utf8')) as {
      action: string;
      message?: string;
    };
  } catch {
    return undefined;
  }
}

export const SETUP_COMMAND = 'npx vpt-native setup';

const describe = (c: { version: string; variant: string; root: string; source: string }) =>
  `LibTorch ${c.version} (${c.variant}) at ${c.root} (from ${c.source})`;
const describeShort = (c: { version: string; variant: string; root: string; source: string }) =>
  `${c.version} (${c.variant}) at ${c.root} (from ${c.source})`;

function packageVersion(packageRoot: string): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Looks for an addon of the package at `packageRoot`; never loads anything. */
export function locateAddon(packageRoot: string, env: NodeJS.ProcessEnv = process.env): AddonSearch {
  const version = packageVersion(packageRoot);
  const search: AddonSearch = { packageRoot, version, locations: [], candidates: [], looked: [] };
  if (env.VPT_NATIVE_ADDON) {
    search.locations.push({
      source: 'VPT_NATIVE_ADDON',
      path: env.VPT_NATIVE_ADDON,
      label: `VPT_NATIVE_ADDON=${env.VPT_NATIVE_ADDON}`,
    });
    return search;
  }
  const build = join(packageRoot, 'build', 'Release', ADDON_FILE);
  search.looked.push(join(packageRoot, 'build', 'Release'));
  if (existsSync(build)) search.locations.push({ source: 'build', path: build, label: `the local build ${build}` });

  search.candidates = libTorchCandidates(packageRoot, env);
  const libtorch = chooseLibTorch(search.candidates);
  search.libtorch = libtorch;
  const prebuildFiles = listPrebuilds(packageRoot);
  const folder = prebuildFolder(packageRoot);
  const packages = installedPackages(packageRoot);
  if (prebuildFiles.length > 0) search.looked.push(folder);
  search.looked.push(
    libtorch
      ? `${prebuiltPackageName(libtorch)} (optional package)`
      : `@vpt-native/${process.platform}-${process.arch}-* (optional packages)`,
  );
  if (libtorch && !libtorch.problem) {
    const prebuild = selectPrebuild(prebuildFiles, libtorch, folder).prebuild;
    if (prebuild)
      search.locations.push({
        source: 'prebuild',
        path: join(folder, prebuild.file),
        preload: libtorch.root,
        label: `the prebuilt addon ${prebuild.file}`,
      });
    const pkg = selectPackage(packages, libtorch);
    if (pkg && existsSync(pkg.file))
      search.locations.push({
        source: 'package',
        path: pkg.file,
        preload: libtorch.root,
        label: `the prebuilt package ${pkg.name} (LibTorch ${pkg.torchVersion})`,
      });
    search.cacheDir = addonCacheDir(addonCacheKey(version, libtorch), env);
    search.looked.push(search.cacheDir);
    const cached = join(search.cacheDir, ADDON_FILE);
    if (existsSync(cached))
      search.locations.push({
        source: 'cache',
        path: cached,
        preload: libtorch.root,
        label: `the addon vpt-native setup built in ${search.cacheDir}`,
      });
  }
  if (search.locations.length > 0) return search;

  // Nothing to load: say which situation this is.
  const status = installStatus(packageRoot);
  const blocked = !status && !isCheckout(packageRoot);
  const blockedNote = blocked
    ? [
        "  npm did not run vpt-native's install script (npm >= 11 skips dependency install scripts until",
        '  `npm install-scripts approve vpt-native`); it compiles nothing anyway: `setup` builds the addon.',
      ]
    : [];
  const found =
    search.candidates.length === 0
      ? [
          '  LibTorch found: none (tried $LIBTORCH, $Torch_DIR, an importable Python torch, .deps/torch-cpu, the user cache, system prefixes)',
        ]
      : search.candidates.map(
          (c) =>
            `  LibTorch found: ${describeShort(c)}${c.problem ? ` — ${c.problem}` : ''}${c === libtorch ? '  <- chosen' : ''}`,
        );
  const others = [
    ...prebuildFiles.map((f) => `${folder}/${f}`),
    ...packages.map((p) => `${p.name} (LibTorch ${p.torchVersion}, ${p.variant})`),
    ...listCachedAddons(env).map((k) => addonCacheDir(k, env)),
  ];
  let kind: AddonProblemKind;
  let headline: string;
  let fix = SETUP_COMMAND;
  let fixNote: string;
  if (!libtorch) {
    kind = 'no-libtorch';
    headline = 'no LibTorch was found to build or load the addon against';
    fixNote =
      'installs the CPU LibTorch (torch==2.13.0+cpu, ~200 MB, with your consent; --cuda for a CUDA one) and builds the addon, with progress';
  } else if (libtorch.problem) {
    kind = 'libtorch-too-old';
    headline = `the LibTorch found is unusable: ${describe(libtorch)} is ${libtorch.problem}`;
    fixNote = `installs a LibTorch >= ${MIN_TORCH_VERSION} into the user cache (with your consent) and builds the addon`;
    if (libtorch.source === 'LIBTORCH' || libtorch.source === 'Torch_DIR') {
      fix = `unset ${libtorch.source}; ${SETUP_COMMAND}`;
      fixNote = `or point ${libtorch.source} at a LibTorch >= ${MIN_TORCH_VERSION}`;
    }
  } else if (others.length > 0) {
    const theirs = [...prebuildFiles, ...packages.map((p) => p.name)];
    const sameVersion = theirs.some(
      (n) => n.includes(libtorch.version) || n.includes(`torch${libtorch.version.split('.').slice(0, 2).join('.')}-`),
    );
    kind = theirs.length > 0 ? 'prebuild-other-libtorch' : 'build-other-libtorch';
    headline =
      theirs.length > 0
        ? `the prebuilt addons here are for ${sameVersion ? 'another CPU/CUDA variant' : 'another LibTorch version'}, not ${describe(libtorch)}`
        : `the addons built here are for another LibTorch or vpt-native version, not ${describe(libtorch)}`;
    fixNote = `builds the addon against ${libtorch.root}, with progress, a few minutes`;
  } else if (blocked) {
    kind = 'scripts-blocked';
    headline =
      "the addon was never built: npm did not run vpt-native's install script (npm >= 11 skips dependency install scripts until `npm install-scripts approve vpt-native`; that script compiles nothing anyway)";
    fixNote = `builds the addon against ${libtorch.root}, with progress, a few minutes`;
  } else {
    kind = 'not-built';
    headline = `the addon has not been built for ${describe(libtorch)} yet${status?.action === 'deferred' ? ' (npm install defers it to `setup`)' : ''}`;
    fixNote = `builds the addon against ${libtorch.root}, with progress, a few minutes`;
  }
  if (isCheckout(packageRoot) && libtorch && !libtorch.problem) {
    fixNote += `; in this checkout \`LIBTORCH=${libtorch.root} npm run build:native\` builds build/ instead`;
  }
  const message = [
    `the native addon could not be loaded: ${headline}.`,
    ...(kind === 'scripts-blocked' ? [] : blockedNote),
    ...found,
    ...(others.length > 0 ? [`  addons present, none for this LibTorch: ${others.join(', ')}`] : []),
    `  looked in: ${search.looked.join(', ')}`,
    `Fix: ${fix}    (${fixNote})`,
  ].join('\n');
  search.problem = { kind, message, fix };
  return search;
}

/** The explanation when `location` exists but does not load. */
export function explainLoadError(search: AddonSearch, location: AddonLocation, error: Error): AddonProblem {
  let builtAgainst = '';
  let kind: AddonProblemKind = 'load-failed';
  const info =
    location.source === 'build'
      ? join(search.packageRoot, 'build', 'vpt-build.json')
      : join(location.path, '..', 'vpt-build.json');
  if (existsSync(info)) {
    try {
      const b = JSON.parse(readFileSync(info, 'utf8')) as { torchVersion: string; torchRoot: string; cuda: boolean };
      const gone = !existsSync(join(b.torchRoot, 'lib'));
      builtAgainst = `  built against: LibTorch ${b.torchVersion} (${b.cuda ? 'CUDA' : 'CPU'}) at ${b.torchRoot}${gone ? ' — that folder no longer exists' : ''}`;
      if (gone || (search.libtorch && !b.torchVersion.startsWith(search.libtorch.version)))
        kind = 'build-other-libtorch';
    } catch {
      builtAgainst = `  built against: unreadable ${info}`;
    }
  }
  const lt = search.libtorch;
  const fix =
    location.source === 'build' && isCheckout(search.packageRoot)
      ? `${lt && !lt.problem ? `LIBTORCH=${lt.root} ` : ''}npm run rebuild:native`
      : location.source === 'VPT_NATIVE_ADDON'
        ? 'unset VPT_NATIVE_ADDON'
        : `${SETUP_COMMAND}${location.source === 'cache' ? ' --force' : ''}`;
  const message = [
    `the native addon could not be loaded: ${location.label} fails to load${kind === 'build-other-libtorch' ? ' (built for another LibTorch)' : ''}.`,
    `  error: ${error.message.split('\n')[0]}`,
    ...(builtAgainst ? [builtAgainst] : []),
    `  LibTorch now: ${lt ? `${describe(lt)}${lt.problem ? ` — ${lt.problem}` : ''}` : 'none found'}`,
    `  environment: ${process.env.LIBTORCH ? `LIBTORCH=${process.env.LIBTORCH}` : 'LIBTORCH is not set'}`,
    `Fix: ${fix}    (rebuilds the addon against the LibTorch found now)`,
  ].join('\n');
  return { kind, message, fix };
}
