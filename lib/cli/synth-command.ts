/** `vpt-native synth <dir>`: a small synthetic dataset in CUB-200-2011's raw layout. */
import type { Command } from 'commander';

import { synthesizeCub } from '../data/synth.js';

export function registerSynthCommand(program: Command): void {
  program
    .command('synth')
    .argument(
      '<dir>',
      'folder to write (images/, images.txt, train_test_split.txt, image_class_labels.txt, classes.txt)',
    )
    .description('write a synthetic dataset with visually learnable classes, in the raw CUB layout')
    .option('--classes <n>', 'classes, 2..50 (10)', Number)
    .option('--images-per-class <n>', 'images per class (30)', Number)
    .option('--image-size <px>', 'side of the square images (64)', Number)
    .option('--train-fraction <f>', 'share of each class marked is_training (0.8)', Number)
    .option('--seed <n>', 'seed (0)', Number)
    .option('--noise <levels>', 'pixel noise, +-levels/2 per channel, 0..255 (24): more is harder', Number)
    .option(
      '--hue-jitter <f>',
      "spread of a class's background hue, of the colour wheel (0.03): 0.1+ is harder",
      Number,
    )
    .option('--force', 'write into a folder holding a dataset synth did not make')
    .addHelpText('after', '\nExample:\n  $ vpt-native synth data/synth && vpt-native prepare-cub data/synth')
    .action(
      async (
        dir: string,
        f: {
          classes?: number;
          imagesPerClass?: number;
          imageSize?: number;
          trainFraction?: number;
          seed?: number;
          noise?: number;
          hueJitter?: number;
          force?: boolean;
        },
      ) => {
        const r = await synthesizeCub(dir, {
          ...(f.classes !== undefined ? { classes: f.classes } : {}),
          ...(f.imagesPerClass !== undefined ? { imagesPerClass: f.imagesPerClass } : {}),
          ...(f.imageSize !== undefined ? { imageSize: f.imageSize } : {}),
          ...(f.trainFraction !== undefined ? { trainFraction: f.trainFraction } : {}),
          ...(f.seed !== undefined ? { seed: f.seed } : {}),
          ...(f.noise !== undefined ? { noise: f.noise } : {}),
          ...(f.hueJitter !== undefined ? { hueJitter: f.hueJitter } : {}),
          force: f.force === true,
        });
        process.stdout.write(
          `${r.images} images of ${r.classes} classes in ${r.root}\nnext: vpt-native prepare-cub ${dir}\n`,
        );
      },
    );
}
