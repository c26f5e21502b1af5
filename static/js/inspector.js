// The inspector for one selected node: a form built from the catalog entry of its type.
// The form is rebuilt only when another node is selected, so typing never loses focus.

import { fill, h, setText } from './dom.js';
import { effectiveValue } from './fields.js';
import { paramField } from './form.js';
import { bytesText, macsText, paramsText, shapeText } from './format.js';
import { getNode, idProblem, renameNode, setParam } from './graph.js';

export class Inspector {
  constructor(root, { catalog, store, actions, readOnly = false }) {
    this.root = root;
    this.catalog = catalog;
    this.store = store;
    this.actions = actions; // {remove(ids), duplicate(ids)}
    this.readOnly = readOnly;
    this.nodeId = null;
    this.nodeType = null;
    this.fields = new Map();
  }

  /** Show node id (or hide when null). */
  render(doc, report, nodeId) {
    const node = nodeId ? getNode(doc, nodeId) : null;
    if (!node) {
      this.nodeId = null;
      this.root.hidden = true;
      return;
    }
    this.root.hidden = false;
    if (node.id !== this.nodeId || node.type !== this.nodeType) this.build(node);
    this.sync(node, report);
  }

  build(node) {
    const spec = this.catalog.get(node.type);
    this.nodeId = node.id;
    this.nodeType = node.type;
    this.fields = new Map();
    const group = spec?.group || 'Unknown';
    this.summary = h('p', { class: 'insp-summary' });
    this.cost = h('p', { class: 'insp-cost', title: 'Multiply-accumulates and the output\'s memory for one example (GET /api/validate)' });
    this.problems = h('ul', { class: 'insp-problems' });
    this.idInput = h('input', { type: 'text', name: 'node_id', value: node.id, spellcheck: 'false',
      autocomplete: 'off', disabled: this.readOnly, 'aria-describedby': 'node-id-msg' });
    this.idMsg = h('p', { class: 'field-msg', id: 'node-id-msg' });
    this.idInput.addEventListener('input', () => this.checkId(false));
    this.idInput.addEventListener('change', () => this.checkId(true));
    this.idInput.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.checkId(true);
      if (e.key === 'Escape') {
        this.idInput.value = this.nodeId;
        this.checkId(false);
      }
    });
    const idField = h('div', { class: 'field field-id' },
      h('label', { class: 'field-label', for: 'node-id-input' }, 'id'), this.idInput,
      h('p', { class: 'field-doc' }, 'Names the PyTorch submodule and the ONNX nodes.'), this.idMsg);
    this.idInput.id = 'node-id-input';
    const params = (spec?.params || []).map((p) => {
      const field = paramField(p, effectiveValue(p, node.params), {
        disabled: this.readOnly,
        onChange: (value) => this.store.commit(
          setParam(this.store.doc, this.nodeId, p.name, value),
          { key: `param:${this.nodeId}:${p.name}` }),
      });
      this.fields.set(p.name, field);
      return field.el;
    });
    const buttons = this.readOnly ? null : h('div', { class: 'insp-actions' },
      h('button', { type: 'button', class: 'btn btn-ghost', title: 'Duplicate (Ctrl+D)',
        onclick: () => this.actions.duplicate([this.nodeId]) }, 'Duplicate'),
      h('button', { type: 'button', class: 'btn btn-ghost btn-danger', title: 'Delete (Del)',
        onclick: () => this.actions.remove([this.nodeId]) }, 'Delete'));
    fill(this.root,
      h('header', { class: `insp-head group-${group.toLowerCase()}` },
        h('span', { class: 'node-chip', 'aria-hidden': 'true' }),
        h('div', {}, h('h2', { class: 'insp-title' }, node.type),
          h('p', { class: 'insp-group' }, `${group} layer`))),
      h('p', { class: 'insp-doc' }, spec?.doc || 'This layer type is not in the catalog.'),
      this.summary, this.cost, this.problems,
      h('div', { class: 'insp-fields' }, idField, ...params),
      params.length ? null : h('p', { class: 'insp-empty' }, 'This layer has no settings.'),
      buttons);
  }

  sync(node, report) {
    const spec = this.catalog.get(node.type);
    if (document.activeElement !== this.idInput) this.idInput.value = node.id;
    for (const p of spec?.params || []) {
      this.fields.get(p.name)?.set(effectiveValue(p, node.params));
    }
    const shape = report?.shapes?.[node.id];
    const count = report?.params?.[node.id];
    setText(this.summary, shape ? `Output ${shapeText(shape)}${count ? ` · ${paramsText(count)}` : ''}`
      : 'Output shape unknown until the layers before it are valid.');
    this.summary.classList.toggle('is-unknown', !shape);
    const macs = report?.macs?.[node.id];
    const bytes = report?.activations?.[node.id];
    setText(this.cost, shape && (macs || bytes) ? [macs ? macsText(macs) : null,
      bytes ? `${bytesText(bytes)} of activations` : null].filter(Boolean).join(' · ') : '');
    this.cost.hidden = !this.cost.textContent;
    const errs = (report?.errors || []).filter((e) => e.node === node.id);
    const byParam = new Map(errs.filter((e) => e.param).map((e) => [e.param, e.message]));
    for (const [name, field] of this.fields) field.serverError(byParam.get(name) || null);
    this.problems.replaceChildren(...errs.map((e) => h('li', {}, e.param ? `${e.param}: ${e.message}` : e.message)));
    this.problems.hidden = !errs.length;
  }

  checkId(apply) {
    const next = this.idInput.value.trim();
    const problem = idProblem(this.store.doc, this.nodeId, next);
    this.idMsg.textContent = problem ? `id ${problem}` : '';
    this.idInput.closest('.field').classList.toggle('is-invalid', Boolean(problem));
    if (apply && !problem && next !== this.nodeId) {
      const renamed = renameNode(this.store.doc, this.nodeId, next);
      this.nodeId = next;
      this.store.commit(renamed, { select: [next] });
    }
  }

  focusFirst() {
    const first = this.root.querySelector('.insp-fields .field:not(.field-id) input, .insp-fields .field:not(.field-id) select');
    (first || this.idInput)?.focus();
  }
}
