// Paints a scene (scenes.js) on a 2-D canvas context in the theme's colours: the cart and its
// pole, the acrobot's links, the car on its hill, the lander over its pad, or a grid with the
// agent, the holes, the cliff and the goal, each cell coloured by its value with an arrow for
// its best action. Used by the Environment tab and the run card's preview.

import { css, valueDomain, valueRgb } from './colour.js';
import { cssVar, label, themeRgb } from './draw.js';
import { fit, restingState, scene } from './scenes.js';

/** The theme's colours for the pictures (environment.css defines the --env-* ones). */
export function palette() {
  return {
    sky: cssVar('--env-sky', '#f5f7fa'), ground: cssVar('--env-ground', '#d9dfe8'),
    line: cssVar('--border-strong', '#b8c2d1'), ink: cssVar('--text', '#0f172a'), muted: cssVar('--muted', '#526075'),
    faint: cssVar('--faint', '#8592a6'), body: cssVar('--env-body', '#334155'), pole: cssVar('--env-pole', '#d97706'),
    accent: cssVar('--accent', '#2457e6'), ok: cssVar('--ok', '#15803d'), danger: cssVar('--danger', '#d42020'),
    flame: cssVar('--env-flame', '#f97316'), flag: cssVar('--env-flag', '#eab308'), hole: cssVar('--env-hole', '#1e293b'),
    cliff: cssVar('--env-cliff', '#fca5a5'), goal: cssVar('--env-goal', '#86efac'), panel: themeRgb('--panel', '#ffffff'),
  };
}

/** Draw a scene into a w x h area of ctx (already sized); returns how it was fitted. */
export function paintScene(ctx, sc, w, h, colours = palette(), { small = false } = {}) {
  ctx.save();
  ctx.fillStyle = colours.sky;
  ctx.fillRect(0, 0, w, h);
  const placed = fit(sc.world, w, h, sc.view === 'grid' ? 0 : small ? 4 : 10);
  PAINTERS[sc.view]?.(ctx, sc, placed, colours, { w, h, small });
  ctx.restore();
  return placed;
}

/** An environment's picture before it plays (the run card's preview): its resting state. */
export function paintResting(ctx, env, w, h) {
  const sc = env && scene(env, restingState(env));
  if (sc) paintScene(ctx, sc, w, h, palette(), { small: w < 160 });
  return Boolean(sc);
}

