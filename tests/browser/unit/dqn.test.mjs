// Unit tests for a dqn run on the page (no browser): what the training catalog gives the kind
// (charts over episodes with a goal, rates, which rate is marked), the environment picker's
// schema, the scenes drawn from run_environment states, the Q-value bars, the frame's words, the
// episode chart's arithmetic, the ε slider and progress counted in episodes. The catalogs are
// excerpts in the shapes GET /api/training and GET /api/environments serve.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { chartPlan, hparamPlan, kindEntry, markedMetrics, metricLabel } from '../../../static/js/insight/kinds.js';
import { envSummary, fit, frameText, hill, pictureHeight, qBars, restingState, scene } from '../../../static/js/insight/scenes.js';
import { episodeAt, episodeRows, movingAverage, returnRange } from '../../../static/js/episode-chart.js';
import { rateSlider } from '../../../static/js/fields.js';
import { progress } from '../../../static/js/progress.js';
import { MetricTable } from '../../../static/js/series.js';
import { TrainingSchema } from '../../../static/js/training-schema.js';

const DQN = { name: 'dqn', doc: 'A Q-network learns the value of each action.',
  steps: [{ name: 'both', label: 'Step' }],
  hparams: [{ name: 'lr', path: 'optimizer.lr', label: 'Learning rate', min: 0, min_exclusive: true, max: 10 },
    { name: 'epsilon', path: 'dqn.epsilon_start', label: 'Exploration ε', min: 0, max: 1, min_exclusive: false, default: 1 }],
  metrics: [
    { name: 'episode_return', chart: 'return', x: 'episode', average: 20, goal: 'solved_return', doc: 'Each episode\'s return' },
    { name: 'td_loss', chart: 'td_loss', x: 'step', average: null, goal: null },
    { name: 'q_mean', chart: 'q', x: 'step' }, { name: 'epsilon', chart: 'epsilon', x: 'step' },
    { name: 'episode', chart: null, x: 'step' }, { name: 'lr', chart: null, x: 'step' }] };
const CATALOG = { fields: [], kinds: [{ name: 'supervised', metrics: [], hparams: [{ name: 'lr' }] }, DQN] };

const CARTPOLE = { name: 'cartpole', title: 'CartPole', view: 'cartpole', input_shape: [4], actions: 2,
  action_names: ['push left', 'push right'], solved_return: 475, observation: { kind: 'vector', labels: ['x', 'v', 'θ', 'ω'] } };
const ACROBOT = { name: 'acrobot', view: 'acrobot', input_shape: [6], actions: 3, action_names: ['torque -1', 'no torque', 'torque +1'] };
const CAR = { name: 'mountain_car', view: 'mountain_car', input_shape: [2], actions: 3, action_names: ['push left', 'no push', 'push right'] };
const LANDER = { name: 'lunar_lander', view: 'lunar_lander', input_shape: [8], actions: 4,
  action_names: ['do nothing', 'fire left engine', 'fire main engine', 'fire right engine'] };
const LAKE = { name: 'frozen_lake', view: 'grid', input_shape: [16], actions: 4, action_names: ['left', 'down', 'right', 'up'],
  solved_return: 0.7, observation: { kind: 'discrete', labels: ['cell'] },
  grid: { rows: 4, cols: 4, cells: ['SFFF', 'FHFH', 'FFFH', 'HFFG'], moves: [[0, -1], [1, 0], [0, 1], [-1, 0]] } };

