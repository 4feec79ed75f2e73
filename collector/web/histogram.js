// A node's or an edge's response-time histogram (the graph's ResponseTimeHistogram) as SVG bars.
// Dragging across the bars (or clicking one) selects a range of response times, which narrows
// the trace list to the traces whose response time there falls in it, as the X-Ray console does.

import {h, s, fill} from './dom.js';
import {count, duration, niceStep} from './format.js';

const W = 420;
const H = 100;
const PLOT = {left: 36, right: W - 8, top: 10, bottom: H - 22};

/** Whether a drag across the bars is under way: a live refresh then leaves the chart alone. */
let dragging = false;

/** The q-quantile (0..1) of a histogram [{Value, Count}], in seconds. */
export function percentile(histogram, q) {
  const buckets = [...histogram].sort((a, b) => a.Value - b.Value);
  const total = buckets.reduce((n, b) => n + b.Count, 0);
  if (!total) return null;
  let seen = 0;
  for (const b of buckets) {
    seen += b.Count;
    if (seen >= q * total) return b.Value;
  }
  return buckets[buckets.length - 1].Value;
}

/**
 * Draws `histogram` into `container`. `range` is the selected {min, max} in seconds or null;
 * `onRange(range | null)` is called when the user selects or clears one.
 */
export function renderHistogram(container, histogram, range, onRange) {
  if (dragging && container.querySelector('.catcher')) return;
  const buckets = (histogram ?? []).filter((b) => Number.isFinite(b.Value) && b.Count > 0);
  if (!buckets.length) {
    fill(container, h('p', {class: 'note', text: 'No completed requests in this range.'}));
    return;
  }
  const total = buckets.reduce((n, b) => n + b.Count, 0);
  const maxValue = Math.max(...buckets.map((b) => b.Value), 0.001);
  const step = niceStep(maxValue, 30);
  const bins = Math.floor(maxValue / step) + 1;
  const domain = bins * step;
  const counts = new Array(bins).fill(0);
  for (const b of buckets) counts[Math.min(bins - 1, Math.floor(b.Value / step))] += b.Count;
  const maxCount = Math.max(...counts);

  const xOf = (seconds) => PLOT.left + ((PLOT.right - PLOT.left) * seconds) / domain;
  const secondsOf = (x) => Math.max(0, Math.min(domain, ((x - PLOT.left) * domain) / (PLOT.right - PLOT.left)));
  const barWidth = (PLOT.right - PLOT.left) / bins;

  const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, class: 'histogram-svg', role: 'img', 'aria-label': 'Response time histogram'});
  const bars = counts.map((n, i) => {
    const height = n ? Math.max(1.5, ((PLOT.bottom - PLOT.top) * n) / maxCount) : 0;
    const lo = i * step;
    const inside = range && lo + step > range.min && lo < range.max;
    return s('rect', {
      class: ['bar', range && (inside ? 'in' : 'out')],
      x: (PLOT.left + i * barWidth + 0.5).toFixed(1), width: Math.max(1, barWidth - 1).toFixed(1),
      y: (PLOT.bottom - height).toFixed(1), height: height.toFixed(1),
    }, s('title', {text: `${duration(lo)} – ${duration(lo + step)}: ${count(n)} requests`}));
  });
  const axis = [s('line', {class: 'axis', x1: PLOT.left, x2: PLOT.right, y1: PLOT.bottom, y2: PLOT.bottom})];
  const tick = niceStep(domain, 4);
  for (let t = 0; t <= domain + 1e-9; t += tick) {
    const anchor = t === 0 ? 'start' : xOf(t) > PLOT.right - 20 ? 'end' : 'middle';
    axis.push(s('text', {class: 'tick', x: xOf(t), y: H - 6, 'text-anchor': anchor, text: duration(t)}));
  }
  axis.push(s('text', {class: 'tick', x: PLOT.left - 6, y: PLOT.top + 8, 'text-anchor': 'end', text: count(maxCount)}));
  axis.push(s('text', {class: 'tick', x: PLOT.left - 6, y: PLOT.bottom, 'text-anchor': 'end', text: '0'}));
  const band = s('rect', {class: 'band', y: PLOT.top - 4, height: PLOT.bottom - PLOT.top + 4, x: 0, width: 0, visibility: 'hidden'});
  const showBand = (a, b) => {
    const x0 = xOf(Math.min(a, b));
    const x1 = xOf(Math.max(a, b));
    band.setAttribute('x', x0.toFixed(1));
    band.setAttribute('width', Math.max(1, x1 - x0).toFixed(1));
    band.setAttribute('visibility', 'visible');
  };
  if (range) showBand(range.min, Math.min(range.max, domain));
  const catcher = s('rect', {class: 'catcher', x: PLOT.left, y: 0, width: PLOT.right - PLOT.left, height: PLOT.bottom});
  svg.append(...bars, ...axis, band, catcher);

  const svgX = (event) => {
    const box = svg.getBoundingClientRect();
    return ((event.clientX - box.left) * W) / box.width;
  };
  let drag = null;
  catcher.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    catcher.setPointerCapture(event.pointerId);
    drag = {x: svgX(event), from: secondsOf(svgX(event))};
    dragging = true;
  });
  catcher.addEventListener('pointercancel', () => {
    drag = null;
    dragging = false;
  });
  catcher.addEventListener('pointermove', (event) => {
    if (drag) showBand(drag.from, secondsOf(svgX(event)));
  });
  catcher.addEventListener('pointerup', (event) => {
    if (!drag) return;
    const x = svgX(event);
    const from = drag.from;
    drag = null;
    dragging = false;
    if (Math.abs(x - (xOf(from))) < 3) {
      // A click: the bin under the pointer.
      const i = Math.min(bins - 1, Math.floor(from / step));
      onRange({min: i * step, max: (i + 1) * step});
    } else {
      const to = secondsOf(x);
      onRange({min: Math.min(from, to), max: Math.max(from, to)});
    }
  });

  const p50 = percentile(buckets, 0.5);
  const p99 = percentile(buckets, 0.99);
  const summary = h('p', {class: 'histogram-summary'},
    `${count(total)} requests · p50 ${duration(p50)} · p99 ${duration(p99)} · max ${duration(maxValue)}`);
  const selection = range
    ? h('p', {class: 'histogram-range'}, `Traces with a response time of ${duration(range.min)} – ${duration(range.max)} `,
      h('button', {type: 'button', class: 'link', id: 'histogram-clear', text: 'Clear', onclick: () => onRange(null)}))
    : null;
  fill(container, svg, summary, selection);
}
