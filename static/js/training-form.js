// Training settings (shown when no layer is selected), built from the training schema of
// GET /api/training (training-schema.js): a kind picker, then every field of the design's kind
// whose `when` holds, with the server's own type, default, range, choices and doc. The dataset's
// params come from /api/datasets. The page keeps no copy of the rules: what the server would
// refuse, the form marks as the user types. Every field edits document.training. A dataset
// filled from an upload gets the Upload block of own-data.js; a field type the page draws its
// own way (`init`: the weights a run starts from) gets the view `custom` names for it.

import { fill, h } from './dom.js';
import { paramField } from './form.js';
import { setPath } from './graph.js';
import { OwnData, takesUpload } from './own-data.js';

// Words for the groups of fields (the first part of a path); a group not listed is its path.
const SECTIONS = { optimizer: 'Optimizer and loop', gan: 'Game', 'gan.generator_optimizer': 'Generator optimizer',
  pretrain: 'Pre-training' };

/** The group a field is shown in: its path's prefix ("" for the loop's own fields). */
export function groupOf(path) {
  const dot = path.lastIndexOf('.');
  return dot < 0 ? '' : path.slice(0, dot);
}

/** The form's sections for a list of fields, in order: [{key, title, fields}]. The loop's fields
 * join the optimizer's, unless there are two optimizers (a gan's): then each has its own. */
export function sections(fields) {
  const optimizers = new Set(fields.map((f) => groupOf(f.path)).filter((g) => g.endsWith('optimizer')));
  const two = optimizers.size > 1;
  const out = new Map();
  for (const f of fields) {
    let key = groupOf(f.path);
    if (key === '' && !two && optimizers.size) key = [...optimizers][0];
    if (!out.has(key)) {
      const title = key === '' ? 'Loop' : two && key === 'optimizer' ? 'Discriminator optimizer' : SECTIONS[key] || key;
      out.set(key, { key, title, fields: [] });
    }
    out.get(key).fields.push(f);
  }
  return [...out.values()];
}

/** A schema field as the param descriptor form.js builds an input for (named by its path). */
export function paramOf(schema, field, training) {
  const value = schema.value(field.path, training);
  let choices = field.choices || null;
  // A value the choices do not list (device "cuda:1", which the field's pattern accepts, or a
  // bad one the server names) is shown as it is rather than as a blank select.
  if (choices && typeof value === 'string' && !choices.includes(value)) choices = [...choices, value];
  return {
    name: field.name, type: field.type, default: schema.defaultOf(field, training),
    min: field.min, max: field.max, min_exclusive: field.min_exclusive, max_exclusive: field.max_exclusive,
    choices, nullable: field.nullable, doc: field.doc,
    placeholder: field.nullable ? (field.type === 'int' ? 'no limit' : 'off') : '',
  };
}

/** The text a field is labelled with: an optimizer's `name` is "optimizer". */
export function labelOf(field) {
  return field.name === 'name' ? 'optimizer' : field.name.replace(/_/g, ' ');
}

export class TrainingForm {
  /** schema: a TrainingSchema (GET /api/training); datasets: Map name -> dataset catalog entry;
   * environments: Map name -> GET /api/environments entry (what a dqn design plays). */
  constructor(root, { store, datasets, environments = new Map(), schema, readOnly = false, custom = {} }) {
    this.root = root;
    this.store = store;
    this.datasets = datasets;
    this.environments = environments;
    this.schema = schema;
    this.readOnly = readOnly;
    this.key = null;
    this.fields = [];
    this.own = new OwnData({ store, datasets, readOnly }); // your own data: CSV, image folders, text
    this.ownBlock = null;
    this.custom = custom; // field type -> (field, training) => {el, set(training), serverError(msg)}
  }

  /** Set one field (undefined: back to its default) and drop the values the change left unused. */
  commit(path, value, key) {
    const training = setPath(this.store.doc.training || {}, path, value);
    const next = path[0] === 'dataset' ? training : this.schema.withoutUnused(training);
    this.store.commit(setPath(this.store.doc, ['training'], next), { key });
  }

  setKind(kind) {
    const next = this.schema.withKind(this.store.doc.training, kind);
    this.store.commit(setPath(this.store.doc, ['training'], next));
  }

