/**
 * Hugging Face hub ids (`timm/vit_base_patch16_224.augreg_in21k`) as weights: resolved in the
 * standard local cache first (found as Python's huggingface_hub finds it: `HF_HUB_CACHE`, else
 * `HUGGINGFACE_HUB_CACHE`, else `HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
 * `~/.cache/huggingface/hub`; the same layout, so both share it), else downloaded with the
 * official `@huggingface/hub` client into that same layout, with progress and an integrity check
 * (sha256 of LFS files, git blob sha1 of the others).
 * `HF_ENDPOINT` points at another hub; `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`) set to 1, ON,
 * YES or TRUE (any case, as huggingface_hub reads it) forbids downloads; `HF_TOKEN` is sent.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, isAbsolute, join, sep } from 'node:path';

import { downloadFileToCacheDir } from '@huggingface/hub';

import { ErrorCode, VptError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';

/** Files a timm model folder needs. */
export const HUB_FILES = ['config.json', 'model.safetensors'] as const;

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;
const COMMIT = /^[0-9a-f]{40}$/;

/** Progress of one file's download. */
export interface DownloadProgress {
  file: string;
  received: number;
  total: number | null;
}

export interface HubOptions {
  onProgress?: (p: DownloadProgress) => void;
}

/** Weights file extensions: a name ending so is a file name, never a hub id. */
const WEIGHTS_EXTENSION = /\.(safetensors|npz)$/i;

/**
 * True when `weights`, which does not exist, is meant as a local path: it starts with `./`,
 * `../`, `/` or `~`, its first segment is an existing folder (`models/vit_b16` with a `models/`
 * folder), or it ends with `.safetensors` or `.npz`.
 */
export function looksLikeLocalPath(weights: string): boolean {
  if (/^\.{1,2}([/\\]|$)/.test(weights) || isAbsolute(weights) || weights.startsWith('~')) return true;
  if (WEIGHTS_EXTENSION.test(weights)) return true;
  const first = weights.split(/[/\\]/)[0]!;
  return (
    weights.length > first.length && first !== '' && statSync(first, { throwIfNoEntry: false })?.isDirectory() === true
  );
}

/** True for `org/name` ids that are not an existing local path nor look like one. */
export function looksLikeHubId(weights: string): boolean {
  return HUB_ID.test(weights) && !existsSync(weights) && !looksLikeLocalPath(weights);
}

/** An environment variable, unset when empty. */
function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** `~` and `~/...` expanded to the home folder, as Python's `os.path.expanduser`. */
function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

/** True when huggingface_hub reads the variable as true: 1, ON, YES or TRUE, in any case. */
function envTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.toUpperCase());
}

/** Whether downloads are forbidden: `HF_HUB_OFFLINE`, else `TRANSFORMERS_OFFLINE`, as huggingface_hub reads them. */
export function hubOffline(): boolean {
  return envTrue(env('HF_HUB_OFFLINE') ?? env('TRANSFORMERS_OFFLINE'));
}

/**
 * The hub cache folder, in huggingface_hub's order: `HF_HUB_CACHE`, `HUGGINGFACE_HUB_CACHE`,
 * `HF_HOME/hub`, `XDG_CACHE_HOME/huggingface/hub`, `~/.cache/huggingface/hub`.
 */
export function hubCacheDir(): string {
  const explicit = env('HF_HUB_CACHE') ?? env('HUGGINGFACE_HUB_CACHE');
  if (explicit) return expandHome(explicit);
  const home = env('HF_HOME') ?? join(expandHome(env('XDG_CACHE_HOME') ?? join(homedir(), '.cache')), 'huggingface');
  return join(expandHome(home), 'hub');
}

function repoFolder(id: string): string {
  return join(hubCacheDir(), `models--${id.split('/').join('--')}`);
}

async function hasAll(dir: string): Promise<boolean> {
  for (const f of HUB_FILES) if (!existsSync(join(dir, f))) return false;
  return true;
}

/** The cached snapshot folder holding every needed file, or undefined. */
async function cachedSnapshot(id: string): Promise<string | undefined> {
  const folder = repoFolder(id);
  try {
    const ref = (await readFile(join(folder, 'refs', 'main'), 'utf8')).trim();
    if (COMMIT.test(ref) && (await hasAll(join(folder, 'snapshots', ref)))) return join(folder, 'snapshots', ref);
  } catch {
    // no refs/main: fall back to any complete snapshot, newest first
  }
  let names: string[];
  try {
    names = await readdir(join(folder, 'snapshots'));
  } catch {
    return undefined;
  }
  const complete: Array<{ dir: string; mtime: number }> = [];
  for (const n of names) {
    const dir = join(folder, 'snapshots', n);
    if (await hasAll(dir)) complete.push({ dir, mtime: (await stat(dir)).mtimeMs });
  }
  return complete.sort((a, b) => b.mtime - a.mtime)[0]?.dir;
}

