// Try the ONNX model: after Export ONNX of a trained run, the very file downloaded runs in the
// page with onnxruntime-web (static/vendor/onnxruntime-web/: loaded only when the panel first
// opens, WebAssembly on one thread, so no SharedArrayBuffer is needed) and on the server
// (POST /api/runs/<id>/predict, ONNX Runtime on the same model.onnx) for the same input. The
// panel shows both outputs, whether they agree and how long each took. The input follows the
// model: a point on the plane, a drawing on the image grid, a prompt, or random numbers.

import { api } from './api.js';
import { h, setAttr, setText, toast } from './dom.js';
import { previewQuery } from './dataset-preview.js';
import { bytesText } from './format.js';
import { CLASS_COLOURS } from './insight/colour.js';
import { problemText } from './problem.js';
import {
  argmax, encodeWindow, featureDims, flatten, gridInput, inputKind, maxAbsDiff, msText, nested, paint,
  randomInput, shifted, softmax, verdict,
} from './try-model.js';

const VENDOR = new URL('../vendor/onnxruntime-web/', import.meta.url).href;
// The page's clock is coarse (0.1 ms where the page is not cross-origin isolated), so the time
// shown is the mean of as many runs as fit in TIMED_MS (at least 3, at most MAX_TIMED).
const TIMED_MS = 25;
const MAX_TIMED = 200;
const WRITTEN = 60; // characters a text model writes in the page
let ortModule = null;

/** onnxruntime-web, imported on first use (the runtime is about 15 MB). */
export function loadOrt() {
  ortModule ??= import(`${VENDOR}ort.wasm.min.mjs`).then((ort) => {
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmPaths = VENDOR;
    return ort;
  }).catch((err) => { ortModule = null; throw err; });
  return ortModule;
}

export class TryOnnx {
  /** button: the toolbar's Try button (shown once a trained model was exported). */
  constructor(button, { datasets }) {
    this.button = button;
    this.datasets = datasets;
    this.model = null; // {blob, name, runId, document, check}
    this.session = null;
    this.overlay = null;
    button.addEventListener('click', () => this.open());
  }

  /** A trained run's model was exported: it can be tried. */
  offer(model) {
    if (this.model?.runId !== model.runId) this.session = null;
    this.model = model;
    this.button.hidden = false;
    setAttr(this.button, 'title', `Run ${model.name} in this page and on the server, side by side`);
  }

  close() {
    this.overlay?.remove();
    this.overlay = null;
    this.button.focus();
  }

