// Your own data in the training form (CONTRACTS.md §7): one Upload control takes a CSV table, a
// .zip of class folders (class_name/*.png|jpg) or a UTF-8 .txt. The server says which it got
// (`kind`), and the dataset spec becomes csv, images or text with the params it suggests. The
// block shows what was uploaded: the CSV's first rows and its target picker, a row per class
// (name, count, thumbnails at the chosen size) or the text's opening and its vocabulary.
// A dataset is "your own" when its catalog entry takes an `upload` param; nothing else is listed.

import { api } from './api.js';
import { h, toast } from './dom.js';
import { previewQuery } from './dataset-preview.js';
import { setInputShape, setPath } from './graph.js';
import { problemText } from './problem.js';

const KEPT_KEY = 'layerlab.uploads.v1'; // {upload id: the upload's summary}, for after a reload
const KEPT = 20;
const ACCEPT = '.csv,.tsv,.zip,.txt,.md,.text,text/csv,text/plain,application/zip';
const WORDS = { csv: ['Upload CSV…', 'Replace CSV…'], images: ['Upload images (.zip)…', 'Replace images…'],
  text: ['Upload text (.txt)…', 'Replace text…'] };
const SHOWN = { '\n': '↵', ' ': '␣', '\t': '⇥', '\r': '␍' }; // characters that print as nothing

/** Whether a dataset entry is filled from an upload (its params name `upload`). Pure. */
export function takesUpload(meta) {
  return Boolean(meta?.params?.some((p) => p.name === 'upload'));
}

/** The dataset spec an upload answer makes, keeping the old spec's own settings when it was the
 * same dataset (split, seed). Pure. */
export function specFor(answer, old = {}) {
  const name = answer.kind || 'csv';
  const kept = old.name === name ? { ...old } : {};
  delete kept.target;
  const spec = { ...kept, name, upload: answer.upload_id };
  if (name === 'csv') spec.target = answer.suggested_target || answer.columns?.[answer.columns.length - 1];
  if (name === 'images') {
    if (answer.suggested_size) spec.size = answer.suggested_size;
    if (answer.suggested_channels) spec.channels = answer.suggested_channels;
  }
  return spec;
}

/** A character as it can be seen in a chip: space, newline and tab get a sign. Pure. */
export function visibleChar(c) {
  return SHOWN[c] || c;
}

/** Preview images grouped by their label, in the classes' order: [{name, images}]. Pure. */
export function byClass(preview) {
  const names = preview?.classes || [];
  const groups = names.map((name) => ({ name, images: [] }));
  (preview?.images || []).forEach((img, i) => groups[preview.labels?.[i]]?.images.push(img));
  return groups;
}

function readKept() {
  try {
    const map = JSON.parse(localStorage.getItem(KEPT_KEY) || '{}');
    return map && typeof map === 'object' && !Array.isArray(map) ? map : {};
  } catch { return {}; }
}

export class OwnData {
  constructor({ store, datasets, readOnly = false }) {
    this.store = store;
    this.datasets = datasets;
    this.readOnly = readOnly;
    this.previews = new Map(); // preview query -> answer (or a promise of it)
  }

  /** The summary an upload answered (this session or an earlier one on this computer). */
  summary(uploadId) {
    return uploadId ? readKept()[uploadId] || null : null;
  }

  remember(answer) {
    const map = readKept();
    delete map[answer.upload_id];
    map[answer.upload_id] = answer;
    const ids = Object.keys(map);
    ids.slice(0, Math.max(0, ids.length - KEPT)).forEach((id) => delete map[id]);
    try { localStorage.setItem(KEPT_KEY, JSON.stringify(map)); } catch { /* best effort */ }
  }

  /** Upload a chosen (or dropped) file; the dataset becomes what the server found in it. */
  async upload(file) {
    const note = toast(`Uploading ${file.name}…`, { timeout: 0 });
    try {
      const answer = await api.upload(file);
      this.remember(answer);
      const old = this.store.doc.training?.dataset || {};
      let doc = setPath(this.store.doc, ['training', 'dataset'], specFor(answer, old));
      if (old.name !== answer.kind) doc = setInputShape(doc, null); // the Input follows the new data
      this.store.commit(doc);
      toast(`${file.name}: ${describeUpload(answer)}`, { kind: 'ok' });
      return answer;
    } catch (err) {
      toast(`Upload failed: ${problemText(err)}`, { kind: 'error', timeout: 9000 });
      return null;
    } finally {
      note.remove();
    }
  }

  /** The block under the data section's title: {el, sync(spec)}. */
  block(spec) {
    const file = h('input', { type: 'file', accept: ACCEPT, name: 'data_file', hidden: true });
    const button = h('button', { type: 'button', class: 'btn', disabled: this.readOnly, onclick: () => file.click() });
    file.addEventListener('change', () => {
      if (file.files?.[0]) this.upload(file.files[0]);
      file.value = '';
    });
    const body = h('div', { class: 'own-body' });
    const el = h('div', { class: 'csv-block own-data', dataset: { kind: spec.name } },
      h('div', { class: 'own-head' }, button, file,
        h('p', { class: 'field-doc' }, 'A CSV table, a .zip of class folders (class_name/*.png) or a UTF-8 .txt')),
      body);
    let shown = null;
    const sync = (next) => {
      const key = JSON.stringify(next);
      if (key === shown) return;
      shown = key;
      const [first, again] = WORDS[next.name] || ['Upload…', 'Replace…'];
      button.textContent = next.upload ? again : first;
      el.dataset.kind = next.name;
      body.dataset.key = key;
      body.replaceChildren(...this.content(next, body));
    };
    sync(spec);
    return { el, sync };
  }