const PAINTERS = {
  cartpole(ctx, sc, { k, toCanvas }, c) {
    const { track, cart, pole, wedge } = sc;
    ground(ctx, toCanvas, track.y, [sc.world[0], sc.world[1]], c);
    ctx.setLineDash([4, 4]);
    ctx.strokeStyle = c.faint;
    ctx.lineWidth = 1;
    for (const x of [-track.limit, track.limit]) line(ctx, toCanvas([x, track.y - 0.3]), toCanvas([x, track.y + 0.9]));
    ctx.setLineDash([]);
    // The angles the pole may lean to before the episode ends.
    const [px, py] = toCanvas([wedge.x, wedge.y]);
    ctx.fillStyle = c.ok;
    ctx.globalAlpha = 0.12;
    ctx.beginPath();
    ctx.moveTo(px, py);
    ctx.arc(px, py, wedge.r * k, -Math.PI / 2 - wedge.angle, -Math.PI / 2 + wedge.angle);
    ctx.closePath();
    ctx.fill();
    ctx.globalAlpha = 1;
    const [cx, cy] = toCanvas([cart.x, cart.y + cart.h]);
    roundRect(ctx, cx, cy, cart.w * k, cart.h * k, 3 * Math.max(1, k / 60), c.body);
    for (const dx of [0.12, cart.w - 0.12]) disc(ctx, toCanvas([cart.x + dx, cart.y]), Math.max(2, 0.05 * k), c.ink);
    ctx.strokeStyle = sc.fallen ? c.danger : c.pole;
    ctx.lineCap = 'round';
    ctx.lineWidth = Math.max(3, 0.09 * k);
    line(ctx, toCanvas([pole.x0, pole.y0]), toCanvas([pole.x1, pole.y1]));
    disc(ctx, toCanvas([pole.x0, pole.y0]), Math.max(2.5, 0.045 * k), c.accent);
    if (sc.push) push(ctx, toCanvas([cart.x + cart.w / 2 + sc.push * (cart.w / 2 + 0.28), cart.y + cart.h / 2]), sc.push, k, c.accent);
  },

  acrobot(ctx, sc, { k, toCanvas }, c, { small }) {
    const [x0, x1] = sc.world;
    ctx.strokeStyle = sc.reached ? c.ok : c.faint;
    ctx.setLineDash([5, 4]);
    ctx.lineWidth = 1.5;
    line(ctx, toCanvas([x0 + 0.1, sc.goal]), toCanvas([x1 - 0.1, sc.goal]));
    ctx.setLineDash([]);
    const [gx, gy] = toCanvas([x1 - 0.1, sc.goal]);
    if (!small) label(ctx, 'tip above here', gx, gy - 9, { align: 'right', size: 10.5, colour: sc.reached ? c.ok : c.muted });
    ctx.lineCap = 'round';
    ctx.lineWidth = Math.max(4, 0.13 * k);
    ctx.strokeStyle = c.body;
    line(ctx, toCanvas(sc.joints[0]), toCanvas(sc.joints[1]));
    ctx.strokeStyle = c.pole;
    line(ctx, toCanvas(sc.joints[1]), toCanvas(sc.joints[2]));
    disc(ctx, toCanvas(sc.joints[0]), Math.max(3, 0.07 * k), c.ink);
    disc(ctx, toCanvas(sc.joints[1]), Math.max(3, 0.07 * k), c.accent);
    disc(ctx, toCanvas(sc.joints[2]), Math.max(2.5, 0.05 * k), sc.reached ? c.ok : c.pole);
    if (sc.torque) { // an arc over the middle joint, turning the way the torque does
      const [jx, jy] = toCanvas(sc.joints[1]);
      const r = 0.3 * k;
      const ccw = sc.torque > 0; // in the world, y up: anticlockwise on the canvas too
      const [a, b] = ccw ? [-0.15 * Math.PI, -0.85 * Math.PI] : [-0.85 * Math.PI, -0.15 * Math.PI];
      ctx.strokeStyle = c.accent;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(jx, jy, r, a, b, ccw);
      ctx.stroke();
      head(ctx, [jx + r * Math.cos(b), jy + r * Math.sin(b)], b + (ccw ? -Math.PI / 2 : Math.PI / 2), 7, c.accent);
    }
  },

  mountain_car(ctx, sc, { k, toCanvas }, c) {
    const [, , y0] = sc.world;
    ctx.fillStyle = c.ground;
    ctx.beginPath();
    ctx.moveTo(...toCanvas([sc.curve[0][0], y0]));
    for (const p of sc.curve) ctx.lineTo(...toCanvas(p));
    ctx.lineTo(...toCanvas([sc.curve[sc.curve.length - 1][0], y0]));
    ctx.closePath();
    ctx.fill();
    ctx.strokeStyle = c.line;
    ctx.lineWidth = 2;
    ctx.beginPath();
    sc.curve.forEach((p, i) => ctx[i ? 'lineTo' : 'moveTo'](...toCanvas(p)));
    ctx.stroke();
    flag(ctx, toCanvas([sc.flag.x, sc.flag.y]), sc.flag.h * k, c);
    const { car } = sc;
    const [cx, cy] = toCanvas([car.x, car.y]);
    ctx.save();
    ctx.translate(cx, cy);
    ctx.rotate(-car.angle);
    roundRect(ctx, -car.w * k / 2, -car.h * k - 0.025 * k, car.w * k, car.h * k, 3, c.body);
    for (const dx of [-0.4, 0.4]) disc(ctx, [dx * car.w * k, -0.02 * k], Math.max(2.5, 0.018 * k), c.ink);
    if (sc.push) push(ctx, [sc.push * (car.w * k / 2 + 0.05 * k), -car.h * k * 0.7], sc.push, k * 0.3, c.accent);
    ctx.restore();
  },

  lunar_lander(ctx, sc, { k, toCanvas }, c, { w, h }) {
    ctx.fillStyle = c.ground; // the moon, flat here (its hills are random and not in the state)
    const [, gy] = toCanvas([0, sc.ground]);
    ctx.fillRect(0, gy, w, h - gy);
    for (const x of sc.pad) flag(ctx, toCanvas([x, sc.ground]), 1.1 * k, c);
    if (sc.engine) {
      const [a, b] = sc.flame[sc.engine];
      ctx.strokeStyle = c.flame;
      ctx.lineCap = 'round';
      ctx.lineWidth = Math.max(3, (sc.engine === 'main' ? 0.35 : 0.2) * k);
      line(ctx, toCanvas(a), toCanvas(b));
    }
    ctx.lineWidth = Math.max(1.5, 0.1 * k);
    sc.legs.forEach(([a, b], i) => {
      ctx.strokeStyle = sc.contact[i] ? c.ok : c.body;
      line(ctx, toCanvas(a), toCanvas(b));
    });
    ctx.fillStyle = c.accent;
    ctx.beginPath();
    sc.body.forEach((p, i) => ctx[i ? 'lineTo' : 'moveTo'](...toCanvas(p)));
    ctx.closePath();
    ctx.fill();
  },

  grid(ctx, sc, { k, toCanvas }, c, { small }) {
    const domain = sc.range ? valueDomain(...sc.range) : null;
    for (const cell of sc.cells) {
      const [x, y] = toCanvas([cell.c, sc.rows - cell.r]);
      ctx.fillStyle = cell.kind === 'H' ? c.hole : cell.kind === 'C' ? c.cliff : cell.kind === 'G' ? c.goal
        : cell.value != null && domain ? css(valueRgb(cell.value, domain, c.panel)) : css(c.panel);
      ctx.fillRect(x, y, k, k);
      if (small) continue;
      if (cell.kind === 'S' || cell.kind === 'G') {
        const word = k >= 48 ? (cell.kind === 'S' ? 'start' : 'goal') : cell.kind; // small cells: S and G
        label(ctx, word, x + 3, y + 8, { size: Math.min(11, Math.max(9, k / 4.5)), colour: c.ink });
      }
      if (cell.kind === 'H') label(ctx, 'hole', x + k / 2, y + k / 2, { align: 'center', size: Math.min(11, k / 4.5), colour: '#e2e8f0' });
      if (cell.arrow) arrow(ctx, [x + k / 2, y + k / 2], cell.arrow, k * 0.3, c.ink);
    }
    if (!small) { // a run of cliff cells is named once, in its middle
      for (const run of runs(sc.cells, 'C')) {
        const [x, y] = toCanvas([(run.c0 + run.c1 + 1) / 2, sc.rows - run.r - 0.5]);
        label(ctx, 'cliff', x, y, { align: 'center', size: Math.min(12, k / 4), colour: c.ink });
      }
    }
    ctx.strokeStyle = c.line;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let r = 0; r <= sc.rows; r += 1) {
      const [ax, ay] = toCanvas([0, r]);
      const [bx] = toCanvas([sc.cols, r]);
      ctx.moveTo(ax, Math.round(ay) + 0.5);
      ctx.lineTo(bx, Math.round(ay) + 0.5);
    }
    for (let col = 0; col <= sc.cols; col += 1) {
      const [ax, ay] = toCanvas([col, 0]);
      const [, by] = toCanvas([col, sc.rows]);
      ctx.moveTo(Math.round(ax) + 0.5, ay);
      ctx.lineTo(Math.round(ax) + 0.5, by);
    }
    ctx.stroke();
    // The agent: a ring round its cell's centre, so that the cell's arrow still shows inside.
    const [ax, ay] = toCanvas([sc.agent.c + 0.5, sc.rows - sc.agent.r - 0.5]);
    const r = k * 0.3;
    ctx.lineWidth = Math.max(4, k * 0.1) + 3;
    ctx.strokeStyle = css(c.panel);
    ctx.beginPath();
    ctx.arc(ax, ay, r, 0, Math.PI * 2);
    ctx.stroke();
    ctx.lineWidth = Math.max(4, k * 0.1);
    ctx.strokeStyle = c.accent;
    ctx.stroke();
    if (small) disc(ctx, [ax, ay], r * 0.6, c.accent);
  },
};

