/**
 * Runtime validation of user options with zod, turned into VptErrors that name the option
 * and, for a misspelled key, suggest the closest valid one.
 */
import { closest } from 'fastest-levenshtein';
import type { z } from 'zod';

import { ErrorCode, VptError } from '../errors.js';

/** Parses `value` with `schema`; throws VptError(VPT_OPTION) naming every bad option. */
export function parseOptions<S extends z.ZodType>(schema: S, value: unknown, label: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => describeIssue(schema, issue));
  throw new VptError(ErrorCode.Option, `${label}: ${lines.join('; ')}`);
}

function describeIssue(schema: z.ZodType, issue: z.core.$ZodIssue): string {
  const at = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const valid = knownKeys(schema, issue.path);
    return issue.keys
      .map((key) => {
        const name = at ? `${at}.${key}` : key;
        const hint = valid.length > 0 ? ` (did you mean "${closest(key, valid)}"?)` : '';
        return `unknown option "${name}"${hint}`;
      })
      .join('; ');
  }
  return `option "${at || '(root)'}": ${issue.message}`;
}

/** Keys of the object schema found by following `path` through `schema`. */
function knownKeys(schema: z.ZodType, path: PropertyKey[]): string[] {
  let node: unknown = schema;
  for (const key of [...path, null]) {
    node = unwrap(node);
    if (key === null) break;
    const shape = (node as { shape?: Record<string, unknown> }).shape;
    node = shape?.[String(key)];
  }
  const shape = (node as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(node: unknown): unknown {
  let current = node as { unwrap?: () => unknown; _zod?: { def?: { innerType?: unknown } } } | undefined;
  for (let i = 0; i < 8 && current; i++) {
    const inner = current._zod?.def?.innerType;
    if (!inner) break;
    current = inner as typeof current;
  }
  return current;
}
