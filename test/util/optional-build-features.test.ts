/**
 * Optional build features (libjpeg, Gloo) found after the addon was built without them:
 * - CMakeLists.txt's detection block, run alone in a tiny Ninja project against a fake system
 *   root: with nothing installed it finds nothing; "installing" the headers there and running
 *   only `cmake --build` (what `cmake-js compile` does on an existing build folder, as `npm ci`
 *   and `npm rebuild` in a checkout do) configures again and finds both.
 * - A Gloo group asked of an addon without Gloo says what to install and which command rebuilds.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { NO_GLOO_MESSAGE, ProcessGroup } from '../../lib/distributed/process-group.js';
import { tempDir } from '../helpers/common.js';

const backends = vi.hoisted(() => ({ gloo: false, nccl: false }));
vi.mock('../../lib/binding.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../lib/binding.js')>();
  return {
    ...actual,
    loadAddon: () => ({
      addon: {
        NativeProcessGroup: Object.assign(
          () => {
            throw new Error('not reached');
          },
          { backends: () => backends },
        ),
      },
    }),
  };
});

const ROOT = join(import.meta.dirname, '..', '..');
const hasTool = (tool: string) => spawnSync(tool, ['--version'], { encoding: 'utf8' }).status === 0;

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('optional headers installed after a build', () => {
  it.skipIf(!hasTool('cmake') || !hasTool('ninja'))(
    'the next `cmake --build` configures again and finds Gloo and libjpeg',
    async () => {
      const lists = await readFile(join(ROOT, 'CMakeLists.txt'), 'utf8');
      const start = lists.indexOf('# >>> optional system headers');
      const end = lists.indexOf('# <<< optional system headers');
      expect(start).toBeGreaterThanOrEqual(0);
      expect(end).toBeGreaterThan(start);
      const project = join(tmp.dir, 'project');
      const build = join(tmp.dir, 'build');
      const root = join(tmp.dir, 'root');
      await mkdir(project);
      await mkdir(join(root, 'usr', 'include'), { recursive: true });
      await mkdir(join(root, 'usr', 'lib'), { recursive: true });
      await writeFile(
        join(project, 'CMakeLists.txt'),
        `cmake_minimum_required(VERSION 3.18)\nproject(probe C)\n${lists.slice(start, end)}\n` +
          `message(STATUS "probe: gloo=[\${GLOO_INCLUDE_DIR}] jpeg=[\${JPEG_FOUND}]")\n` +
          `add_custom_target(probe ALL COMMAND \${CMAKE_COMMAND} -E true)\n`,
      );
      const env = { ...process.env };
      delete env.GLOO_INCLUDE_DIR;
      const run = (args: string[]) => {
        const r = spawnSync('cmake', args, { encoding: 'utf8', env });
        expect(r.status, r.stderr).toBe(0);
        return /probe: gloo=\[(.*)\] jpeg=\[(.*)\]/.exec(r.stdout)?.slice(1);
      };
      // Only the fake root is searched (the machine's own /usr/include may hold both).
      const configured = run([
        '-G',
        'Ninja',
        '-S',
        project,
        '-B',
        build,
        `-DCMAKE_FIND_ROOT_PATH=${root}`,
        '-DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY',
        '-DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY',
      ]);
      expect(configured).toEqual(['GLOO_INCLUDE_DIR-NOTFOUND', 'FALSE']);
      expect(run(['--build', build])).toBeUndefined(); // nothing changed: no configure

      // apt-get install libgloo-dev libjpeg62-turbo-dev, in the fake root; the folder's time moves on.
      await mkdir(join(root, 'usr', 'include', 'gloo'));
      await writeFile(join(root, 'usr', 'include', 'gloo', 'algorithm.h'), '');
      await writeFile(join(root, 'usr', 'include', 'jpeglib.h'), '#define JPEG_LIB_VERSION 62\n');
      await writeFile(join(root, 'usr', 'lib', 'libjpeg.so'), '');
      const later = new Date(Date.now() + 5000);
      await utimes(join(root, 'usr', 'include'), later, later);

      expect(run(['--build', build])).toEqual([join(root, 'usr', 'include'), 'TRUE']);
      const cache = await readFile(join(build, 'CMakeCache.txt'), 'utf8');
      expect(cache).toContain(`GLOO_INCLUDE_DIR:PATH=${join(root, 'usr', 'include')}`);
      expect(run(['--build', build])).toBeUndefined(); // found: no more configures
    },
    60_000,
  );
});

describe('no Gloo in this build', () => {
  it('joining a Gloo group says what to install and which command rebuilds the addon', async () => {
    const error = await ProcessGroup.join({
      rank: 0,
      worldSize: 2,
      localRank: 0,
      masterAddr: '127.0.0.1',
      masterPort: 29500,
      glooInterface: '',
      backend: 'gloo',
      timeoutSeconds: 5,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'VptError', code: 'VPT_DISTRIBUTED', message: NO_GLOO_MESSAGE });
    expect(NO_GLOO_MESSAGE).toContain('no Gloo backend');
    expect(NO_GLOO_MESSAGE).toContain('sudo apt-get install libgloo-dev');
    expect(NO_GLOO_MESSAGE).toContain('GLOO_INCLUDE_DIR');
    expect(NO_GLOO_MESSAGE).toContain('`npx vpt-native setup --force` in a project');
    expect(NO_GLOO_MESSAGE).toContain('`npm run rebuild:native` (or `npm rebuild`) in a vpt-native checkout');
    // The scripts it names exist.
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts['rebuild:native']).toMatch(/cmake-js rebuild/);
  });
});
