// Where runs train and whether new ones can start: the server's `server_status` event (sent on
// connect and whenever it changes). With the Ray runner a lost cluster is shown on every page,
// editor and audience alike, and Train says why it cannot start; finished runs stay readable.

import { h, setAttr, setText } from './dom.js';

export class ServerStatus {
  /** root: where the banner shows (over the canvas, on every layout); conn: the Connection;
   * onChange(runner): the page re-renders what depends on it. */
  constructor(root, conn, { onChange = () => {} } = {}) {
    this.runner = null; // GET /api/health's `runner`, as last sent
    this.onChange = onChange;
    this.text = h('span', { class: 'server-banner-text' });
    this.el = h('div', { class: 'server-banner canvas-overlay', role: 'status', 'aria-live': 'polite', hidden: true },
      h('span', { class: 'server-banner-dot', 'aria-hidden': 'true' }), this.text);
    root.append(this.el);
    conn.on('server_status', (msg) => this.set(msg?.runner || null));
  }

  /** The runner cannot take new runs now (a cluster still connecting is not a loss). */
  get lost() {
    return Boolean(this.runner && !this.runner.ok && !this.runner.connecting);
  }

  set(runner) {
    this.runner = runner;
    const state = !runner || runner.ok ? null : runner.connecting ? 'connecting' : 'lost';
    this.el.hidden = !state;
    setAttr(this.el, 'data-runner-state', state);
    setAttr(this.el, 'role', state === 'lost' ? 'alert' : 'status');
    if (state === 'lost') {
      setText(this.text, `Training cluster unavailable: ${runner.message || 'no answer'}. New runs cannot start; `
        + 'finished runs can still be opened and exported.');
    } else if (state === 'connecting') {
      setText(this.text, `Connecting to the training cluster${runner.address ? ` at ${runner.address}` : ''}…`);
    }
    this.onChange(runner);
  }

  /** What the Train button says while the cluster is lost, or null. */
  trainBlock() {
    if (!this.lost) return null;
    return { short: 'Training cluster unavailable.', detail: `New runs cannot start: ${this.runner.message || 'the cluster does not answer'}.` };
  }
}