const near = (a, b, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} is not ${b}`);

test('a dqn\'s charts: the return over episodes with its average and goal, then TD loss, Q and ε', () => {
  const plan = chartPlan(kindEntry(CATALOG, 'dqn'));
  assert.deepEqual(plan.map((c) => [c.name, c.x ?? 'step', c.metrics.map((m) => m.name)]),
    [['return', 'episode', ['episode_return']], ['td_loss', 'step', ['td_loss']], ['q', 'step', ['q_mean']], ['epsilon', 'step', ['epsilon']]]);
  assert.deepEqual(plan[0].metrics[0], { name: 'episode_return', doc: 'Each episode\'s return', average: 20, goal: 'solved_return' });
  assert.equal(metricLabel('episode_return'), 'return');
  assert.equal(metricLabel('epsilon', { full: true }), 'Exploration ε');
});

test('ε is a live rate with its own chart: linear from 0, not marked as a change on the charts', () => {
  const [lr, eps] = hparamPlan(DQN);
  assert.deepEqual([lr.name, lr.charted, eps.name, eps.charted, eps.path.join('.')], ['lr', false, 'epsilon', true, 'dqn.epsilon_start']);
  assert.deepEqual([eps.min, eps.max, eps.min_exclusive], [0, 1, false]);
  assert.deepEqual(markedMetrics(DQN), ['lr']); // ε moves with every point: its chart shows it
  const linear = rateSlider(eps);
  assert.equal(linear.linear, true);
  assert.deepEqual([linear.toSlider(0), linear.toSlider(0.25), linear.toSlider(1), linear.toSlider(3)], [0, 250, 1000, 1000]);
  assert.deepEqual([linear.fromSlider(0), linear.fromSlider(70), linear.fromSlider(333), linear.fromSlider(1000)], [0, 0.07, 0.33, 1]);
  assert.equal(rateSlider(lr).linear, false); // a learning rate stays on the log slider
  assert.equal(rateSlider({}).linear, false);
});

test('the run card picks an environment for a kind that plays one, a dataset otherwise', () => {
  const schema = new TrainingSchema({ fields: [
    { path: 'kind', name: 'kind', type: 'choice', default: 'supervised', choices: ['supervised', 'dqn'], kinds: ['supervised', 'dqn'] },
    { path: 'dataset', name: 'dataset', type: 'dataset', default: null, kinds: ['supervised'] },
    { path: 'environment', name: 'environment', type: 'environment', default: null, kinds: ['dqn'] },
    { path: 'dqn.gamma', name: 'gamma', type: 'float', default: 0.99, kinds: ['dqn'] },
    { path: 'dqn.epsilon_start', name: 'epsilon_start', type: 'float', default: 1, kinds: ['dqn'] },
  ], kinds: CATALOG.kinds });
  assert.equal(schema.picker({}), 'dataset');
  assert.equal(schema.picker({ kind: 'dqn' }), 'environment');
  // Neither picker's field shows in the form, nor the live ε (the run card's row).
  assert.deepEqual(schema.formFields({ kind: 'dqn' }).map((f) => f.path), ['dqn.gamma']);
});

test('scenes: the cart and its pole, the acrobot, the car on its hill, the lander, a grid', () => {
  const cart = scene(CARTPOLE, [1, 0, 0.1, 0], { action: 0 });
  near(cart.cart.x + cart.cart.w / 2, 1);
  near(cart.pole.x1 - cart.pole.x0, Math.sin(0.1));
  assert.equal(cart.push, -1); // "push left"
  assert.equal(cart.fallen, false);
  assert.equal(scene(CARTPOLE, [0, 0, 0.3, 0]).fallen, true); // beyond 12 degrees
  const hanging = scene(ACROBOT, restingState(ACROBOT));
  assert.deepEqual(hanging.joints.map((p) => p.map((v) => Math.round(v * 1e9) / 1e9)), [[0, 0], [0, -1], [0, -2]]);
  assert.equal(hanging.reached, false);
  const up = scene(ACROBOT, [-1, 0, 1, 0, 0, 0], { action: 2 }); // both links pointing up
  near(up.joints[2][1], 2);
  assert.deepEqual([up.reached, up.torque], [true, 1]);
  const car = scene(CAR, [0.5, 0.01], { action: 2 });
  near(car.car.y, hill(0.5));
  assert.equal(car.push, 1);
  assert.equal(scene(CAR, [-0.5, 0], { action: 1 }).push, 0);
  const lander = scene(LANDER, [0.5, 0, 0, 0, 0, 0, 1, 0], { action: 2 });
  assert.equal(lander.engine, 'main');
  assert.deepEqual(lander.contact, [true, false]);
  near(lander.body.reduce((s, p) => s + p[0], 0) / lander.body.length, 5); // x 0.5 of half the width
  const values = Array.from({ length: 16 }, (_, i) => i / 15);
  const policy = Array.from({ length: 16 }, (_, i) => i % 4);
  const grid = scene(LAKE, [6], { values, policy });
  assert.deepEqual(grid.agent, { r: 1, c: 2, cell: 6 });
  const hole = grid.cells[5];
  assert.deepEqual([hole.kind, hole.value, hole.arrow], ['H', null, null]); // a hole ends the episode: no action
  assert.deepEqual(grid.cells[1].arrow, { dr: 1, dc: 0, action: 1 }); // "down"
  assert.equal(grid.cells[15].arrow, null); // the goal
  assert.deepEqual(grid.range, [0, 14 / 15]);
  assert.equal(scene({ view: 'nothing' }, [0]), null);
});

test('pictures fit their canvas, a grid with square cells', () => {
  const { k, toCanvas } = fit([0, 4, 0, 4], 200, 200, 0);
  assert.equal(k, 50);
  assert.deepEqual(toCanvas([0, 4]), [0, 0]); // y up: the top row is at the top
  assert.deepEqual(toCanvas([4, 0]), [200, 200]);
  assert.equal(pictureHeight(LAKE, 300), 300);
  assert.equal(pictureHeight({ ...LAKE, grid: { ...LAKE.grid, rows: 4, cols: 12 } }, 360), 120);
  const h = pictureHeight(CARTPOLE, 360);
  assert.ok(h >= 0.45 * 360 && h <= 0.7 * 360, h);
  assert.deepEqual(restingState(LAKE), [0]);
});

test('Q-values as bars on a scale holding zero, the greedy choice marked', () => {
  const bars = qBars([2, 4], CARTPOLE.action_names);
  assert.deepEqual(bars.map((b) => [b.name, b.best, b.from, b.to]), [['push left', false, 0, 0.5], ['push right', true, 0, 1]]);
  const negative = qBars([-3, -1, 1]);
  assert.deepEqual(negative.map((b) => [b.from, b.to]), [[0, 0.75], [0.5, 0.75], [0.75, 1]]);
  assert.equal(negative[2].name, 'action 2');
  assert.deepEqual(qBars([]), []);
});

test('a frame in words, and an environment in a line', () => {
  assert.equal(frameText({ episode: 12, t: 34, action: 0, reward: 1, episode_return: 34 }, CARTPOLE),
    'Episode 12 · t 34 · push left → +1 · return 34');
  assert.equal(frameText({ episode: 1, t: 0, action: null, reward: null, episode_return: 0 }, CARTPOLE), 'Episode 1 · t 0 · reset · return 0');
  assert.equal(frameText({ episode: 3, t: 5, action: 1, reward: -0.25, episode_return: -1.5 }, LAKE), 'Episode 3 · t 5 · down → -0.25 · return -1.50');
  assert.equal(envSummary(CARTPOLE), '[4] → 2 actions · solved at 475');
  assert.equal(envSummary(LAKE), '[16] one-hot cell → 4 actions · solved at 0.7');
});

test('the return chart: one point per episode, its moving average, the goal in range when near', () => {
  const t = new MetricTable();
  t.push([{ step: 10, epoch: 0, epsilon: 1 }, { step: 12, epoch: 1, episode: 1, episode_return: 12 },
    { step: 20, epoch: 1, td_loss: 0.3 }, { step: 30, epoch: 2, episode: 2, episode_return: 18 },
    { step: 45, epoch: 3, episode: 3, episode_return: 15 }]);
  const rows = episodeRows(t, 'episode_return');
  assert.deepEqual(rows, { x: [1, 2, 3], y: [12, 18, 15], steps: [12, 30, 45] });
  assert.deepEqual(movingAverage([2, 4, 6, 8], 2), [2, 3, 5, 7]);
  assert.deepEqual(movingAverage([1, 2, 3], 20), [1, 1.5, 2]);
  assert.deepEqual([episodeAt(rows, 5), episodeAt(rows, 12), episodeAt(rows, 40), episodeAt(rows, 1e9)], [0, 1, 2, 3]);
  const [lo, hi] = returnRange(10, 20, 25); // near: shown
  assert.ok(lo < 10 && hi > 25, [lo, hi]);
  const [, far] = returnRange(10, 20, 475); // far: named at the edge instead
  assert.ok(far < 30, far);
  const [below] = returnRange(-500, -200, -100); // Acrobot: solved above the data, near enough
  assert.ok(below < -500);
});

test('progress counts a dqn run\'s episodes against an episode bound, and environment steps', () => {
  const t = new MetricTable();
  t.push([{ step: 0, epoch: 0, time: 0 }, { step: 500, epoch: 10, time: 1 }]);
  const p = progress({ state: 'running', step: 500 }, t, { episodes: 40, batch_size: 64 });
  assert.equal(p.fraction, 0.25);
  assert.equal(p.episodes, 40);
  assert.equal(p.stepsPerSecond, 500);
  near(p.eta, 3);
});
