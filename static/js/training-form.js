// Training settings (shown when no layer is selected): the dataset's own params from
// /api/datasets, the optimizer and the loop. Every field edits document.training.

import { api } from './api.js';
import { fill, h, toast } from './dom.js';
import { paramField } from './form.js';
import { problemText } from './problem.js';
import { getPath, setPath } from './graph.js';

// The names CONTRACTS.md §1 fixes for the training section; the server checks every value.
const OPTIMIZERS = ['adam', 'adamw', 'sgd', 'rmsprop', 'adagrad'];
const FIELDS = [
  { path: ['optimizer', 'name'], param: { name: 'optimizer', type: 'choice', choices: OPTIMIZERS,
    default: 'adam', doc: 'Adam is a safe first choice; SGD with momentum often generalises well.' } },
  { path: ['optimizer', 'momentum'], only: ['sgd', 'rmsprop'], param: { name: 'momentum', type: 'float',
    default: 0, min: 0, max: 0.999, doc: 'Fraction of the last update carried into the next.' } },
  { path: ['optimizer', 'nesterov'], only: ['sgd'], param: { name: 'nesterov', type: 'bool',
    default: false, doc: 'Nesterov momentum (needs momentum > 0).' } },
  { path: ['optimizer', 'weight_decay'], param: { name: 'weight_decay', type: 'float', default: 0,
    min: 0, max: 1, doc: 'L2 penalty on the weights (AdamW: decoupled).' } },
  { path: ['optimizer', 'grad_clip'], param: { name: 'grad_clip', type: 'float', default: null,
    nullable: true, placeholder: 'off', min: 0, max: 1e6, doc: 'Clip the gradient norm to this (empty: off).' } },
  { path: ['batch_size'], param: { name: 'batch_size', type: 'int', default: 32, min: 1, max: 65536,
    doc: 'Samples per optimizer step.' } },
  { path: ['epochs'], param: { name: 'epochs', type: 'int', default: null, nullable: true,
    placeholder: 'until stopped', min: 1, max: 100000000, doc: 'Passes over the training data (empty: until you press Stop).' } },
  { path: ['loss'], param: { name: 'loss', type: 'choice', default: 'auto',
    choices: ['auto', 'cross_entropy', 'mse', 'l1', 'bce_with_logits'],
    doc: 'auto: cross-entropy for classes, mean squared error otherwise.' } },
  { path: ['task'], param: { name: 'task', type: 'choice', default: 'auto', choices: ['auto', 'reconstruction'],
    doc: 'reconstruction: the target is the input (an autoencoder).' } },
  { path: ['device'], param: { name: 'device', type: 'choice', default: 'auto', choices: ['auto', 'cpu', 'cuda'],
    doc: 'auto uses the GPU when the server has one.' } },
  { path: ['seed'], param: { name: 'seed', type: 'int', default: 0, min: 0, max: 2 ** 53,
    doc: 'Seeds weights, shuffling and dropout: the same seed repeats a run.' } },
];

export class TrainingForm {
  constructor(root, { store, datasets, readOnly = false }) {
    this.root = root;
    this.store = store;
    this.datasets = datasets; // Map name -> dataset catalog entry
    this.readOnly = readOnly;
    this.key = null;
    this.fields = [];
    this.upload = null; // the last CSV upload answer (columns for the target picker)
  }

  commit(path, value, key) {
    this.store.commit(setPath(this.store.doc, ['training', ...path], value), { key });
  }

  render(doc, report) {
    const training = doc.training || {};
    const dataset = training.dataset || {};
    const optimizer = training.optimizer?.name || 'adam';
    const key = `${dataset.name}|${optimizer}|${this.upload?.upload_id || ''}`;
    if (key !== this.key) this.build(doc, dataset, optimizer);
    this.key = key;
    for (const f of this.fields) f.field.set(getPath(training, f.path) ?? f.param.default);
    const errs = new Map((report?.errors || []).filter((e) => !e.node && e.param)
      .map((e) => [e.param.replace(/^training\./, ''), e.message]));
    for (const f of this.fields) f.field.serverError(errs.get(f.path.join('.')) || null);
  }