async function digest(path: string, algorithm: 'sha256' | 'sha1', prefix?: Buffer): Promise<string> {
  const hash = createHash(algorithm);
  if (prefix) hash.update(prefix);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Checks a downloaded blob against its name (the hub's etag); removes it when it fails. */
async function verifyBlob(pointer: string, file: string): Promise<void> {
  const blob = await realpath(pointer);
  const etag = basename(blob);
  let actual: string | undefined;
  if (/^[0-9a-f]{64}$/.test(etag)) actual = await digest(blob, 'sha256');
  else if (/^[0-9a-f]{40}$/.test(etag))
    actual = await digest(blob, 'sha1', Buffer.from(`blob ${(await stat(blob)).size}\0`));
  if (actual !== undefined && actual !== etag) {
    await rm(pointer, { force: true });
    await rm(blob, { force: true });
    throw new VptError(
      ErrorCode.Weights,
      `download of ${file} failed its integrity check (expected ${etag}, got ${actual}); it was removed, try again`,
    );
  }
}

/** A fetch that reports the bytes of file bodies as they arrive. */
function progressFetch(file: string, onProgress?: (p: DownloadProgress) => void): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    const ranged = new Headers(init?.headers).get('Range') === 'bytes=0-0';
    if (!onProgress || ranged || !response.body || (init?.method ?? 'GET') !== 'GET') return response;
    const total = Number(response.headers.get('content-length')) || null;
    let received = 0;
    const counted = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          received += chunk.byteLength;
          onProgress({ file, received, total });
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

/**
 * Returns a local folder with `config.json` + `model.safetensors` for hub id `id`, downloading
 * into the shared cache when needed.
 * @example
 * ```ts
 * const dir = await resolveHubWeights('timm/vit_base_patch16_224.augreg_in21k');
 * ```
 */
export async function resolveHubWeights(id: string, options: HubOptions = {}): Promise<string> {
  const cached = await cachedSnapshot(id);
  if (cached) return cached;
  if (hubOffline()) {
    const name = env('HF_HUB_OFFLINE') !== undefined ? 'HF_HUB_OFFLINE' : 'TRANSFORMERS_OFFLINE';
    throw new VptError(
      ErrorCode.Io,
      `${id} is not in the Hugging Face cache (${hubCacheDir()}) and ${name}=${process.env[name]} forbids downloading it`,
    );
  }
  const hubUrl = env('HF_ENDPOINT') ?? 'https://huggingface.co';
  const cacheDir = hubCacheDir();
  await mkdir(cacheDir, { recursive: true });
  let snapshot: string | undefined;
  // The client logs each download with console.debug (stdout), which would corrupt `--json`.
  const debug = console.debug;
  console.debug = () => undefined;
  try {
    for (const file of HUB_FILES) {
      snapshot = join(await downloadOne(id, file, cacheDir, hubUrl, options), '..');
    }
  } finally {
    console.debug = debug;
  }
  // Python's huggingface_hub finds snapshots through refs/<revision>; the JS client does not write it.
  const commit = snapshot!.split(sep).pop()!;
  if (COMMIT.test(commit)) {
    await mkdir(join(repoFolder(id), 'refs'), { recursive: true });
    await writeFileAtomic(join(repoFolder(id), 'refs', 'main'), [Buffer.from(commit)]);
  }
  return snapshot!;
}

/** Downloads one file into the cache (or finds it there) and verifies it; returns its snapshot path. */
async function downloadOne(
  id: string,
  file: string,
  cacheDir: string,
  hubUrl: string,
  options: HubOptions,
): Promise<string> {
  let pointer: string;
  try {
    pointer = await downloadFileToCacheDir({
      repo: { type: 'model', name: id },
      path: file,
      revision: 'main',
      cacheDir,
      hubUrl,
      fetch: progressFetch(file, options.onProgress),
      ...(process.env.HF_TOKEN ? { accessToken: process.env.HF_TOKEN } : {}),
    });
  } catch (error) {
    throw new VptError(ErrorCode.Io, `cannot download ${file} of ${id} from ${hubUrl}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  await verifyBlob(pointer, file);
  return pointer;
}
