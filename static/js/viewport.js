// Pan and zoom as numbers: screen = world * k + (x, y). Pure, so the math is unit-tested.

export const MIN_ZOOM = 0.2;
export const MAX_ZOOM = 2.5;

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

export function identity() {
  return { x: 0, y: 0, k: 1 };
}

export function toWorld(view, px, py) {
  return { x: (px - view.x) / view.k, y: (py - view.y) / view.k };
}

export function toScreen(view, wx, wy) {
  return { x: wx * view.k + view.x, y: wy * view.k + view.y };
}

/** Zoom by factor keeping the world point under (px, py) fixed. */
export function zoomAt(view, px, py, factor) {
  const k = clamp(view.k * factor, MIN_ZOOM, MAX_ZOOM);
  const w = toWorld(view, px, py);
  return { k, x: px - w.x * k, y: py - w.y * k };
}

export function panBy(view, dx, dy) {
  return { ...view, x: view.x + dx, y: view.y + dy };
}

/** The view that shows box {x, y, w, h} centred in a size {w, h} screen with padding. */
export function fitBox(box, size, { padding = 48, maxZoom = 1.25 } = {}) {
  if (!box || size.w <= 0 || size.h <= 0) return identity();
  const k = clamp(Math.min((size.w - 2 * padding) / Math.max(box.w, 1),
    (size.h - 2 * padding) / Math.max(box.h, 1)), MIN_ZOOM, maxZoom);
  return { k, x: size.w / 2 - (box.x + box.w / 2) * k, y: size.h / 2 - (box.y + box.h / 2) * k };
}

/** Normalised rectangle from two corner points. */
export function rectFrom(a, b) {
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y),
    w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) };
}

export function intersects(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** A smooth curve from an output port to an input port, as an SVG path. An input to the left
 * of its output (a wrapped band) gets a "return wire": out, along the lane (a y just above
 * the target, in the gap between bands), and in. */
export function edgePath(from, to, lane = (from.y + to.y) / 2) {
  if (to.x >= from.x + 24) {
    const c = Math.max(40, (to.x - from.x) / 2);
    return `M${from.x},${from.y} C${from.x + c},${from.y} ${to.x - c},${to.y} ${to.x},${to.y}`;
  }
  const r = 58;
  return `M${from.x},${from.y} C${from.x + r},${from.y} ${from.x + r},${lane} ${from.x},${lane} `
    + `L${to.x},${lane} C${to.x - r},${lane} ${to.x - r},${to.y} ${to.x},${to.y}`;
}

/** Where the shape label of that curve sits: its middle. */
export function edgeMid(from, to, lane = (from.y + to.y) / 2) {
  if (to.x >= from.x + 24) return { x: (from.x + to.x) / 2, y: (from.y + to.y) / 2 };
  return { x: (from.x + to.x) / 2, y: lane };
}