  /** What the block shows for a spec (images and text fill in once their preview comes, unless
   * the block shows another spec by then). */
  content(spec, body) {
    const key = body.dataset.key;
    const summary = this.summary(spec.upload);
    if (spec.name === 'csv') return this.csv(spec, summary);
    if (!spec.upload) return [h('p', { class: 'own-empty' }, 'Nothing uploaded yet.')];
    const meta = this.datasets.get(spec.name);
    const query = meta?.preview_url ? previewQuery(spec, meta) : null;
    const head = h('p', { class: 'own-summary' }, summary ? describeUpload(summary) : '');
    if (query) {
      this.preview(meta.preview_url, { ...query, limit: 96 }).then((preview) => {
        if (body.dataset.key !== key) return;
        if (!summary) head.textContent = describePreview(preview);
        const view = spec.name === 'text' ? textView(preview) : classGrid(preview, summary);
        body.replaceChildren(head, ...view);
      }).catch((err) => {
        if (body.dataset.key === key) body.replaceChildren(head, h('p', { class: 'own-empty' }, `No preview: ${problemText(err)}`));
      });
    }
    return [head, h('p', { class: 'own-empty' }, 'Loading the preview…')];
  }

  preview(url, query) {
    const key = `${url}?${JSON.stringify(query)}`;
    if (!this.previews.has(key)) {
      const job = api.preview(url, query);
      this.previews.set(key, job);
      job.catch(() => this.previews.delete(key));
    }
    return this.previews.get(key);
  }

  csv(spec, summary) {
    const columns = summary?.columns || (spec.target ? [spec.target] : []);
    const target = h('select', { name: 'target', disabled: this.readOnly || !columns.length },
      h('option', { value: '' }, columns.length ? 'Choose the target column' : 'Upload a CSV first'),
      columns.map((c) => h('option', { value: c }, c)));
    target.value = spec.target || '';
    target.addEventListener('change', () => {
      const next = { ...this.store.doc.training.dataset, target: target.value || undefined };
      if (!next.target) delete next.target;
      this.store.commit(setPath(this.store.doc, ['training', 'dataset'], next));
    });
    const rows = summary?.preview || [];
    const table = rows.length ? h('div', { class: 'csv-preview' },
      h('table', {}, h('thead', {}, h('tr', {}, summary.columns.map((c) => h('th', {}, c)))),
        h('tbody', {}, rows.slice(0, 5).map((row) => h('tr', {},
          (Array.isArray(row) ? row : summary.columns.map((c) => row[c])).map((v) => h('td', {}, String(v)))))))) : null;
    return [h('label', { class: 'field-label' }, 'target column'), target, table];
  }
}

/** "24 images in 2 classes" / "3,360 characters, 22 distinct" / "150 rows, 4 columns" */
export function describeUpload(answer) {
  if (answer.kind === 'images') {
    const n = answer.classes?.length || 0;
    return `${(answer.images || 0).toLocaleString('en-US')} images in ${n} ${n === 1 ? 'class' : 'classes'}`;
  }
  if (answer.kind === 'text') {
    return `${(answer.characters || 0).toLocaleString('en-US')} characters, ${answer.vocab?.length || 0} distinct`;
  }
  return `${(answer.rows || 0).toLocaleString('en-US')} rows, ${answer.columns?.length || 0} columns`;
}

function describePreview(preview) {
  if (preview?.kind === 'text') return describeUpload({ kind: 'text', characters: preview.characters, vocab: preview.classes || preview.vocab });
  const n = preview?.classes?.length || 0;
  return `${n} ${n === 1 ? 'class' : 'classes'}`;
}

/** A row per class: its name, its count (when the upload's summary is known) and thumbnails. */
function classGrid(preview, summary) {
  const counts = new Map((summary?.classes || []).map((c) => [c.name, c.count]));
  const [channels, ih, iw] = preview.shape || [1, 1, 1];
  return [h('div', { class: 'class-grid', dataset: { classes: String(preview.classes?.length || 0) } },
    byClass(preview).map((group) => h('div', { class: 'class-row', dataset: { class: group.name } },
      h('div', { class: 'class-name' }, h('span', { class: 'class-label', title: group.name }, group.name),
        h('span', { class: 'class-count' }, counts.has(group.name) ? counts.get(group.name).toLocaleString('en-US') : '')),
      h('div', { class: 'class-thumbs' }, group.images.map((img) => thumb(img, channels, ih, iw))))))];
}

/** One image (flat [c*h*w] in 0..1) on a small canvas. */
function thumb(flat, channels, ih, iw) {
  const c = h('canvas', { class: 'class-thumb', width: iw, height: ih });
  const img = new ImageData(iw, ih);
  for (let i = 0; i < ih * iw; i += 1) {
    const [r, g, b] = channels === 3 ? [flat[i], flat[ih * iw + i], flat[2 * ih * iw + i]] : [flat[i], flat[i], flat[i]];
    img.data.set([r * 255, g * 255, b * 255, 255], i * 4);
  }
  c.getContext('2d').putImageData(img, 0, 0);
  return c;
}

/** The text's opening and its vocabulary, one chip a character. */
function textView(preview) {
  const vocab = preview.classes || preview.vocab || [];
  return [
    h('pre', { class: 'text-opening' }, (preview.preview || '').slice(0, 400)),
    h('p', { class: 'field-label' }, `vocabulary · ${vocab.length} characters`),
    h('div', { class: 'vocab' }, vocab.map((ch) => h('span', { class: `vocab-char${SHOWN[ch] ? ' is-special' : ''}`,
      title: `U+${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}` }, visibleChar(ch)))),
  ];
}