/** Runs of cells of one kind along each row: [{r, c0, c1}]. */
function runs(cells, kind) {
  const out = [];
  for (const cell of cells) {
    const last = out[out.length - 1];
    if (cell.kind !== kind) continue;
    if (last && last.r === cell.r && last.c1 === cell.c - 1) last.c1 = cell.c;
    else out.push({ r: cell.r, c0: cell.c, c1: cell.c });
  }
  return out;
}

function line(ctx, [ax, ay], [bx, by]) {
  ctx.beginPath();
  ctx.moveTo(ax, ay);
  ctx.lineTo(bx, by);
  ctx.stroke();
}

function disc(ctx, [x, y], r, fill) {
  ctx.fillStyle = fill;
  ctx.beginPath();
  ctx.arc(x, y, r, 0, Math.PI * 2);
  ctx.fill();
}

function roundRect(ctx, x, y, w, h, r, fill) {
  ctx.fillStyle = fill;
  ctx.beginPath();
  ctx.roundRect(x, y, w, h, r);
  ctx.fill();
}

function ground(ctx, toCanvas, y, [x0, x1], c) {
  const [ax, ay] = toCanvas([x0, y]);
  const [bx] = toCanvas([x1, y]);
  ctx.strokeStyle = c.line;
  ctx.lineWidth = 2;
  line(ctx, [ax, ay], [bx, ay]);
}

