// What a dqn run's environment looks like, as geometry (run_environment frames; CONTRACTS.md §6):
// each environment's `view` (GET /api/environments) turns a state vector into shapes in its own
// world units, y up, as Gymnasium's own renderers place them; a grid's cells, holes, goal, the
// agent and each cell's best action come from the catalog's `grid` and the frame's
// values/policy. Also the frame's words and its Q-values as bars. Pure: env-paint.js draws.

// Gymnasium's constants for the pictures (the environments' own source, not their rules).
const CART = { limit: 2.4, angle: (12 * Math.PI) / 180, pole: 1, w: 0.5, h: 0.3 };
const LANDER = { x: 10, y: 20 / 3, legAway: 20 / 30, legDown: 18 / 30, pad: 2 }; // world units per normalized unit
const LANDER_LOOK = 1.6; // the lander drawn larger than life: at scale it is a speck over its pad
const LANDER_BODY = [[-14, 17], [-17, 0], [-17, -10], [17, -10], [17, 0], [14, 17]]
  .map(([x, y]) => [(x / 30) * LANDER_LOOK, (y / 30) * LANDER_LOOK]);
const TERMINAL = new Set(['H', 'G', 'C']); // cells an episode ends in (or never rests in): no action to show

/** The height of MountainCar's hill at a position. */
export function hill(x) {
  return 0.45 * Math.sin(3 * x) + 0.55;
}

/** A state an environment could start in, for its picture before any frame (a grid: its start). */
export function restingState(env) {
  if (env?.view === 'grid') {
    const flat = (env.grid?.cells || []).join('');
    return [Math.max(0, flat.indexOf('S'))];
  }
  const size = env?.input_shape?.[0] || 0;
  const state = new Array(size).fill(0);
  if (env?.view === 'acrobot') Object.assign(state, [1, 0, 1, 0]); // hanging down: cos 0 = 1
  if (env?.view === 'mountain_car') state[0] = -0.5; // the valley
  if (env?.view === 'lunar_lander') state[1] = 1.4; // high above the pad
  return state;
}

/** A scene of one view: {view, world: [x0, x1, y0, y1], ...shapes}; null for a view it does not know. */
export function scene(env, state, frame = {}) {
  const s = (state || []).map(Number);
  const make = VIEWS[env?.view];
  return make ? make(s, env, frame) : null;
}

const VIEWS = {
  cartpole(s, env, frame) {
    const [x = 0, , theta = 0] = s;
    const top = CART.h;
    const fallen = Math.abs(theta) > CART.angle || Math.abs(x) > CART.limit;
    return {
      view: 'cartpole', world: [-2.75, 2.75, -0.3, 1.45], fallen, push: pushOf(env, frame.action),
      track: { x0: -CART.limit - 0.3, x1: CART.limit + 0.3, y: 0, limit: CART.limit },
      cart: { x: x - CART.w / 2, y: 0, w: CART.w, h: CART.h },
      pole: { x0: x, y0: top, x1: x + CART.pole * Math.sin(theta), y1: top + CART.pole * Math.cos(theta) },
      wedge: { x, y: top, r: CART.pole * 0.55, angle: CART.angle },
    };
  },

  acrobot(s, env, frame) {
    const [c1 = 1, s1 = 0, c2 = 1, s2 = 0] = s;
    const t1 = Math.atan2(s1, c1);
    const t12 = t1 + Math.atan2(s2, c2);
    const p1 = [Math.sin(t1), -Math.cos(t1)];
    const p2 = [p1[0] + Math.sin(t12), p1[1] - Math.cos(t12)];
    const torque = Number(/[-+]\d+/.exec(env?.action_names?.[frame.action] || '')?.[0] || 0);
    return { view: 'acrobot', world: [-2.3, 2.3, -2.3, 2.3], joints: [[0, 0], p1, p2], goal: 1,
      reached: p2[1] > 1, torque };
  },

  mountain_car(s, env, frame) {
    const [x = -0.5, v = 0] = s;
    const curve = Array.from({ length: 91 }, (_, i) => {
      const px = -1.2 + (1.8 * i) / 90;
      return [px, hill(px)];
    });
    return { view: 'mountain_car', world: [-1.25, 0.65, -0.05, 1.15], curve, velocity: v,
      car: { x, y: hill(x), angle: Math.atan(1.35 * Math.cos(3 * x)), w: 0.13, h: 0.055 },
      flag: { x: 0.5, y: hill(0.5), h: 0.14 }, push: pushOf(env, frame.action) };
  },

  lunar_lander(s, env, frame) {
    const [x = 0, y = 1.4, , , angle = 0, , left = 0, right = 0] = s;
    const X = x * LANDER.x;
    const Y = y * LANDER.y;
    const at = ([px, py]) => [X + px * Math.cos(angle) - py * Math.sin(angle), Y + px * Math.sin(angle) + py * Math.cos(angle)];
    const m = LANDER_LOOK;
    const legs = [-1, 1].map((side) => [at([side * LANDER.legAway * 0.6 * m, -0.2 * m]),
      at([side * LANDER.legAway * m, (-LANDER.legDown - 0.1) * m])]);
    const engine = /main|left|right/.exec(env?.action_names?.[frame.action] || '')?.[0] || null;
    const flame = (a, b) => [at(a.map((v) => v * m)), at(b.map((v) => v * m))];
    return { view: 'lunar_lander', world: [-10.5, 10.5, -1.6, 10.5], ground: (-LANDER.legDown - 0.1) * m,
      pad: [-LANDER.pad, LANDER.pad], body: LANDER_BODY.map(at), legs, contact: [left > 0.5, right > 0.5],
      engine, flame: { main: flame([0, -0.35], [0, -0.95]), left: flame([-0.6, 0.3], [-1.05, 0.3]),
        right: flame([0.6, 0.3], [1.05, 0.3]) } };
  },

  grid(s, env, frame) {
    const g = env.grid || { rows: 1, cols: 1, cells: ['F'], moves: [] };
    const flat = g.cells.join('');
    const agent = Math.round(s[0] ?? Math.max(0, flat.indexOf('S')));
    const values = Array.isArray(frame.values) && frame.values.length === flat.length ? frame.values : null;
    const policy = Array.isArray(frame.policy) && frame.policy.length === flat.length ? frame.policy : null;
    const cells = [...flat].map((kind, i) => {
      const open = !TERMINAL.has(kind);
      const move = open && policy ? g.moves?.[policy[i]] : null;
      return { r: Math.floor(i / g.cols), c: i % g.cols, kind, value: values && open ? values[i] : null,
        arrow: move ? { dr: move[0], dc: move[1], action: policy[i] } : null };
    });
    const shown = cells.filter((c) => c.value != null).map((c) => c.value);
    return { view: 'grid', world: [0, g.cols, 0, g.rows], rows: g.rows, cols: g.cols, cells,
      agent: { r: Math.floor(agent / g.cols), c: agent % g.cols, cell: agent },
      range: shown.length ? [Math.min(...shown), Math.max(...shown)] : null };
  },
};

