/**
 * Whether a tune group's trials step together (the stacked group step, lib/model/grouped-step.ts)
 * or one after another, and which of them can.
 *
 * 'on' stacks wherever the models allow; 'off' never; 'auto' (the default) times both ways at
 * the start of the first group, on throw-away copies of the group's models (the same configs,
 * sharing the backbone, lr 0) and the first batch, so the timing trains none of the trials: a
 * warm-up and 5 rounds, each way in turn, and the faster median wins. The decision is saved in
 * the tune folder (stacked-step.json) and a resumed tune takes it from there, so a resume steps
 * as the interrupted call did. The two ways give the same steps within float rounding (fp32,
 * tested to 1e-5); the bits may differ, which is why a resume must not choose again (and why two
 * separate 'auto' tunes that choose differently agree to float rounding only: 'on' / 'off' pin it).
 */
import { readFile } from 'node:fs/promises';
import { groupedStepUnsupported, trainStepGrouped } from '../model/grouped-step.js';
import type { Model } from '../model/model.js';
import type { ModelInput } from '../model/model-input.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export type StackedStepMode = 'auto' | 'on' | 'off';

/** What a tune decided (summary.json's `stackedStep`, stacked-step.json). */
export interface StackedStepDecision {
  mode: StackedStepMode;
  /** Whether the group's steps are stacked. */
  on: boolean;
  /** 'auto': median ms of one group step (every trial once) stacked, and one after another. */
  stackedMs?: number;
  separateMs?: number;
  /** Why the steps are not stacked (a fallback, or 'off'), or what stacking leaves out. */
  reason?: string;
}

/** The log line: "stacked step: on (12.3 ms vs 20.1 ms one after another)". */
export function describeDecision(d: StackedStepDecision): string {
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const timed =
    d.stackedMs !== undefined && d.separateMs !== undefined
      ? ` (${ms(d.stackedMs)} stacked vs ${ms(d.separateMs)} one after another per group step)`
      : '';
  return `stacked step: ${d.on ? 'on' : 'off'}${timed}${d.reason ? `; ${d.reason}` : ''}`;
}

/**
 * The models in stacks that can step together, in order: each stack's first model leads, and a
 * model joins the first stack whose leader it can step with. Stacks of one step alone.
 * @returns the stacks and, when some model could not join a stack, the first reason why
 */
export function stacksOf<T>(items: readonly T[], model: (t: T) => Model): { stacks: T[][]; reason?: string } {
  const stacks: T[][] = [];
  let reason: string | undefined;
  for (const item of items) {
    const home = stacks.find((s) => {
      const why = groupedStepUnsupported([model(s[0]!), model(item)]);
      if (why) reason ??= why;
      return why === null;
    });
    if (home) home.push(item);
    else stacks.push([item]);
  }
  return { stacks, ...(reason ? { reason } : {}) };
}

/** One group step: each stack together (stacks of one alone), or (`stacked` false) every model alone. */
async function groupStep(models: Model[][], input: ModelInput, labels: Int32Array, stacked: boolean): Promise<void> {
  for (const stack of models) {
    if (stacked && stack.length > 1) {
      await trainStepGrouped(stack, input, labels);
    } else {
      for (const m of stack) await m.trainStep(input, labels);
    }
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * Times `rounds` group steps each way, in turn, after `warmup` steps each (CUDA graphs: enough
 * for the one-after-another steps' capture to be behind), on `stacks` (copies made for this:
 * their state changes). Returns median ms per group step.
 */
export async function timeStackedStep(
  stacks: Model[][],
  input: ModelInput,
  labels: Int32Array,
  rounds = 5,
  warmup = 1,
): Promise<{ stackedMs: number; separateMs: number }> {
  const stacked: number[] = [],
    separate: number[] = [];
  for (let r = -warmup; r < rounds; r++) {
    for (const way of [true, false]) {
      const t0 = performance.now();
      await groupStep(stacks, input, labels, way);
      if (r >= 0) (way ? stacked : separate).push(performance.now() - t0);
    }
  }
  return { stackedMs: median(stacked), separateMs: median(separate) };
}

/** A saved decision, or undefined when there is none (or it cannot be read). */
export async function readDecision(path: string): Promise<StackedStepDecision | undefined> {
  try {
    const d = JSON.parse(await readFile(path, 'utf8')) as StackedStepDecision;
    return typeof d.on === 'boolean' ? d : undefined;
  } catch {
    return undefined;
  }
}

export async function writeDecision(path: string, d: StackedStepDecision): Promise<void> {
  await writeFileAtomic(path, [Buffer.from(JSON.stringify(d, null, 2))]);
}