/** A flag on a pole whose foot is at (x, y), `h` pixels tall. */
function flag(ctx, [x, y], h, c) {
  ctx.strokeStyle = c.ink;
  ctx.lineWidth = 1.5;
  line(ctx, [x, y], [x, y - h]);
  ctx.fillStyle = c.flag;
  ctx.beginPath();
  ctx.moveTo(x, y - h);
  ctx.lineTo(x + h * 0.45, y - h * 0.85);
  ctx.lineTo(x, y - h * 0.7);
  ctx.closePath();
  ctx.fill();
}

/** An arrowhead at (x, y) pointing along `angle` (canvas radians). */
function head(ctx, [x, y], angle, size, fill) {
  ctx.fillStyle = fill;
  ctx.beginPath();
  ctx.moveTo(x + size * Math.cos(angle), y + size * Math.sin(angle));
  ctx.lineTo(x + size * Math.cos(angle + 2.5), y + size * Math.sin(angle + 2.5));
  ctx.lineTo(x + size * Math.cos(angle - 2.5), y + size * Math.sin(angle - 2.5));
  ctx.closePath();
  ctx.fill();
}

/** The push of an action: a short arrow left (-1) or right (+1) starting at (x, y). */
function push(ctx, [x, y], dir, k, colour) {
  const len = Math.max(12, 0.3 * k);
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2.5;
  line(ctx, [x, y], [x + dir * len, y]);
  head(ctx, [x + dir * (len + 3), y], dir > 0 ? 0 : Math.PI, 6, colour);
}

/** A cell's best action: an arrow from its centre along (dc, dr) (rows grow downwards). */
function arrow(ctx, [x, y], { dr, dc }, len, colour) {
  const n = Math.hypot(dr, dc) || 1;
  const [ux, uy] = [dc / n, dr / n];
  ctx.save();
  ctx.globalAlpha = 0.75;
  ctx.strokeStyle = colour;
  ctx.lineWidth = Math.max(1.5, len / 9);
  ctx.lineCap = 'round';
  line(ctx, [x - ux * len * 0.6, y - uy * len * 0.6], [x + ux * len * 0.55, y + uy * len * 0.55]);
  head(ctx, [x + ux * len, y + uy * len], Math.atan2(uy, ux), Math.max(4, len / 2.6), colour);
  ctx.restore();
}
