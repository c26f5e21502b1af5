// The status strip under the canvas (valid or not, total params, the first problem) and the
// list of every problem: those about a node select it on click, the others open the training
// settings at the field concerned.

import { h, setAttr, setText } from './dom.js';
import { bytesText, compact, macsText } from './format.js';

export class Problems {
  constructor(root, { selectNode, showTraining }) {
    this.root = root;
    this.badge = root.querySelector('.status-valid');
    this.total = root.querySelector('.status-total');
    this.first = root.querySelector('.status-first');
    this.toggle = root.querySelector('.problems-toggle');
    this.list = root.querySelector('.problems-list');
    this.panel = root.querySelector('.problems');
    this.hooks = { selectNode, showTraining };
    this.open = false;
    this.count = 0;
    this.toggle.addEventListener('click', () => this.show(!this.open));
    document.addEventListener('pointerdown', (e) => {
      if (this.open && !root.contains(e.target)) this.show(false);
    });
  }

  show(open) {
    this.open = open && this.count > 0;
    this.panel.hidden = !this.open;
    setAttr(this.toggle, 'aria-expanded', String(this.open));
  }

  /** A link to one problem (a link, not a button: its text never reads as a command). */
  link(e) {
    return h('a', {
      href: '#', class: 'problem', dataset: { node: e.node || '', param: e.param || '' },
      onclick: (ev) => {
        ev.preventDefault();
        this.show(false);
        if (e.node) this.hooks.selectNode(e.node);
        else this.hooks.showTraining(e.param);
      },
    }, h('span', { class: 'problem-where' }, where(e)), h('span', { class: 'problem-text' }, e.message));
  }

  render(report, doc, { pending = false } = {}) {
    const errors = report?.errors || [];
    this.count = errors.length;
    const empty = !doc.nodes.length;
    const ok = report?.ok && !errors.length;
    this.root.dataset.status = empty ? 'empty' : ok ? 'ok' : report ? 'error' : 'checking';
    setText(this.badge, empty ? 'Empty design' : !report ? 'Checking…'
      : ok ? 'Valid design' : `${errors.length} ${errors.length === 1 ? 'problem' : 'problems'}`);
    this.root.classList.toggle('is-pending', pending);
    const total = report?.total_params || 0;
    const macs = report?.total_macs || 0;
    const bytes = Object.values(report?.activations || {}).reduce((a, b) => a + b, 0);
    const cost = [macs ? macsText(macs) : null, bytes ? `${bytesText(bytes)} activations` : null].filter(Boolean);
    setText(this.total, empty ? 'Drag layers from the left to begin'
      : `${compact(total)} ${total === 1 ? 'parameter' : 'parameters'}${ok ? '' : ' so far'}${
        cost.length ? ` · ${cost.join(' · ')}` : ''}`);
    setAttr(this.total, 'title', total || macs ? `${total.toLocaleString('en-US')} trainable parameters${
      macs ? `; ${macs.toLocaleString('en-US')} multiply-accumulates and ${bytesText(bytes)} of layer outputs for one example` : ''}` : null);
    this.first.replaceChildren(...(errors.length && !empty ? [this.link(errors[0])] : []));
    this.toggle.hidden = errors.length < 2;
    setText(this.toggle, `All ${errors.length}`);
    this.list.replaceChildren(...errors.map((e) => h('li', {}, this.link(e))));
    if (!errors.length) this.show(false);
  }
}

function where(e) {
  if (e.node) return e.node;
  return e.param ? e.param.replace(/^training\./, 'training · ') : 'design';
}

/** Why Train is disabled, or null: {short, detail} from the report. Pure. */
export function trainBlock(doc, report, { connected = true } = {}) {
  if (!doc.nodes.length) return { short: 'Add layers to train.', detail: 'The design is empty.' };
  if (!connected) {
    return { short: 'Not connected to the server.', detail: 'Training needs the live connection; it reconnects by itself.' };
  }
  if (!report) return null;
  const errors = report.errors || [];
  if (!errors.length && report.ok) return null;
  const first = errors[0];
  const n = errors.length;
  return {
    short: `Fix ${n} ${n === 1 ? 'problem' : 'problems'} to train${first ? `: ${first.node ? `${first.node}: ` : ''}${first.message}` : '.'}`,
    detail: `Can't train yet: ${errors.map((e) => `${e.node ? `${e.node}: ` : ''}${e.message}`).join('; ')}`,
  };
}
