/**
 * sharp with libvips' operation cache off, for every image vpt-native decodes, encodes or renders.
 * No operation here runs twice on the same input (each image, upload and chart is new), so the
 * cache only held memory: it keeps the last 100 operations with their inputs, and a run's
 * curves.png renders, whose SVG grows with every epoch, made that memory grow epoch after epoch
 * (bench/soak-train.mjs, bench/RESULTS.md). The setting is libvips-wide: it holds for other
 * users of the same sharp in the process too.
 */
import sharp from 'sharp';

sharp.cache(false);

export default sharp;
