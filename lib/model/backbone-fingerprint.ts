/**
 * A trainable state is bound to its backbone: the file records the backbone it was trained on
 * (`__metadata__.vpt.backbone`) and is refused on any other (VPT_BACKBONE, naming both).
 *
 * `shapes` and `weights` are FNV-1a 64 hashes computed natively as the backbone is loaded
 * (native/model/backbone_fingerprint.h): of its tensors' names and shapes, and of their values
 * rounded to bfloat16, so a bfloat16-stored backbone is the same backbone as its float32 source.
 */
import type { NativeBackboneFingerprint } from '../binding.js';
import { ErrorCode, VptError } from '../errors.js';

/** `__metadata__.vpt.backbone` of a trainable-state file. */
export interface BackboneFingerprint extends NativeBackboneFingerprint {
  /** The timm architecture (with its pretrained tag when known). */
  arch: string;
}

/**
 * Refuses a state trained on another backbone. States saved before fingerprints existed (no
 * `backbone` entry) are accepted as they always were.
 * @throws VptError (VPT_BACKBONE) naming `path`, both architectures and both fingerprints
 */
export function checkBackboneFingerprint(
  path: string,
  saved: BackboneFingerprint | undefined,
  current: BackboneFingerprint | undefined,
): void {
  if (!saved || !current) return;
  const describe = (f: BackboneFingerprint) =>
    `${f.arch} (shapes ${f.shapes}, weights ${f.weights}, ${f.params} parameters)`;
  if (saved.shapes !== current.shapes) {
    throw new VptError(
      ErrorCode.Backbone,
      `${path} was trained for another architecture: ${describe(saved)}; this backbone is ${describe(current)}`,
    );
  }
  if (saved.weights !== current.weights) {
    throw new VptError(
      ErrorCode.Backbone,
      `${path} was trained on another backbone: ${describe(saved)}; this backbone is ${describe(current)} (same architecture, other weights)`,
    );
  }
}
