// Host memory (RSS) one more trial model takes in a tune group: with its own backbone copy
// (createModel, as tune's groups did before) against sharing the group's backbone
// (createModelSharingBackbone, as they do now). Each way runs in a fresh process, so memory one
// way freed cannot be reused by the other; a warm-up model is made and disposed first, so the
// one-time costs (addon, LibTorch pools) are not counted.
//   npm run build:ts && node bench/shared-backbone-rss.mjs [extraModels=4]
// Backbones: the demo's tiny random ViT (96 wide, 4 blocks, as bench/tune-grid.mjs) and a random
// ViT-B/16 at 224 px (86M parameters, 330 MiB in float32).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const { createModel, createModelSharingBackbone } = await import(join(dist, 'lib/model/create-model.js'));
const { writeRandomBackbone, DEMO_BACKBONE } = await import(join(dist, 'lib/demo/random-backbone.js'));

const VIT_B = { embedDim: 768, depth: 12, numHeads: 12, patchSize: 16, imgSize: 224, seed: 1 };
const mib = (b) => b / 2 ** 20;

if (process.argv[2] === '--child') {
  // One way in this process: node bench/shared-backbone-rss.mjs --child <weights> <imgSize> <own|shared> <k>
  const [, , , weights, imgSize, way, k] = process.argv;
  const options = (seed) => ({
    weights,
    numClasses: 200,
    imageSize: Number(imgSize),
    prompt: { tokens: 10, deep: true },
    device: 'cpu',
    seed,
  });
  (await createModel(options(0))).dispose();
  const source = await createModel(options(1));
  const before = process.memoryUsage().rss;
  const models = [];
  for (let i = 0; i < Number(k); i++)
    models.push(
      await (way === 'shared' ? createModelSharingBackbone(options(i + 2), source) : createModel(options(i + 2))),
    );
  const perModel = (process.memoryUsage().rss - before) / Number(k);
  const info = models[0].info();
  console.log(JSON.stringify({ perModel, backboneBytes: info.backboneBytes, shared: info.backboneShared }));
  for (const m of [source, ...models]) m.dispose();
} else {
  const k = Number(process.argv[2] ?? 4);
  const dir = await mkdtemp(join(tmpdir(), 'vpt-rss-'));
  try {
    const rows = [];
    for (const [name, arch] of [
      ['tiny ViT (demo)', DEMO_BACKBONE],
      ['ViT-B/16, 224 px', VIT_B],
    ]) {
      const weights = await writeRandomBackbone(join(dir, name.split(' ')[0]), arch);
      const run = async (way) => {
        const { stdout } = await promisify(execFile)(
          process.execPath,
          [fileURLToPath(import.meta.url), '--child', weights, String(arch.imgSize), way, String(k)],
          { maxBuffer: 1 << 20 },
        );
        return JSON.parse(stdout.trim().split('\n').at(-1));
      };
      const own = await run('own');
      const shared = await run('shared');
      rows.push({ name, backbone: own.backboneBytes, own: own.perModel, shared: shared.perModel });
    }
    console.log(
      `| backbone | backbone MiB | RSS per extra model, own copy (MiB) | RSS per extra model, shared (MiB) | saved |`,
    );
    console.log('| --- | ---: | ---: | ---: | ---: |');
    for (const r of rows)
      console.log(
        `| ${r.name} | ${mib(r.backbone).toFixed(2)} | ${mib(r.own).toFixed(1)} | ${mib(r.shared).toFixed(1)} | ${mib(r.own - r.shared).toFixed(1)} MiB |`,
      );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
