// What the charts draw over their lines besides rate changes: the stretches of a run before
// fine-tuning (a deep belief net's pre-training, layer by layer) shaded and named, and a
// baseline's dashed level (the random forest's figure). Each is a uPlot draw hook.

import { cssVar } from './insight/draw.js';

// Phases as the charts name them (a phase not listed is its own word).
const PHASE_WORDS = { pretrain: 'pre-training', train: 'fine-tuning' };

/** The phases before fine-tuning, shaded, each layer's stretch named, and the line where
 * fine-tuning begins (a deep belief net's pre-training). */
export function phaseMarks(table) {
  return (u) => {
    const before = table.phases.filter((s) => s.phase !== 'train');
    if (!before.length) return;
    const { ctx } = u;
    const { top, height, left, width } = u.bbox;
    const dpr = window.devicePixelRatio || 1;
    const x = (step) => Math.min(left + width, Math.max(left, Math.round(u.valToPos(step, 'x', true))));
    const end = x(before[before.length - 1].last);
    ctx.save();
    ctx.fillStyle = cssVar('--phase-band', 'rgba(100, 116, 139, 0.08)');
    ctx.fillRect(left, top, end - left, height);
    ctx.font = `600 ${11 * dpr}px Inter, system-ui, sans-serif`;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'alphabetic';
    ctx.fillStyle = cssVar('--muted', '#526075');
    ctx.strokeStyle = cssVar('--faint', '#8592a6');
    ctx.lineWidth = dpr;
    const halo = cssVar('--panel', '#ffffff');
    // Words at the foot of a stretch, on a halo of the panel's colour so a curve does not hide them.
    const write = (text, at) => {
      ctx.save();
      ctx.lineWidth = 3 * dpr;
      ctx.strokeStyle = halo;
      ctx.strokeText(text, at, top + height - 6 * dpr);
      ctx.restore();
      ctx.fillText(text, at, top + height - 6 * dpr);
    };
    let from = left;
    before.forEach((s, i) => {
      const to = x(s.last);
      // The first stretch names its phase too, where there is room ("pre-training h1", else "h1").
      const words = [`${i ? '' : `${PHASE_WORDS[s.phase] || s.phase} `}${s.layer || ''}`.trim(), s.layer || '']
        .find((w) => w && to - from > ctx.measureText(w).width + 8 * dpr);
      if (words) write(words, from + 5 * dpr);
      if (i < before.length - 1) {
        ctx.setLineDash([2 * dpr, 3 * dpr]);
        ctx.beginPath();
        ctx.moveTo(to, top);
        ctx.lineTo(to, top + height);
        ctx.stroke();
      }
      from = to;
    });
    ctx.setLineDash([]);
    ctx.beginPath();
    ctx.moveTo(end, top);
    ctx.lineTo(end, top + height);
    ctx.stroke();
    const next = PHASE_WORDS.train;
    if (left + width - end > ctx.measureText(next).width + 10 * dpr) write(next, end + 5 * dpr);
    ctx.restore();
  };
}

/** A baseline's dashed level across the chart, labelled at its right end. */
export function baselineLine(chart) {
  return (u) => {
    const b = chart.baseline;
    if (!b) return;
    const y = Math.round(u.valToPos(b.value, 'y', true));
    const { top, height, left, width } = u.bbox;
    if (!(y >= top && y <= top + height)) return;
    const { ctx } = u;
    const dpr = window.devicePixelRatio || 1;
    ctx.save();
    ctx.strokeStyle = cssVar('--baseline', '#15803d');
    ctx.fillStyle = ctx.strokeStyle;
    ctx.lineWidth = 2 * dpr;
    ctx.setLineDash([7 * dpr, 5 * dpr]);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(left + width, y);
    ctx.stroke();
    ctx.font = `700 ${11.5 * dpr}px Inter, system-ui, sans-serif`;
    ctx.textAlign = 'right';
    const text = `${b.label} ${chart.look.fmt(b.value)}`;
    // The words go on the side of the line the curves are not on now (under it when the
    // latest values all lie above it), where there is room.
    const latest = chart.look.series.map((s) => chart.table.last(s.name)).filter((v) => v != null);
    const curvesAbove = latest.length > 0 && Math.max(...latest.map((v) => u.valToPos(v, 'y', true))) < y;
    const room = { above: y - top > 18 * dpr, below: top + height - y > 18 * dpr };
    const above = room.above && (!curvesAbove || !room.below);
    ctx.textBaseline = above ? 'bottom' : 'top';
    const tx = left + width - 6 * dpr;
    const ty = above ? y - 4 * dpr : y + 4 * dpr;
    ctx.lineWidth = 3 * dpr; // a halo in the panel's colour keeps it readable over a curve
    ctx.setLineDash([]);
    ctx.strokeStyle = cssVar('--panel', '#ffffff');
    ctx.strokeText(text, tx, ty);
    ctx.fillText(text, tx, ty);
    ctx.restore();
  };
}
