// Talk mode: give a live demo from Layerlab while the audience watches on their own screens.
// Presenter mode, demo keys, slow motion, the audience link with its QR code and watcher count
// (an audience page follows the speaker on to each new run), the run's seed in view, and share
// links that carry a finished run. main.js makes one talk, asks it first about every shortcut,
// and calls refresh() whenever the run changes.

import { $, h, setAttr, setText } from '../dom.js';
import { openDocument } from '../files.js';
import { addShortcuts } from '../shortcuts.js';
import { Audience } from './audience.js';
import { Follower } from './follow.js';
import { TALK_SHORTCUTS, TalkKeys } from './keys.js';
import { Presenter } from './presenter.js';
import { openSharedRun } from './share.js';
import { SpeedControl } from './speed.js';

const TICK_MS = 500; // the measured speed and the watcher count are redrawn this often

/** The run's seed, beside its state: a rehearsed demo repeats on stage with the same seed. */
function seedChip(app) {
  const chip = h('button', { type: 'button', class: 'seed-chip', dataset: { talk: 'seed' },
    title: 'The design\'s seed (training.seed): weights, data order and dropout repeat with it. '
      + 'Change it in the training settings.' });
  chip.addEventListener('click', () => {
    if (app.readOnly) return;
    app.store.clearSelection();
    requestAnimationFrame(() => $('.training-form [name="seed"]')?.focus());
  });
  $('.run-meta')?.append(chip);
  return () => {
    const doc = app.runClient?.document && app.runClient.active ? app.runClient.document : app.store.doc;
    const seed = doc?.training?.seed ?? 0;
    setText(chip, `seed ${seed}`);
    setAttr(chip, 'data-seed', seed);
  };
}

export function createTalk(app, training) {
  addShortcuts(TALK_SHORTCUTS);
  const audience = new Audience(app);
  const presenter = new Presenter(app, audience);
  const speed = app.readOnly ? null : new SpeedControl(app, $('.run-card .lr-row'));
  const keys = new TalkKeys(app, training, { presenter, speed, audience });
  const follower = app.readOnly ? new Follower(app, { openDocument }) : null;
  const renderSeed = seedChip(app);
  // The run card's "Audience link" opens the card (QR code, copy, open) instead of only copying.
  training.actions.audience = () => audience.open();

  let runId = null;
  function refresh() {
    const run = app.runClient;
    if (!run) return;
    if (run.runId !== runId) {
      runId = run.runId;
      speed?.newRun(); // a new run hears the page's speed before its first step where it can
    }
    speed?.adopt(run.status);
    audience.update(run);
    renderSeed();
  }
  app.store.subscribe(renderSeed);
  setInterval(() => {
    speed?.renderMeasured();
    refresh();
  }, TICK_MS);
  refresh();

  return {
    presenter, speed, audience, refresh,
    /** A shortcut action: true when talk mode handled it. */
    run: (action, e) => keys.run(action, e),
    /** Open the run a "#run=" link names; false when there is none. */
    openShared: () => openSharedRun(app, { openDocument }),
    /** The run shown went on to runId: the audience page follows (the speaker's page stays). */
    follow: (runId) => follower?.follow(runId),
  };
}
