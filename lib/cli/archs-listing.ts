/**
 * `vpt-native info --archs`: the timm ViT names vpt-native builds (lib/weights/timm-archs.ts),
 * one a line with family, patch, image size, width, depth and pooling; then how many registered
 * names it does not build. `--json` gives every name, with the reason for those it does not.
 */
import { listArchitectures, parseArch } from '../weights/architecture.js';
import { SWIN_ARCHS } from '../weights/swin-archs.js';
import { TIMM_VERSION } from '../weights/timm-archs.js';

/** The Swin V1 names (VPT's prompted Swin, lib/weights/swin-archs.ts), with their stages. */
function swinRows() {
  return Object.entries(SWIN_ARCHS).map(([name, a]) => ({
    name,
    family: 'Swin',
    patch: a.patchSize,
    imgSize: a.imgSize,
    window: a.windowSize,
    embedDim: a.embedDim,
    depths: a.depths,
    tags: a.tags,
  }));
}

export function archsListing(json: boolean): string {
  const all = listArchitectures();
  const supported = all.filter((a) => a.supported);
  const rows = supported.map((a) => {
    const v = parseArch(a.name);
    return {
      name: a.name,
      family: a.family,
      patch: v.patchSize,
      imgSize: v.imgSize,
      embedDim: v.embedDim,
      depth: v.depth,
      pool: v.globalPool,
      prefixTokens: (v.classToken ? 1 : 0) + (v.distToken ? 1 : 0) + v.regTokens,
    };
  });
  if (json) {
    const unsupported = all.filter((a) => !a.supported).map(({ name, family, reason }) => ({ name, family, reason }));
    return `${JSON.stringify({ timm: TIMM_VERSION, supported: rows, unsupported, swin: swinRows() }, null, 2)}\n`;
  }
  const width = Math.max(...rows.map((r) => r.name.length));
  const lines = rows.map(
    (r) =>
      `${r.name.padEnd(width)}  ${r.family.padEnd(8)}  patch ${String(r.patch).padStart(2)}  ${String(r.imgSize).padStart(3)} px  ` +
      `D ${String(r.embedDim).padStart(4)}  depth ${String(r.depth).padStart(2)}  pool ${r.pool}`,
  );
  const swin = swinRows();
  const swinWidth = Math.max(...swin.map((r) => r.name.length));
  lines.push(
    '',
    ...swin.map(
      (r) =>
        `${r.name.padEnd(swinWidth)}  Swin      patch ${String(r.patch).padStart(2)}  ${String(r.imgSize).padStart(3)} px  ` +
        `window ${String(r.window).padStart(2)}  C ${String(r.embedDim).padStart(3)}  depths ${r.depths.join('-')}  pool avg  tags ${r.tags.join(', ')}`,
    ),
  );
  const skipped = all.length - rows.length;
  lines.push(
    '',
    `${rows.length} timm ${TIMM_VERSION} ViT names and ${swin.length} Swin V1 names (VPT's prompted Swin); ${skipped} more are registered but not built by vpt-native (EVA-02 CLIP towers, RmsNorm, parallel blocks, ...): --json gives the reason for each.`,
    'Add a pretrained tag for its mean / std, e.g. vit_small_patch14_dinov2.lvd142m; prompts are prefix tokens after the class and register tokens.',
  );
  return `${lines.join('\n')}\n`;
}
