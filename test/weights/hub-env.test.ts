/**
 * The hub environment variables read as Python's huggingface_hub reads them: HF_HUB_OFFLINE
 * (else TRANSFORMERS_OFFLINE) is true for 1 / ON / YES / TRUE in any case; the cache folder is
 * HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else HF_HOME/hub, else
 * XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeEach, describe, expect, it } from 'vitest';

import { createModel } from '../../lib/index.js';
import { hubCacheDir, hubOffline } from '../../lib/weights/hub.js';
import { tempDir } from '../helpers/common.js';

const VARS = [
  'HF_HUB_OFFLINE',
  'TRANSFORMERS_OFFLINE',
  'HF_HUB_CACHE',
  'HUGGINGFACE_HUB_CACHE',
  'HF_HOME',
  'XDG_CACHE_HOME',
  'HF_ENDPOINT',
] as const;
const saved = Object.fromEntries(VARS.map((k) => [k, process.env[k]]));

function setEnv(values: Partial<Record<(typeof VARS)[number], string>>): void {
  for (const k of VARS) delete process.env[k];
  Object.assign(process.env, values);
}

beforeEach(() => setEnv({}));
afterAll(() => {
  for (const k of VARS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

describe('HF_HUB_OFFLINE', () => {
  it('is true for 1, ON, YES, TRUE in any case; false otherwise', () => {
    for (const v of ['1', 'ON', 'on', 'Yes', 'YES', 'true', 'TRUE', 'True']) {
      setEnv({ HF_HUB_OFFLINE: v });
      expect(hubOffline(), v).toBe(true);
    }
    for (const v of ['0', 'off', 'false', 'no', '', '2']) {
      setEnv({ HF_HUB_OFFLINE: v });
      expect(hubOffline(), v).toBe(false);
    }
  });

  it('falls back to TRANSFORMERS_OFFLINE when unset or empty', () => {
    setEnv({ TRANSFORMERS_OFFLINE: 'yes' });
    expect(hubOffline()).toBe(true);
    setEnv({ HF_HUB_OFFLINE: '', TRANSFORMERS_OFFLINE: '1' });
    expect(hubOffline()).toBe(true);
    setEnv({ HF_HUB_OFFLINE: '0', TRANSFORMERS_OFFLINE: '1' });
    expect(hubOffline()).toBe(false);
  });

  it('HF_HUB_OFFLINE=true forbids the download of an uncached id, with a message naming the variable', async () => {
    const tmp = await tempDir();
    try {
      // A closed port: a download attempt would fail differently.
      setEnv({ HF_HUB_OFFLINE: 'true', HF_HUB_CACHE: join(tmp.dir, 'cache'), HF_ENDPOINT: 'http://127.0.0.1:9' });
      await expect(
        createModel({ weights: 'timm/not_cached_here', numClasses: 3, device: 'cpu' }),
      ).rejects.toMatchObject({
        code: 'VPT_IO',
        message: expect.stringContaining('HF_HUB_OFFLINE=true forbids downloading it'),
      });
    } finally {
      await tmp.cleanup();
    }
  });
});

describe('the hub cache folder', () => {
  it("follows huggingface_hub's order", () => {
    const all = {
      HF_HUB_CACHE: '/a/hub-cache',
      HUGGINGFACE_HUB_CACHE: '/b/legacy',
      HF_HOME: '/c/hf-home',
      XDG_CACHE_HOME: '/d/xdg',
    };
    setEnv(all);
    expect(hubCacheDir()).toBe('/a/hub-cache');
    setEnv({ ...all, HF_HUB_CACHE: '' });
    expect(hubCacheDir()).toBe('/b/legacy');
    setEnv({ HF_HOME: '/c/hf-home', XDG_CACHE_HOME: '/d/xdg' });
    expect(hubCacheDir()).toBe('/c/hf-home/hub');
    setEnv({ XDG_CACHE_HOME: '/d/xdg' });
    expect(hubCacheDir()).toBe('/d/xdg/huggingface/hub');
    setEnv({});
    expect(hubCacheDir()).toBe(join(homedir(), '.cache', 'huggingface', 'hub'));
  });

  it('expands a leading ~ as Python does', () => {
    setEnv({ HF_HOME: '~/hf' });
    expect(hubCacheDir()).toBe(join(homedir(), 'hf', 'hub'));
    setEnv({ HUGGINGFACE_HUB_CACHE: '~/legacy-cache' });
    expect(hubCacheDir()).toBe(join(homedir(), 'legacy-cache'));
  });
});