  async open() {
    if (!this.model) return;
    const { name, blob, runId } = this.model;
    this.status = h('p', { class: 'try-status' }, 'Loading onnxruntime-web…');
    this.inputHost = h('div', { class: 'try-input' });
    this.results = { page: resultBox('page', 'In this page'), server: resultBox('server', 'On the server') };
    this.verdict = h('p', { class: 'try-verdict', 'aria-live': 'polite' });
    this.times = h('p', { class: 'try-time' });
    this.card = h('div', { class: 'help-card try-card', dataset: { state: 'loading' } },
      h('header', {}, h('div', {}, h('h2', {}, 'Try the ONNX model'),
        h('p', { class: 'try-file' }, `${name} · ${bytesText(blob.size)} · trained by run ${runId}`)),
      h('button', { type: 'button', class: 'btn btn-round', 'aria-label': 'Close', onclick: () => this.close() }, '×')),
      this.status,
      h('div', { class: 'try-grid-layout' }, this.inputHost,
        h('div', { class: 'try-outputs' }, h('div', { class: 'try-results' }, this.results.page.el, this.results.server.el),
          this.verdict, this.times)));
    this.overlay?.remove();
    this.overlay = h('div', { class: 'help-overlay try-overlay', role: 'dialog', 'aria-modal': 'true', 'aria-label': 'Try the ONNX model',
      onclick: (e) => { if (e.target === this.overlay) this.close(); },
      // The editor's shortcuts (Space trains, Delete deletes) stay out of the dialog.
      onkeydown: (e) => { e.stopPropagation(); if (e.key === 'Escape') this.close(); },
      onkeyup: (e) => e.stopPropagation() }, this.card);
    document.body.append(this.overlay);
    this.card.querySelector('.btn-round').focus();
    try {
      const ort = await loadOrt();
      this.ort = ort;
      if (!this.session) {
        this.session = await ort.InferenceSession.create(new Uint8Array(await blob.arrayBuffer()), { executionProviders: ['wasm'] });
      }
      const meta = this.session.inputMetadata?.[0] || {};
      this.dims = featureDims(meta.shape);
      this.inputType = meta.type || 'float32';
      const spec = this.model.document?.training?.dataset || {};
      this.datasetMeta = this.datasets.get(spec.name) || null;
      this.preview = await this.loadPreview(spec);
      this.kind = inputKind(this.dims, spec.name);
      this.classes = this.preview?.classes || this.datasetMeta?.classes || null;
      this.card.dataset.state = 'ready';
      this.card.dataset.kind = this.kind;
      setAttr(this.card, 'data-ort-version', ort.env.versions?.web || '');
      setText(this.status, `onnxruntime-web ${ort.env.versions?.web || ''} · WebAssembly, 1 thread · input ${this.session.inputNames[0]} [${['batch', ...this.dims].join(', ')}]`);
      this.buildInput();
    } catch (err) {
      this.card.dataset.state = 'error';
      setText(this.status, `The model could not be run in this page: ${err.message || err}`);
      this.status.classList.add('is-error');
    }
  }

  async loadPreview(spec) {
    const meta = this.datasetMeta;
    const query = meta?.preview_url && meta.offline !== false ? previewQuery(spec, meta) : null;
    if (!query) return null;
    try { return await api.preview(meta.preview_url, { ...query, limit: 240 }); } catch { return null; }
  }

  buildInput() {
    const builders = { plane: () => this.planeInput(), grid: () => this.gridInput(), text: () => this.textInput(), random: () => this.randomInput() };
    this.inputHost.replaceChildren(...builders[this.kind]());
  }

  /** Run one input (flat, shaped as the model's input without the batch axis) both ways. */
  async run(flat) {
    const size = this.dims.reduce((a, b) => a * b, 1);
    if (flat.length !== size) throw new Error(`the input has ${flat.length} values; the model takes ${size}`);
    const shape = [1, ...this.dims];
    const page = await this.inPage(flat, shape, { timed: true });
    this.show('page', page.output, { ms: page.ms });
    let server = null;
    const asked = performance.now();
    try {
      const answer = await api.predict(this.model.runId, nested(flat, shape));
      server = { output: flatten(answer.output), ms: answer.seconds * 1000, trip: performance.now() - asked };
      this.show('server', server.output, { ms: server.ms, trip: server.trip });
    } catch (err) {
      this.results.server.body.replaceChildren(h('p', { class: 'try-error' }, problemText(err)));
      setAttr(this.results.server.el, 'data-top', null);
    }
    const diff = server ? maxAbsDiff(page.output, server.output) : Infinity;
    const v = verdict(diff);
    this.verdict.dataset.verdict = server ? (v.agrees ? 'agrees' : 'differs') : 'no-server';
    this.verdict.dataset.maxDiff = String(diff);
    setText(this.verdict, !server ? 'The server did not answer; only the page ran.'
      : `${v.agrees ? '✓' : '✗'} In this page the model ${v.text.replace(/^(agrees|differs)/, (w) => `${w} ${w === 'agrees' ? 'with' : 'from'} the server`)}`);
    setText(this.times, `In this page ${msText(page.ms)} a run (mean of ${page.runs}, WebAssembly)${server
      ? ` · on the server ${msText(server.ms)} (ONNX Runtime; ${msText(server.trip)} with the round trip)` : ''}`);
    this.card.dataset.runs = String((Number(this.card.dataset.runs) || 0) + 1); // inputs run both ways so far
    return page;
  }

