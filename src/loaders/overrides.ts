/**
 * `--set path=value` overrides and the dotted paths of sweeps.
 *
 * A path is checked against the schema before anything is set, so `--set train.epoch=5` fails
 * instead of training the wrong model. List items are addressed by index or, for lists of
 * named items (layers), by name: `model.layers.hidden1.units`. Overrides go into the parsed
 * document before validation, so the resolved model is validated as a whole and a bad value
 * reports the `--set` that brought it in.
 */
import { parse as parseYaml } from 'yaml';
import { InputError, InputErrors } from '../errors.js';
import { isObject } from './json.js';
import {
  allowedRecordKeys,
  didYouMean,
  expectation,
  modelSchema,
  own,
  pickOption,
  shapeOf,
  type PathSegment,
  type Schema,
} from './schema.js';

/** An override that was applied: `path` is concrete (list items by index), `where` is what to blame. */
export interface AppliedOverride {
  where: string;
  path: PathSegment[];
}

/**
 * Applies `--set` arguments to a copy of `document` (a parsed model file). Every bad argument
 * is reported at once; `where` of each error is `--set <argument>`.
 */
export function applySetArguments(
  document: Readonly<Record<string, unknown>>,
  args: readonly string[],
): { document: Record<string, unknown>; applied: AppliedOverride[] } {
  const out = structuredClone(document) as Record<string, unknown>;
  const applied: AppliedOverride[] = [];
  const errors: InputError[] = [];
  for (const arg of args) {
    const where = `--set ${arg}`;
    const eq = arg.indexOf('=');
    if (eq <= 0) {
      errors.push(new InputError(eq === 0 ? 'missing the path before =; write --set path=value' : 'expected path=value, e.g. --set train.epochs=50', where));
      continue;
    }
    const parsed = parseValue(arg.slice(eq + 1));
    if ('error' in parsed) {
      errors.push(new InputError(parsed.error, where));
      continue;
    }
    const found = locatePath(out, arg.slice(0, eq));
    if ('error' in found) {
      errors.push(new InputError(found.error, where));
      continue;
    }
    setAt(out, found.path, parsed.value);
    applied.push({ where, path: found.path });
  }
  if (errors.length > 0) throw new InputErrors(errors);
  return { document: out, applied };
}

/**
 * Sets dotted paths to values in a copy of `document`, as a sweep does for each trial. Give it
 * the parsed document (loadModelFile's `document`), not a resolved spec: a resolved spec holds
 * settings its optimizer type does not use, which validation rejects, and defaults derived from
 * other keys (cosine t_max from train.epochs) are only derived again when they are absent.
 * An unknown path throws InputErrors with the path as `where`.
 */
export function applyOverrides<T extends object>(document: T, overrides: Readonly<Record<string, unknown>>): T {
  const out = structuredClone(document) as Record<string, unknown>;
  const errors: InputError[] = [];
  for (const [dotted, value] of Object.entries(overrides)) {
    const found = locatePath(out, dotted);
    if ('error' in found) errors.push(new InputError(found.error, dotted));
    else setAt(out, found.path, structuredClone(value));
  }
  if (errors.length > 0) throw new InputErrors(errors);
  return out as T;
}

/** The value of `--set a=VALUE`: a YAML scalar or flow collection (`0.01`, `true`, `[8, 16]`, `{train: 0.8}`). */
function parseValue(text: string): { value: unknown } | { error: string } {
  try {
    return { value: parseYaml(text, { prettyErrors: false }) ?? null };
  } catch (e) {
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { error: `the value is not valid YAML (${message}); quote the argument in the shell, e.g. --set 'data.split={train: 0.8, test: 0.2}'` };
  }
}

/**
 * The concrete path (list items by index) that `dotted` names in `document`, checked against
 * the model schema, or an error message saying what is wrong and what would be right.
 */