  render(doc, report) {
    const training = doc.training || {};
    const dataset = training.dataset || {};
    const shown = this.schema.formFields(training);
    const key = JSON.stringify([this.schema.kindOf(training), dataset.name, training.environment?.name, shown.map((f) => f.path)]);
    if (key !== this.key) this.build(training, dataset, shown);
    this.key = key;
    for (const f of this.fields) f.field.set(f.value(training));
    this.ownBlock?.sync(dataset);
    const errs = new Map((report?.errors || []).filter((e) => !e.node && e.param)
      .map((e) => [e.param.replace(/^training\./, ''), e.message]));
    for (const f of this.fields) f.field.serverError(errs.get(f.path.join('.')) || null);
  }

  build(training, dataset, shown) {
    this.fields = [];
    const add = (path, param, value, opts = {}) => {
      const field = paramField(param, value(training), { disabled: this.readOnly, name: path.join('.'), ...opts,
        onChange: opts.onChange || ((v) => this.commit(path, v === null ? undefined : v, `training:${path.join('.')}`)) });
      this.fields.push({ path, field, value });
      return field.el;
    };
    const schema = this.schema;
    const kindField = schema.field('kind');
    const kind = schema.kindOf(training);
    const kindEl = kindField ? add(['kind'], { ...paramOf(schema, kindField, training), choices: schema.kindNames() },
      (t) => schema.kindOf(t), { label: 'kind', hint: schema.kinds.find((k) => k.name === kind)?.doc || kindField.doc,
        onChange: (v) => this.setKind(v) }) : null;
    const playing = schema.picker(training) === 'environment'; // a dqn's environment and its params
    const env = playing ? this.environments.get(training.environment?.name) : null;
    const meta = playing ? env : this.datasets.get(dataset.name);
    const dataFields = playing ? (env?.params || []).map((p) => add(['environment', p.name], { ...p, nullable: false },
      (t) => t.environment?.[p.name] ?? p.default, { label: p.name.replace('_', ' ') })) : (meta?.params || [])
      .filter((p) => !['upload', 'target'].includes(p.name))
      .map((p) => add(['dataset', p.name], { ...p, type: p.type === 'str' ? 'text' : p.type, nullable: p.default === null },
        (t) => t.dataset?.[p.name] ?? p.default, { label: p.name.replace('_', ' ') }));
    this.ownBlock = !playing && takesUpload(meta) ? this.own.block(dataset) : null;
    const own = shown.filter((f) => this.custom[f.type]); // drawn by their own views, in a section of their own
    const groups = sections(shown.filter((f) => !this.custom[f.type])).flatMap((s) => [
      h('h3', { class: 'form-section' }, s.title),
      h('div', { class: 'insp-fields' }, s.fields.map((f) => add(f.path.split('.'), paramOf(schema, f, training),
        (t) => schema.value(f.path, t), { label: labelOf(f) }))),
    ]);
    const customs = own.length ? [h('h3', { class: 'form-section' }, 'Weights'),
      h('div', { class: 'insp-fields' }, own.map((f) => this.customField(f, training)))] : [];
    fill(this.root,
      h('header', { class: 'insp-head group-training' },
        h('span', { class: 'node-chip', 'aria-hidden': 'true' }),
        h('div', {}, h('h2', { class: 'insp-title' }, 'Training'),
          h('p', { class: 'insp-group' }, this.readOnly ? 'The settings of this run' : 'Select a layer to edit it'))),
      kindEl ? h('div', { class: 'insp-fields' }, kindEl) : null,
      h('h3', { class: 'form-section' }, `${playing ? 'Environment' : 'Data'}${meta ? ` · ${meta.title}` : ''}`),
      meta ? h('p', { class: 'insp-doc' }, meta.doc) : null,
      this.ownBlock?.el,
      h('div', { class: 'insp-fields' }, dataFields),
      customs, groups);
  }

  /** A field of a type the page draws its own way (custom[type]), kept in sync like the others. */
  customField(f, training) {
    const field = this.custom[f.type](f, training);
    this.fields.push({ path: f.path.split('.'), field, value: (t) => t });
    return field.el;
  }
}