  /** The model in the page: its output and, when timed, the mean time of a run. */
  async inPage(flat, shape, { timed = false } = {}) {
    const name = this.session.inputNames[0];
    const data = this.inputType === 'int64' ? BigInt64Array.from(flat, (v) => BigInt(Math.round(v))) : Float32Array.from(flat);
    const tensor = new this.ort.Tensor(this.inputType === 'int64' ? 'int64' : 'float32', data, shape);
    const feeds = { [name]: tensor };
    const first = await this.session.run(feeds);
    const output = Array.from(first[this.session.outputNames[0]].data, Number);
    if (!timed) return { output };
    let runs = 0;
    const t0 = performance.now();
    while (runs < 3 || (runs < MAX_TIMED && performance.now() - t0 < TIMED_MS)) {
      await this.session.run(feeds);
      runs += 1;
    }
    return { output, ms: (performance.now() - t0) / runs, runs };
  }

  /** One side's output: class probabilities as bars when the model classifies, else numbers. */
  show(side, output, { ms }) {
    const box = this.results[side];
    setAttr(box.el, 'data-ms', ms.toFixed(4));
    const classes = this.classes && this.classes.length === output.length ? this.classes : null;
    if (classes || (this.datasetMeta?.task === 'classification' && output.length > 1)) {
      const probs = softmax(output);
      const top = argmax(probs);
      setAttr(box.el, 'data-top', top);
      const order = probs.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]).slice(0, 10);
      const label = (i) => (classes ? String(classes[i]) : String(i));
      box.body.replaceChildren(h('p', { class: 'try-top' }, h('span', { class: 'try-top-label' }, this.kind === 'text' ? `“${visible(label(top))}”` : visible(label(top))),
        h('span', { class: 'try-top-p' }, `${(probs[top] * 100).toFixed(1)}%`)),
      h('ol', { class: 'try-bars' }, order.map(([p, i]) => h('li', { class: 'try-bar', dataset: { index: String(i) } },
        h('span', { class: 'try-bar-label' }, visible(label(i))),
        h('span', { class: 'try-bar-track' }, h('span', { class: 'try-bar-fill', style: { width: `${(p * 100).toFixed(1)}%` } })),
        h('span', { class: 'try-bar-p' }, p < 0.001 ? '<0.1%' : `${(p * 100).toFixed(1)}%`)))));
    } else {
      setAttr(box.el, 'data-top', null);
      box.body.replaceChildren(h('ol', { class: 'try-values' }, output.slice(0, 8).map((v) => h('li', {}, v.toPrecision(6)))),
        output.length > 8 ? h('p', { class: 'try-more' }, `and ${output.length - 8} more`) : null);
    }
    box.raw.textContent = `raw output [${output.length}]: ${output.slice(0, 4).map((v) => v.toPrecision(7)).join(', ')}${output.length > 4 ? ', …' : ''}`;
  }

  /** Runs one after another: a session runs one input at a time. */
  serial(fn) {
    const job = (this.chain || Promise.resolve()).then(fn);
    this.chain = job.catch(() => {});
    return job;
  }

  runGuarded(flat) {
    return this.serial(() => this.run(flat))
      .catch((err) => toast(`Could not run the model: ${err.message}`, { kind: 'error', timeout: 8000 }));
  }

  /** Draw on the image grid ([C, H, W]); each stroke runs the model; "A real one" takes a
   * validation image of the run's own dataset when its preview has that shape. */
  gridInput() {
    const [channels, rows, cols] = this.dims;
    const px = Math.max(5, Math.floor(280 / Math.max(rows, cols)));
    const grid = new Float32Array(rows * cols);
    const canvas = h('canvas', { class: 'try-grid', width: cols * px, height: rows * px,
      dataset: { h: String(rows), w: String(cols) }, 'aria-label': `Draw on a ${rows} by ${cols} grid` });
    const draw = () => {
      const ctx = canvas.getContext('2d');
      for (let r = 0; r < rows; r += 1) {
        for (let c = 0; c < cols; c += 1) {
          const g = Math.round(255 - grid[r * cols + c] * 235);
          ctx.fillStyle = `rgb(${g},${g},${Math.min(255, g + 6)})`;
          ctx.fillRect(c * px, r * px, px, px);
        }
      }
      ctx.strokeStyle = 'rgba(120,130,150,0.25)';
      ctx.lineWidth = 1;
      for (let i = 1; i < Math.max(rows, cols); i += 1) {
        if (i < cols) ctx.strokeRect(i * px, 0, 0, rows * px);
        if (i < rows) ctx.strokeRect(0, i * px, cols * px, 0);
      }
    };
    let down = false;
    const at = (e) => {
      const r = canvas.getBoundingClientRect();
      paint(grid, rows, cols, Math.floor(((e.clientY - r.top) / r.height) * rows), Math.floor(((e.clientX - r.left) / r.width) * cols));
      draw();
    };
    canvas.addEventListener('pointerdown', (e) => { down = true; canvas.setPointerCapture?.(e.pointerId); at(e); });
    canvas.addEventListener('pointermove', (e) => { if (down) at(e); });
    canvas.addEventListener('pointerup', () => { if (!down) return; down = false; this.runGuarded(gridInput(grid, channels)); });
    const real = (this.preview?.images || []).filter(() => (this.preview.shape || []).join() === this.dims.join());
    let next = 0;
    const buttons = h('div', { class: 'try-buttons' },
      h('button', { type: 'button', class: 'btn btn-small', onclick: () => { grid.fill(0); draw(); this.runGuarded(gridInput(grid, channels)); } }, 'Clear'),
      real.length ? h('button', { type: 'button', class: 'btn btn-small', onclick: () => {
        const img = real[next % real.length];
        next += 1;
        grid.set(img.slice(0, rows * cols));
        draw();
        this.runGuarded(Float32Array.from(img));
      } }, 'A real one') : null);
    draw();
    this.runGuarded(gridInput(grid, channels));
    return [h('p', { class: 'try-hint' }, `Draw with the mouse: each stroke runs the model (${rows}×${cols}${channels === 3 ? ', the grey in all 3 channels' : ''}).`),
      canvas, buttons];
  }

  /** Click a point of the input plane (the training points drawn faintly for orientation). */
  planeInput() {
    const size = 280;
    const [x0, x1, y0, y1] = this.preview?.extent || this.datasetMeta?.extent || [-1, 1, -1, 1];
    const canvas = h('canvas', { class: 'try-plane', width: size, height: size, 'aria-label': 'Click a point of the input plane' });
    const readout = h('p', { class: 'try-hint' }, 'Click a point: its coordinates are the input.');
    const draw = (point) => {
      const ctx = canvas.getContext('2d');
      ctx.clearRect(0, 0, size, size);
      const css = getComputedStyle(document.documentElement);
      ctx.fillStyle = css.getPropertyValue('--panel-2').trim() || '#f5f7fa';
      ctx.fillRect(0, 0, size, size);
      (this.preview?.x || []).forEach(([x, y], i) => {
        ctx.fillStyle = CLASS_COLOURS[Math.abs(Math.round(Number(this.preview.y?.[i]) || 0)) % CLASS_COLOURS.length];
        ctx.globalAlpha = 0.45;
        ctx.beginPath();
        ctx.arc(((x - x0) / (x1 - x0)) * size, size - ((y - y0) / (y1 - y0)) * size, 2.4, 0, Math.PI * 2);
        ctx.fill();
      });
      ctx.globalAlpha = 1;
      if (point) {
        const [px, py] = [((point[0] - x0) / (x1 - x0)) * size, size - ((point[1] - y0) / (y1 - y0)) * size];
        ctx.strokeStyle = css.getPropertyValue('--text').trim() || '#111';
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.arc(px, py, 7, 0, Math.PI * 2);
        ctx.moveTo(px - 12, py); ctx.lineTo(px + 12, py); ctx.moveTo(px, py - 12); ctx.lineTo(px, py + 12);
        ctx.stroke();
      }
    };
    canvas.addEventListener('click', (e) => {
      const r = canvas.getBoundingClientRect();
      const point = [x0 + ((e.clientX - r.left) / r.width) * (x1 - x0), y1 - ((e.clientY - r.top) / r.height) * (y1 - y0)];
      draw(point);
      setText(readout, `Input (${point[0].toFixed(3)}, ${point[1].toFixed(3)})`);
      this.runGuarded(Float32Array.from(point));
    });
    draw([0, 0]);
    this.runGuarded(Float32Array.from([0, 0]));
    return [readout, canvas];
  }

  /** Type a prompt: the page writes on from it, one greedy character a run; the server answers
   * for the prompt's own window. */
  textInput() {
    const vocab = this.preview?.classes || [];
    const seqLen = this.dims[0];
    const prompt = h('textarea', { class: 'try-prompt', id: 'try-prompt', name: 'try_prompt', rows: 3, spellcheck: 'false' });
    prompt.value = (this.preview?.preview || '').slice(0, seqLen);
    const written = h('p', { class: 'try-written' });
    const hint = h('p', { class: 'try-hint' }, `The last ${seqLen} characters are the input (padded with spaces).`);
    const write = async () => {
      const { ids, used, dropped } = encodeWindow(prompt.value, vocab, seqLen);
      const first = await this.run(ids);
      const out = [vocab[argmax(first.output)] ?? '?'];
      let window = shifted(ids, argmax(first.output));
      const started = performance.now();
      for (let i = 1; i < WRITTEN; i += 1) {
        const res = await this.inPage(window, [1, seqLen]);
        const next = argmax(res.output);
        out.push(vocab[next] ?? '?');
        window = shifted(window, next);
      }
      written.replaceChildren(h('span', { class: 'text-prompt' }, used), h('span', { class: 'text-written' }, out.join('')));
      setAttr(written, 'data-chars', out.length);
      setText(hint, `${WRITTEN} characters written greedily in the page in ${msText(performance.now() - started)}${
        dropped ? ` · ${dropped} characters the text never uses were left out` : ''}`);
    };
    this.serial(write).catch((err) => toast(`Could not run the model: ${err.message}`, { kind: 'error' }));
    return [h('label', { class: 'field-label', for: 'try-prompt' }, 'prompt'), prompt,
      h('div', { class: 'try-buttons' }, h('button', { type: 'button', class: 'btn btn-small btn-accent',
        onclick: () => this.serial(write).catch((err) => toast(`Could not run the model: ${err.message}`, { kind: 'error' })) }, 'Write')),
      written, hint];
  }

  /** Random numbers shaped as the input (the same ones for the page and the server). */
  randomInput() {
    const size = this.dims.reduce((a, b) => a * b, 1);
    let seed = 1;
    const text = h('p', { class: 'try-hint' });
    const again = () => {
      const values = randomInput(size, seed);
      setText(text, `Random normal input [${this.dims.join(', ')}], seed ${seed}: ${Array.from(values.slice(0, 4), (v) => v.toFixed(3)).join(', ')}${size > 4 ? ', …' : ''}`);
      seed += 1;
      this.runGuarded(values);
    };
    again();
    return [text, h('div', { class: 'try-buttons' }, h('button', { type: 'button', class: 'btn btn-small', onclick: again }, 'New random input'))];
  }
}

function resultBox(side, title) {
  const body = h('div', { class: 'try-result-body' }, h('p', { class: 'try-hint' }, 'Waiting for the first run…'));
  const raw = h('p', { class: 'try-raw' });
  return { el: h('section', { class: 'try-result', dataset: { side } }, h('h3', {}, title), body, raw), body, raw };
}

function visible(label) {
  return { '\n': '↵', ' ': '␣', '\t': '⇥' }[label] || label;
}
