// Unit tests for talk mode's DOM-free parts: the panel flags, the speed stops, share links, the
// audience link, the run links the audience follows, and the QR matrix (no browser).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { PANELS, PRESENTER_HIDES, hiddenPanels, parseHide, wantsPresenter } from '../../../static/js/talk/panels.js';
import { FULL, SPEEDS, shiftSpeed, speedLabel, speedMessage, stopOf } from '../../../static/js/talk/speed-stops.js';
import { designCore, runInHash, sameDesign, sharedRunId } from '../../../static/js/talk/share.js';
import { audienceLink, audienceSize } from '../../../static/js/talk/audience.js';
import { qrMatrix } from '../../../static/js/talk/qr.js';
import { TALK_SHORTCUTS } from '../../../static/js/talk/keys.js';
import { RunClient } from '../../../static/js/run-client.js';
import { actionFor, addShortcuts } from '../../../static/js/shortcuts.js';

test('the hide flag reads the query and the fragment, commas or repeats, and names unknowns', () => {
  assert.deepEqual(parseHide('?hide=palette,inspector', ''), { hidden: ['palette', 'inspector'], unknown: [] });
  assert.deepEqual(parseHide('', '#design=abc&hide=charts'), { hidden: ['charts'], unknown: [] });
  assert.deepEqual(parseHide('?hide=palette&hide=Charts', '#hide=palette'), { hidden: ['palette', 'charts'], unknown: [] });
  assert.deepEqual(parseHide('?hide=palette,bogus,,', ''), { hidden: ['palette'], unknown: ['bogus'] });
  assert.deepEqual(parseHide('', ''), { hidden: [], unknown: [] });
});

test('presenter mode adds its own hidden panels to the URL ones', () => {
  assert.ok(PRESENTER_HIDES.every((n) => n in PANELS));
  assert.deepEqual(hiddenPanels({ url: ['charts'] }), ['charts']);
  const presenting = hiddenPanels({ url: ['charts'], presenting: true });
  assert.ok(presenting.includes('charts') && presenting.includes('palette') && presenting.includes('inspector'));
  assert.deepEqual(hiddenPanels({ presenting: true, presenter: ['status', 'nonsense'] }), ['status']);
  assert.equal(wantsPresenter('?present', ''), true);
  assert.equal(wantsPresenter('', '#present=1'), true);
  assert.equal(wantsPresenter('?present=0', ''), false);
  assert.equal(wantsPresenter('?hide=palette', ''), false);
});

test('speed stops go from 1 step a second to full speed', () => {
  assert.deepEqual(SPEEDS, [1, 2, 5, 10, 30, 100, null]);
  assert.equal(stopOf(null), FULL);
  assert.equal(stopOf(2), 1);
  assert.equal(stopOf(3), 1); // nearest on a log scale: 3 is nearer 2 than 5
  assert.equal(stopOf(4), 2);
  assert.equal(shiftSpeed(null, -1), 100);
  assert.equal(shiftSpeed(100, 1), null);
  assert.equal(shiftSpeed(1, -1), 1);
  assert.equal(shiftSpeed(null, 1), null);
  let s = null;
  for (let i = 0; i < 5; i += 1) s = shiftSpeed(s, -1);
  assert.equal(s, 2);
  assert.equal(speedLabel(1), '1 step/s');
  assert.equal(speedLabel(30), '30 steps/s');
  assert.equal(speedLabel(null), 'Full speed');
  assert.deepEqual(speedMessage('r1', 't', undefined), { run_id: 'r1', token: 't', speed: null });
  assert.deepEqual(speedMessage('r1', 't', 5), { run_id: 'r1', token: 't', speed: 5 });
});

test('a share link carries a finished run of the same design only', () => {
  const doc = { name: 'A', nodes: [{ id: 'in', type: 'Input', params: {}, ui: { x: 1, y: 2 } }], edges: [], training: { seed: 0 } };
  const moved = { ...doc, name: 'B', nodes: [{ ...doc.nodes[0], ui: { x: 9, y: 9 } }] };
  const changed = { ...doc, training: { seed: 1 } };
  assert.ok(sameDesign(doc, moved));
  assert.ok(!sameDesign(doc, changed));
  assert.equal(designCore(doc), designCore(moved));
  const run = (state, document = doc) => ({ runId: 'r1', document, status: { state } });
  assert.equal(sharedRunId(run('finished'), moved), 'r1');
  assert.equal(sharedRunId(run('stopped'), doc), 'r1');
  assert.equal(sharedRunId(run('running'), doc), null);
  assert.equal(sharedRunId(run('failed'), doc), null);
  assert.equal(sharedRunId(run('finished'), changed), null);
  assert.equal(sharedRunId({ runId: null }, doc), null);
  assert.equal(runInHash('#design=abc&run=xyz'), 'xyz');
  assert.equal(runInHash('#design=abc'), null);
});