  build(doc, dataset, optimizer) {
    this.fields = [];
    const add = (path, param, opts = {}) => {
      const value = getPath(doc.training, path) ?? param.default;
      const field = paramField(param, value, { disabled: this.readOnly, ...opts,
        onChange: (v) => this.commit(path, v === null && !param.keepNull ? undefined : v, `training:${path.join('.')}`) });
      this.fields.push({ path, param, field });
      return field.el;
    };
    const meta = this.datasets.get(dataset.name);
    const dataFields = (meta?.params || [])
      .filter((p) => !['upload', 'target'].includes(p.name))
      .map((p) => add(['dataset', p.name], { ...p, type: p.type === 'str' ? 'text' : p.type,
        nullable: p.default === null }, { name: `dataset.${p.name}`, label: p.name.replace('_', ' ') }));
    const trainFields = FIELDS.filter((f) => !f.only || f.only.includes(optimizer))
      .map((f) => add(f.path, f.param, { label: f.param.name.replace('_', ' ') }));
    fill(this.root,
      h('header', { class: 'insp-head group-training' },
        h('span', { class: 'node-chip', 'aria-hidden': 'true' }),
        h('div', {}, h('h2', { class: 'insp-title' }, 'Training'),
          h('p', { class: 'insp-group' }, this.readOnly ? 'The settings of this run' : 'Select a layer to edit it'))),
      h('h3', { class: 'form-section' }, meta ? `Data · ${meta.title}` : 'Data'),
      meta ? h('p', { class: 'insp-doc' }, meta.doc) : null,
      dataset.name === 'csv' ? this.csvBlock(dataset) : null,
      h('div', { class: 'insp-fields' }, dataFields),
      h('h3', { class: 'form-section' }, 'Optimizer and loop'),
      h('div', { class: 'insp-fields' }, trainFields));
  }

  csvBlock(dataset) {
    const file = h('input', { type: 'file', accept: '.csv,text/csv', name: 'csv_file', hidden: true });
    const columns = this.upload?.columns || (dataset.target ? [dataset.target] : []);
    const target = h('select', { name: 'target', disabled: this.readOnly || !columns.length },
      h('option', { value: '' }, columns.length ? 'Choose the target column' : 'Upload a CSV first'),
      columns.map((c) => h('option', { value: c }, c)));
    target.value = dataset.target || '';
    target.addEventListener('change', () => this.commit(['dataset', 'target'], target.value || undefined, null));
    file.addEventListener('change', async () => {
      const chosen = file.files?.[0];
      if (!chosen) return;
      try {
        const answer = await api.upload(chosen);
        this.upload = answer;
        const spec = { ...dataset, name: 'csv', upload: answer.upload_id,
          target: answer.suggested_target || answer.columns[answer.columns.length - 1] };
        this.store.commit(setPath(this.store.doc, ['training', 'dataset'], spec));
        toast(`${chosen.name}: ${answer.rows} rows, ${answer.columns.length} columns`, { kind: 'ok' });
      } catch (err) {
        toast(`Upload failed: ${problemText(err)}`, { kind: 'error', timeout: 8000 });
      }
    });
    const preview = this.upload?.preview?.length ? h('div', { class: 'csv-preview' },
      h('table', {}, h('thead', {}, h('tr', {}, this.upload.columns.map((c) => h('th', {}, c)))),
        h('tbody', {}, this.upload.preview.slice(0, 5).map((row) => h('tr', {},
          (Array.isArray(row) ? row : this.upload.columns.map((c) => row[c])).map((v) => h('td', {}, String(v)))))))) : null;
    return h('div', { class: 'csv-block' },
      h('button', { type: 'button', class: 'btn', disabled: this.readOnly, onclick: () => file.click() },
        dataset.upload ? 'Replace CSV…' : 'Upload CSV…'), file,
      h('label', { class: 'field-label' }, 'target column'), target, preview);
  }
}