/** -1 for an action named as a push to the left, +1 right, 0 none (from the catalog's names). */
function pushOf(env, action) {
  const name = env?.action_names?.[action] || '';
  return /left/.test(name) ? -1 : /right/.test(name) ? 1 : 0;
}

/** How a world box fits a w x h canvas, uniform scale, centred: toCanvas([x, y]) and the scale. */
export function fit(world, w, h, pad = 8) {
  const [x0, x1, y0, y1] = world;
  const k = Math.min((w - 2 * pad) / (x1 - x0), (h - 2 * pad) / (y1 - y0));
  const ox = (w - k * (x1 - x0)) / 2;
  const oy = (h - k * (y1 - y0)) / 2;
  return { k, toCanvas: ([x, y]) => [ox + (x - x0) * k, h - oy - (y - y0) * k] };
}

/** A picture's height for a width: a grid's cells square; other views as their world is
 * shaped, between 0.45 and 0.7 of the width. */
export function pictureHeight(env, width) {
  const g = env?.grid;
  if (g) return Math.round((width * g.rows) / g.cols);
  const [x0, x1, y0, y1] = scene(env, restingState(env))?.world || [0, 1, 0, 0.62];
  return Math.round(width * Math.min(0.7, Math.max(0.45, (y1 - y0) / (x1 - x0))));
}

/**
 * The Q-values as bars: [{action, name, value, best, taken, from, to}] with from/to in 0..1 of
 * the bar's width on a scale holding zero (a negative value grows left of it).
 */
export function qBars(q, names = [], taken = null) {
  const values = (q || []).map(Number);
  if (!values.length) return [];
  const lo = Math.min(0, ...values);
  const hi = Math.max(0, ...values);
  const span = hi - lo || 1;
  const best = values.indexOf(Math.max(...values));
  const zero = (0 - lo) / span;
  return values.map((v, i) => {
    const at = (v - lo) / span;
    return { action: i, name: names[i] || `action ${i}`, value: v, best: i === best, taken: i === taken,
      from: Math.min(zero, at), to: Math.max(zero, at) };
  });
}

const num = (v) => (Number.isInteger(v) ? String(v) : Number(v).toFixed(Math.abs(v) >= 100 ? 0 : 2));
const signed = (v) => (v > 0 ? `+${num(v)}` : num(v));

/** "Episode 12 · t 34 · push left → +1 · return 34": the frame in words. */
export function frameText(frame, env) {
  if (!frame) return '';
  const parts = [`Episode ${Number(frame.episode || 0).toLocaleString('en-US')}`, `t ${frame.t ?? 0}`];
  if (frame.action != null) {
    const name = env?.action_names?.[frame.action] ?? `action ${frame.action}`;
    parts.push(frame.reward == null ? name : `${name} → ${signed(frame.reward)}`);
  } else parts.push('reset');
  if (typeof frame.episode_return === 'number') parts.push(`return ${num(frame.episode_return)}`);
  return parts.join(' · ');
}

/** "[4] → 2 actions · solved at 475": an environment in a line (a grid's states are one-hot). */
export function envSummary(env) {
  if (!env) return '';
  const shape = `[${(env.input_shape || []).join(', ')}]`;
  const seen = env.observation?.kind === 'discrete' ? `${shape} one-hot cell` : shape;
  return `${seen} → ${env.actions} actions · solved at ${env.solved_return}`;
}
