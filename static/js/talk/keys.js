// Keys for giving a demo: play/pause, step, reset the weights, slower/faster, the starter
// designs, presenter mode, the audience card. They join the page's shortcut table (shortcuts.js),
// so the help overlay lists them and they stay quiet while someone types in a field.

import * as cmd from '../commands.js';
import { toast } from '../dom.js';
import { openDocument } from '../files.js';
import { ACTIVE } from '../progress.js';

const DIGITS = ['1', '2', '3', '4', '5', '6', '7', '8', '9'];

export const TALK_SHORTCUTS = [
  { group: 'Talk', keys: ['P'], action: 'present', label: 'Presenter mode: large type, full screen' },
  { group: 'Talk', keys: ['Space'], action: 'playPause', label: 'Train; then pause / resume', display: 'Space' },
  { group: 'Talk', keys: ['S'], action: 'stepOnce', label: 'One training step, then pause' },
  { group: 'Talk', keys: ['R'], action: 'restart', label: 'Reset the weights: stop, train afresh' },
  { group: 'Talk', keys: ['ArrowLeft'], action: 'slower', label: 'Slower (with layers selected: nudge)', display: '←' },
  { group: 'Talk', keys: ['ArrowRight'], action: 'faster', label: 'Faster (with layers selected: nudge)', display: '→' },
  { group: 'Talk', keys: DIGITS, action: 'starter', label: 'Open a starter design (Examples order)', display: '1 – 9' },
  { group: 'Talk', keys: ['A'], action: 'audience', label: 'Audience link and QR code' },
];

export class TalkKeys {
  constructor(app, training, { presenter, speed, audience }) {
    this.app = app;
    this.training = training;
    this.presenter = presenter;
    this.speed = speed;
    this.audience = audience;
    this.spaceTap = null; // Space pressed: it plays/pauses on release unless it panned (Space+drag)
    window.addEventListener('pointerdown', () => { if (this.spaceTap) this.spaceTap.dragged = true; }, true);
    window.addEventListener('keyup', (e) => {
      if (e.code !== 'Space' || !this.spaceTap) return;
      const tap = this.spaceTap;
      this.spaceTap = null;
      if (!tap.dragged) this.playPause();
    });
    window.addEventListener('blur', () => { this.spaceTap = null; });
  }

  /** Handle a shortcut action; true when it was a talk key (main.js then stops the event). */
  run(action, e) {
    const edit = !this.app.readOnly;
    if (this.audience.isOpen && action !== 'escape') return false; // its buttons keep their keys
    switch (action) {
      case 'escape': return this.audience.close();
      case 'present': return this.presenter.toggle();
      case 'audience': this.audience.open(); return true;
      case 'playPause':
        if (edit && !e.repeat) this.spaceTap = { dragged: false };
        return edit;
      case 'stepOnce': if (edit) this.stepOnce(); return edit;
      case 'restart': if (edit) this.restart(); return edit;
      case 'slower':
      case 'faster': return edit && this.arrow(action === 'slower' ? -1 : 1, e);
      case 'starter': return edit && this.starter(Number(e.key) - 1);
      default: return false;
    }
  }

  get state() {
    return this.app.runClient.status?.state || 'idle';
  }

  /** Space: Train when there is no run going, else Pause or Resume. */
  playPause() {
    const { actions, runClient } = this.training;
    if (this.state === 'paused' && runClient.controllable) return actions.resume();
    if (ACTIVE.has(this.state) && runClient.controllable) return actions.pause();
    if (ACTIVE.has(this.state)) {
      toast('This page watches the run but did not start it: it cannot pause it.', { timeout: 4000 });
      return null;
    }
    return actions.train();
  }

  /** S: one step then paused; with no run going, a new run that stops after its first step. */
  async stepOnce() {
    const { actions, runClient } = this.training;
    if (ACTIVE.has(this.state) && runClient.controllable) return actions.step();
    if (ACTIVE.has(this.state)) return null;
    await actions.train();
    return runClient.active && runClient.controllable ? actions.step() : null;
  }

  /** R: the same design from fresh weights: a new run id, which the audience follows to. */
  async restart() {
    const { actions, runClient } = this.training;
    if (runClient.active) {
      if (!runClient.controllable) {
        toast('This page watches the run but did not start it: it cannot restart it.', { timeout: 4000 });
        return null;
      }
      await actions.stop();
    }
    await actions.train();
    if (runClient.active) toast('Fresh weights: a new run of this design', { kind: 'ok', timeout: 2500 });
    return runClient.runId;
  }

  /** ←/→: a slider keeps its own arrows; selected layers are nudged; else the speed changes. */
  arrow(delta, e) {
    if (e.target instanceof HTMLInputElement && e.target.type === 'range') return false;
    if (this.app.store.selection.nodes.length && !this.presenter.on) {
      return cmd.nudge(this.app, e.key, e.shiftKey);
    }
    this.speed.shift(delta);
    return true;
  }

  /** 1-9: the starter designs, in the order of the Examples menu. */
  starter(index) {
    const ex = this.app.examples[index];
    if (!ex) {
      toast(`There are ${this.app.examples.length} starter designs.`, { timeout: 2500 });
      return true;
    }
    openDocument(this.app, ex.document, { tidy: true });
    toast(`${index + 1} · ${ex.name}`, { kind: 'ok', timeout: 2500 });
    return true;
  }
}
