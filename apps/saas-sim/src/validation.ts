import { findPans } from '@ctp/core/cards';
import type { z } from 'zod';
import { type FieldProblem, SimError } from './errors.ts';

/**
 * Turns zod issues into the contract's field-level details of a 400. Only paths and zod's own
 * messages are used: zod's messages describe the rule, never the submitted value, so a PAN
 * sent in the wrong field cannot come back in the answer.
 */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(body)' : out;
}

export function fieldProblems(error: z.ZodError): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push({ field: fieldPath([...issue.path, key]), message: 'is not a field of this request' });
      }
      continue;
    }
    problems.push({ field: fieldPath(issue.path), message: issue.message });
  }
  return problems;
}

export function invalidRequest(message: string, details: readonly FieldProblem[]): SimError {
  return new SimError('INVALID_REQUEST', message, { details });
}

/** Parses `value` with `schema` or throws 400 INVALID_REQUEST naming every bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw invalidRequest('the request is invalid', fieldProblems(parsed.error));
  return parsed.data;
}

/**
 * Paths of string fields, other than `allowed`, that hold something that looks like a card
 * number. A PAN typed into a name or address line would otherwise be stored and shown back
 * (in /__sim/state, /getData): a careful card API refuses it instead.
 */
export function pansOutsideTheirField(value: unknown, allowed: readonly string[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const walk = (node: unknown, path: PropertyKey[]): void => {
    if (typeof node === 'string') {
      const field = fieldPath(path);
      if (!allowed.includes(field) && findPans(node).length > 0) {
        problems.push({ field, message: 'must not contain a card number' });
      }
    } else if (Array.isArray(node)) {
      for (const [i, item] of node.entries()) walk(item, [...path, i]);
    } else if (node !== null && typeof node === 'object') {
      for (const [key, item] of Object.entries(node)) walk(item, [...path, key]);
    }
  };
  walk(value, []);
  return problems;
}
