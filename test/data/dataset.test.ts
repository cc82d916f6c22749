/**
 * VPT-style datasets: one label map from the training split for every split, class names,
 * and path safety (absolute keys, `..`, symlinks out of the image root).
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { openDataset } from '../../lib/index.js';
import { tempDir } from '../helpers/common.js';
import { writeJpeg } from '../helpers/data.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
  await mkdir(join(tmp.dir, 'images'), { recursive: true });
});
afterEach(async () => {
  await tmp.cleanup();
});

const writeSplit = (name: string, entries: Record<string, unknown>) =>
  writeFile(join(tmp.dir, `${name}.json`), JSON.stringify(entries, null, 4));

describe('openDataset', () => {
  it('maps the sorted class ids of the training split to 0..C-1 for every split', async () => {
    await writeSplit('train', { 'c/9.jpg': 9, 'a/3.jpg': 3, 'b/7.jpg': 7, 'a/3b.jpg': 3 });
    await writeSplit('val', { 'b/7v.jpg': 7, 'c/9v.jpg': 9 });
    await writeSplit('test', { 'a/3t.jpg': 3 });
    const d = await openDataset(tmp.dir);
    expect(d.numClasses).toBe(3);
    expect(d.classIds).toEqual([3, 7, 9]);
    expect(d.classNames).toEqual(['3', '7', '9']);
    expect(d.splits.train!.map((s) => [s.key, s.label])).toEqual([
      ['c/9.jpg', 2],
      ['a/3.jpg', 0],
      ['b/7.jpg', 1],
      ['a/3b.jpg', 0],
    ]);
    expect(d.splits.val!.map((s) => s.label)).toEqual([1, 2]);
    expect(d.splits.test!.map((s) => s.label)).toEqual([0]);
    expect(d.splits.train![0]!.path).toBe(join(tmp.dir, 'images', 'c', '9.jpg'));
  });

  it('a val/test class the training split lacks is an error naming it (no per-split maps)', async () => {
    await writeSplit('train', { 'a.jpg': 1, 'b.jpg': 3 });
    await writeSplit('val', { 'c.jpg': 1, 'd.jpg': 2 });
    await expect(openDataset(tmp.dir)).rejects.toMatchObject({
      code: 'VPT_DATA',
      message: expect.stringMatching(
        /val\.json: 1 problem\(s\):\n {2}"d\.jpg": class id 2 does not occur in train\.json/,
      ),
    });
  });

  it('takes class names from classes.txt', async () => {
    await writeSplit('train', { 'a.jpg': 1, 'b.jpg': 2 });
    await writeFile(
      join(tmp.dir, 'classes.txt'),
      '1 001.Black_footed_Albatross\n2 002.Laysan_Albatross\n3 003.Sooty_Albatross\n',
    );
    expect((await openDataset(tmp.dir)).classNames).toEqual(['001.Black_footed_Albatross', '002.Laysan_Albatross']);
  });

  it('explains a missing or malformed split file', async () => {
    await expect(openDataset(tmp.dir)).rejects.toMatchObject({
      code: 'VPT_DATA',
      message: expect.stringContaining('vpt-native prepare <dataset>'),
    });
    await writeFile(join(tmp.dir, 'train.json'), '{"a.jpg": 1,');
    await expect(openDataset(tmp.dir)).rejects.toMatchObject({
      code: 'VPT_DATA',
      message: expect.stringContaining('train.json is not valid JSON'),
    });
    await writeSplit('train', { 'a.jpg': 1, 'b.jpg': 'two', 'c.jpg': 1.5 });
    await expect(openDataset(tmp.dir)).rejects.toMatchObject({
      code: 'VPT_DATA',
      message: expect.stringMatching(/"b\.jpg": class id "two"[\s\S]*"c\.jpg": class id 1\.5/),
    });
    await expect(openDataset(join(tmp.dir, 'images'))).rejects.toMatchObject({
      code: 'VPT_DATA',
      message: expect.stringContaining('no images/ folder'),
    });
  });
});

describe('path safety', () => {
  const unsafe = [
    ['an absolute path', '/etc/passwd', 'absolute'],
    ['a Windows absolute path', 'C:\\Windows\\win.ini', 'absolute'],
    ['a parent segment', '../secret.jpg', '".."'],
    ['a parent segment inside', 'a/../../secret.jpg', '".."'],
    ['a backslash parent segment', 'a\\..\\..\\secret.jpg', '".."'],
  ] as const;
  for (const [name, key, reason] of unsafe) {
    it(`rejects ${name}`, async () => {
      await writeSplit('train', { 'ok.jpg': 1, [key]: 1 });
      await expect(openDataset(tmp.dir)).rejects.toMatchObject({
        code: 'VPT_DATA',
        message: expect.stringContaining(`"${key}" is rejected: it`),
      });
      await expect(openDataset(tmp.dir)).rejects.toThrow(reason);
    });
  }

  it('rejects keys that resolve outside images/ through a symlink, file or folder', async () => {
    await writeJpeg(join(tmp.dir, 'outside', 'secret.jpg'), 8, 8);
    await symlink(join(tmp.dir, 'outside', 'secret.jpg'), join(tmp.dir, 'images', 'link.jpg'));
    await symlink(join(tmp.dir, 'outside'), join(tmp.dir, 'images', 'linkdir'));
    await writeSplit('train', { 'link.jpg': 1 });
    await expect(openDataset(tmp.dir)).rejects.toMatchObject({
      code: 'VPT_DATA',
      message: expect.stringContaining(
        `"link.jpg" is rejected: it resolves to ${join(tmp.dir, 'outside', 'secret.jpg')}`,
      ),
    });
    await writeSplit('train', { 'linkdir/secret.jpg': 1 });
    await expect(openDataset(tmp.dir)).rejects.toThrow(/"linkdir\/secret\.jpg" is rejected: it resolves to .*outside/);
    await writeSplit('train', { 'linkdir/not-there.jpg': 1 });
    await expect(openDataset(tmp.dir)).rejects.toThrow(/"linkdir\/not-there\.jpg" is rejected/);
  });

  it("trusts a link directly in images/ only when splits.json's imageFolders names it (prepare cars)", async () => {
    await writeJpeg(join(tmp.dir, 'outside', 'a.jpg'), 8, 8);
    await writeJpeg(join(tmp.dir, 'secret.jpg'), 8, 8);
    await symlink(join(tmp.dir, 'outside'), join(tmp.dir, 'images', 'linkdir'));
    await symlink(join(tmp.dir, 'outside', 'a.jpg'), join(tmp.dir, 'images', 'link.jpg'));
    await symlink(tmp.dir, join(tmp.dir, 'outside', 'up'));
    await writeSplit('train', { 'linkdir/a.jpg': 1 });
    await expect(openDataset(tmp.dir)).rejects.toThrow(/"linkdir\/a\.jpg" is rejected/);
    await writeFile(join(tmp.dir, 'splits.json'), JSON.stringify({ imageFolders: ['linkdir', 'link.jpg', '..'] }));
    expect((await openDataset(tmp.dir)).splits.train![0]!.path).toBe(join(tmp.dir, 'images', 'linkdir', 'a.jpg'));
    // Inside a trusted link, keys still may not leave its target, and a file link is no folder.
    for (const key of ['linkdir/up/secret.jpg', 'link.jpg']) {
      await writeSplit('train', { [key]: 1 });
      await expect(openDataset(tmp.dir)).rejects.toThrow(/is rejected: it resolves to .*, outside /);
    }
  });

  it('accepts symlinks that stay inside images/, and files that do not exist yet', async () => {
    await writeJpeg(join(tmp.dir, 'images', 'real', 'a.jpg'), 8, 8);
    await symlink(join(tmp.dir, 'images', 'real', 'a.jpg'), join(tmp.dir, 'images', 'alias.jpg'));
    await writeSplit('train', { 'alias.jpg': 1, 'real/a.jpg': 1, 'missing/b.jpg': 2 });
    const d = await openDataset(tmp.dir);
    expect(d.splits.train!.map((s) => s.key)).toEqual(['alias.jpg', 'real/a.jpg', 'missing/b.jpg']);
  });
});
