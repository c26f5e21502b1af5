// The training section's schema as the page reads it: GET /api/training's `fields` (path, type,
// default, range, choices, doc, kinds, when) and `kinds`. The training form, a new design's
// settings and the kind picker all ask it, so no option list, bound or default lives in the
// page. Pure: no DOM, no fetch.

import { getPath } from './graph.js';

const split = (path) => path.split('.');
const PICKED = new Set(['dataset', 'environment']); // field types the run card's picker sets
const has = (obj, key) => obj && typeof obj === 'object' && Object.hasOwn(obj, key);

export class TrainingSchema {
  /** body: the GET /api/training answer {fields, kinds}. */
  constructor(body) {
    this.fields = Array.isArray(body?.fields) ? body.fields : [];
    this.kinds = Array.isArray(body?.kinds) ? body.kinds : [];
    this.byPath = new Map(this.fields.map((f) => [f.path, f]));
  }

  field(path) {
    return this.byPath.get(path) || null;
  }

  /** The kind names, as the kind picker lists them. */
  kindNames() {
    return this.field('kind')?.choices || this.kinds.map((k) => k.name);
  }

  /** The kind a training section trains as: its own when the server knows it, else the default. */
  kindOf(training) {
    const k = training?.kind;
    return this.kindNames().includes(k) ? k : this.field('kind')?.default ?? 'supervised';
  }

  /** The value a field takes in a section: its own, else its default. */
  value(path, training) {
    const own = getPath(training || {}, split(path));
    return own === undefined ? this.defaultOf(this.field(path), training) : own;
  }

  /** A field's default, given the section (an optimizer's own learning rate). */
  defaultOf(field, training) {
    if (!field) return undefined;
    const by = field.default_by;
    if (!by) return field.default;
    const chosen = this.value(by.path, training);
    return has(by.values, chosen) ? by.values[chosen] : field.default;
  }

  /** Whether a field is used by this section: its kind's, and its `when` holds. */
  applies(field, training) {
    return Boolean(field.kinds?.includes(this.kindOf(training))) && this.holds(field, training);
  }

  /** Whether a field's `when` holds (momentum: only with sgd or rmsprop). */
  holds(field, training) {
    return Object.entries(field.when || {}).every(([path, allowed]) => allowed.includes(this.value(path, training)));
  }

  /** The section without the values of fields it no longer uses (momentum after sgd became
   * adam), which the server would refuse and the form no longer shows. */
  withoutUnused(training) {
    const next = JSON.parse(JSON.stringify(training || {}));
    for (const f of this.fields) {
      if (!f.when || this.holds(f, next)) continue;
      const parts = split(f.path);
      const parent = getPath(next, parts.slice(0, -1));
      if (has(parent, parts[parts.length - 1])) delete parent[parts[parts.length - 1]];
    }
    return next;
  }

  /** What a section learns from, as the run card's picker chooses it: `environment` (a kind
   * that plays one, a dqn) or `dataset`. */
  picker(training) {
    const env = this.field('environment');
    return env && this.applies(env, training) ? 'environment' : 'dataset';
  }

  /** The live rates of a kind (the run card edits them while training). */
  hparams(kind) {
    return this.kinds.find((k) => k.name === kind)?.hparams || [];
  }

  /** The fields the training form shows for a section, in the server's order: its kind's, whose
   * `when` holds, except the kind itself, the dataset or environment (the run card's picker and
   * their own params) and the live rates (the run card's rows). */
  formFields(training) {
    const live = new Set(this.hparams(this.kindOf(training)).map((h) => h.path));
    return this.fields.filter((f) => f.path !== 'kind' && !PICKED.has(f.type) && !live.has(f.path)
      && this.applies(f, training));
  }

  /** Which kinds use a field or a group of fields (`gan`: every field under it). */
  kindsOf(path) {
    const out = new Set();
    for (const f of this.fields) {
      if (f.path === path || f.path.startsWith(`${path}.`)) f.kinds?.forEach((k) => out.add(k));
    }
    return out;
  }

  /** The section trained as another kind: the fields of its old kind only are dropped (the
   * server refuses them), the rest kept. The default kind is written as no `kind` at all. */
  withKind(training, kind) {
    const next = JSON.parse(JSON.stringify(training || {}));
    if (kind === this.field('kind')?.default) delete next.kind;
    else next.kind = kind;
    const prune = (obj, prefix) => {
      for (const key of Object.keys(obj)) {
        const path = prefix ? `${prefix}.${key}` : key;
        if (path === 'kind' || !this.kindsOf(path).size) continue; // unknown keys: the server says
        if (!this.kindsOf(path).has(kind)) delete obj[key];
        else if (obj[key] && typeof obj[key] === 'object' && !Array.isArray(obj[key])
          && this.fields.some((f) => f.path.startsWith(`${path}.`))) prune(obj[key], path);
      }
    };
    prune(next, '');
    return next;
  }

  /** The training section of a new design: the default kind's live rates at their defaults
   * (the run card shows them); everything else is left to the server's defaults. */
  starter() {
    const out = {};
    for (const h of this.hparams(this.kindOf({}))) {
      const parts = split(h.path);
      let at = out;
      parts.slice(0, -1).forEach((p) => { at = (at[p] ??= {}); });
      at[parts[parts.length - 1]] = this.defaultOf(this.field(h.path), out);
    }
    return out;
  }
}

/** Whether a value is one of a choice field's other accepted ones (device "cuda:1"). */
export function matches(f, v) {
  return Boolean(f.pattern) && typeof v === 'string' && new RegExp(f.pattern).test(v);
}