test('the audience link is /run/<id> on this origin; the speaker is not counted', () => {
  const link = audienceLink({ origin: 'http://10.0.0.5:5000', host: '10.0.0.5:5000' }, 'Ab3_x-9');
  assert.deepEqual(link, { url: 'http://10.0.0.5:5000/run/Ab3_x-9', host: '10.0.0.5:5000', path: '/run/Ab3_x-9' });
  assert.equal(audienceSize({ watchers: 4 }), 3);
  assert.equal(audienceSize({ watchers: 0 }), 0);
  assert.equal(audienceSize({}), null);
});

/** A Socket.IO connection that answers from a table and records what was sent. */
function fakeConnection(answers) {
  const handlers = {};
  return {
    connected: true,
    sent: [],
    on: (event, fn) => { handlers[event] = fn; },
    onState: () => {},
    push: (event, msg) => handlers[event]?.(msg),
    async request(event, payload) {
      this.sent.push([event, payload]);
      return answers[event] ? answers[event](payload) : { ok: true };
    },
  };
}

test('each new run links the previous run this page controlled, even after New', async () => {
  let n = 0;
  const conn = fakeConnection({ train: () => { n += 1; return { ok: true, run_id: `r${n}`, token: `t${n}` }; } });
  const linked = [];
  const rc = new RunClient(conn, { onLinked: (ack, from) => linked.push([ack.ok, from]) });
  await rc.train({});
  assert.deepEqual(conn.sent.map(([e]) => e), ['train']); // nothing before: nothing to link
  await rc.train({});
  rc.forget(); // New: the next run still takes the audience along
  await rc.train({});
  await new Promise((resolve) => setTimeout(resolve, 0));
  const links = conn.sent.filter(([e]) => e === 'follow_on').map(([, p]) => p);
  assert.deepEqual(links, [
    { run_id: 'r1', token: 't1', next_run_id: 'r2', next_token: 't2' },
    { run_id: 'r2', token: 't2', next_run_id: 'r3', next_token: 't3' },
  ]);
  assert.deepEqual(linked, [[true, 'r1'], [true, 'r2']]);
});

test('a watcher hears where the run went on: run_next, or the watch ack', async () => {
  const acks = {
    a: { ok: true, status: { state: 'stopped' }, history: [], next_run_id: 'b', latest_run_id: 'c' },
    c: { ok: true, status: { state: 'running' }, history: [], design_key: 'k' },
    d: { ok: true, status: { state: 'running' }, history: [] },
  };
  const conn = fakeConnection({ watch: ({ run_id: id }) => acks[id] });
  const next = [];
  const rc = new RunClient(conn, { onNext: (to, from) => next.push([from, to]) });
  await rc.watch('a');
  assert.deepEqual(next, [['a', 'c']]); // straight to the end of the chain
  await rc.watch('c');
  assert.equal(rc.designKey, 'k');
  conn.push('run_next', { run_id: 'x', next_run_id: 'y' }); // another run's: not this page's
  conn.push('run_next', { run_id: 'c', next_run_id: 'd' });
  assert.deepEqual(next, [['a', 'c'], ['c', 'd']]);
  conn.push('run_next', { run_id: 'd', next_run_id: 'e' }); // before the ack of d: kept for it
  await rc.watch('d');
  assert.deepEqual(next.at(-1), ['d', 'e']);
});

test('the QR matrix has the finder patterns in three corners', () => {
  const m = qrMatrix('http://192.168.1.20:5000/run/Ab3dE_9x');
  assert.ok(m.size >= 21 && (m.size - 17) % 4 === 0, `size ${m.size}`);
  for (const [r, c] of [[0, 0], [0, m.size - 7], [m.size - 7, 0]]) {
    for (let i = 0; i < 7; i += 1) {
      assert.ok(m.dark(r, c + i) && m.dark(r + 6, c + i) && m.dark(r + i, c) && m.dark(r + i, c + 6));
    }
    assert.ok(!m.dark(r + 1, c + 1) && m.dark(r + 3, c + 3));
  }
});

test('talk keys join the shortcut table; arrows change speed, digits open starters', () => {
  addShortcuts(TALK_SHORTCUTS);
  const ev = (key, mods = {}) => ({ key, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...mods });
  assert.equal(actionFor(ev(' ')), 'playPause');
  assert.equal(actionFor(ev('s')), 'stepOnce');
  assert.equal(actionFor(ev('r')), 'restart');
  assert.equal(actionFor(ev('p')), 'present');
  assert.equal(actionFor(ev('ArrowLeft')), 'slower');
  assert.equal(actionFor(ev('ArrowRight')), 'faster');
  assert.equal(actionFor(ev('ArrowUp')), 'nudge');
  assert.equal(actionFor(ev('ArrowLeft', { shiftKey: true })), 'nudge');
  assert.equal(actionFor(ev('4')), 'starter');
  assert.equal(actionFor(ev('0')), 'zoomReset');
  assert.equal(actionFor(ev('s', { ctrlKey: true })), 'save');
});