export function locatePath(document: unknown, dotted: string): { path: PathSegment[] } | { error: string } {
  const segments = dotted.split('.');
  if (segments.some((s) => s === '')) return { error: `'${dotted}' has an empty key; separate keys with single dots, e.g. optimizer.lr` };
  const path: PathSegment[] = [];
  let schema: Schema = modelSchema;
  let here: unknown = document;
  let parent: Record<string, unknown> | undefined;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const shown = segments.slice(0, i).join('.');
    schema = unwrap(schema, here, seg);
    let key: PathSegment = seg;
    switch (schema.kind) {
      case 'object': {
        const field = own(schema.fields, seg);
        if (!field) return { error: unknownKey(seg, shown, Object.keys(schema.fields)) };
        schema = field.schema;
        break;
      }
      case 'union': {
        if (seg === schema.tag) {
          schema = { kind: 'enum', values: Object.keys(schema.variants) };
          break;
        }
        const tag = asRecord(here)?.[schema.tag];
        const current = typeof tag === 'string' ? own(schema.variants, tag) : undefined;
        const variant = current && own(current.fields, seg) ? current : Object.values(schema.variants).find((v) => own(v.fields, seg));
        if (!variant) {
          const keys = new Set([schema.tag, ...Object.values(schema.variants).flatMap((v) => Object.keys(v.fields))]);
          return { error: unknownKey(seg, shown, [...keys]) };
        }
        schema = own(variant.fields, seg)!.schema;
        break;
      }
      case 'record': {
        if (schema.pathKeys) {
          // The rest of the path is one key: sweep parameters are themselves dotted paths.
          key = segments.slice(i).join('.');
          i = segments.length;
        } else {
          const allowed = allowedRecordKeys(schema, parent);
          if (allowed && schema.keysFrom && !allowed.includes(seg)) {
            const owner = String(parent?.[schema.keysFrom.sibling]);
            return { error: `${owner} has no ${schema.keysFrom.noun} '${seg}'${didYouMean(seg, allowed) || `; ${owner} takes ${allowed.join(', ')}`}` };
          }
        }
        schema = schema.values;
        break;
      }
      case 'list': {
        const found = listItem(schema.itemNoun, here, seg, shown);
        if ('error' in found) return found;
        key = found.index;
        schema = schema.items;
        break;
      }
      default:
        return { error: `${shown} is ${expectation(schema)}; it has no key '${seg}'` };
    }
    path.push(key);
    parent = asRecord(here);
    here = Array.isArray(here) && typeof key === 'number' ? here[key] : parent?.[key];
  }
  return { path };
}

/** Sees through null and either: the schema that a key `seg` can go into. */
function unwrap(schema: Schema, here: unknown, seg: string): Schema {
  for (;;) {
    if (schema.kind === 'nullable') schema = schema.of;
    else if (schema.kind === 'either') {
      const byValue = pickOption(schema, shapeOf(here));
      const wanted = /^\d+$/.test(seg) ? 'list' : 'mapping';
      schema = byValue && shapeOf(here) === wanted ? byValue : (pickOption(schema, wanted) ?? schema.options[0]!);
    } else return schema;
  }
}

function unknownKey(seg: string, shown: string, keys: readonly string[]): string {
  const place = shown ? ` in ${shown}` : ' at the top level';
  return `unknown key '${seg}'${place}${didYouMean(seg, keys) || `; the keys are: ${keys.join(', ')}`}`;
}

/** A list item by index, or by its `name` for lists of named items. */
function listItem(noun: string | undefined, list: unknown, seg: string, shown: string): { index: number } | { error: string } {
  if (!Array.isArray(list)) return { error: `${shown} is not set, so it has no item '${seg}'; set the whole list instead, e.g. --set '${shown}=[...]'` };
  if (/^\d+$/.test(seg)) {
    const index = Number(seg);
    if (index < list.length) return { index };
    return { error: `${shown} has ${list.length} item${list.length === 1 ? '' : 's'}; index ${index} is out of range` };
  }
  if (!noun) return { error: `${shown} is a list; address its items by index, e.g. ${shown}.0` };
  const names = list.map((item) => asRecord(item)?.name).filter((n): n is string => typeof n === 'string');
  const index = list.findIndex((item) => asRecord(item)?.name === seg);
  if (index >= 0) return { index };
  return { error: `no ${noun} named '${seg}'${didYouMean(seg, names) || `; the ${noun}s are: ${names.join(', ')}`}` };
}

/** Sets `value` at `path`, making mappings on the way where the document has none. */
function setAt(root: Record<string, unknown>, path: readonly PathSegment[], value: unknown): void {
  let node: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    const next: unknown = (node as Record<PathSegment, unknown>)[key];
    if (typeof next === 'object' && next !== null) {
      node = next as Record<string, unknown> | unknown[];
    } else {
      const made: Record<string, unknown> = {};
      (node as Record<PathSegment, unknown>)[key] = made;
      node = made;
    }
  }
  (node as Record<PathSegment, unknown>)[path[path.length - 1]!] = value;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return isObject(v) ? v : undefined;
}
