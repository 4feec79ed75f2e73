// A node's numbers per minute over the range, as three small SVG charts: requests (stacked by
// outcome), faults and errors (on their own scale, so a few stand out), and p50/p99 latency.

import {h, s, fill} from './dom.js';
import {clock, count, duration} from './format.js';

const W = 420;
const PLOT = {left: 40, right: W - 6, top: 6, bottom: 44};

function frame(title, total, body) {
  return h('figure', {class: 'chart'},
    h('figcaption', null, h('span', {text: title}), h('span', {class: 'muted', text: total})),
    body);
}

/** Draws `minutes` ([{Time, Requests, Ok, Errors, Throttles, Faults, P50, P99}]) over [start, end]. */
export function renderCharts(container, allMinutes, start, end) {
  const t0 = Math.floor(start / 60) * 60;
  const t1 = Math.max(t0 + 60, Math.ceil(end / 60) * 60);
  // A range ending on a whole minute gets a row for that minute too: it lies past the plot.
  const minutes = allMinutes.filter((m) => m.Time >= t0 && m.Time < t1);
  if (!minutes.length) {
    fill(container, h('p', {class: 'note', text: 'No numbers for this range.'}));
    return;
  }
  const slots = Math.round((t1 - t0) / 60);
  const slot = (PLOT.right - PLOT.left) / slots;
  const xOf = (time) => PLOT.left + ((time - t0) / 60) * slot;

  // Only the last chart labels the time axis; the three share it.
  const chart = (series, maxValue, format, lines, timeAxis) => {
    const height = timeAxis ? PLOT.bottom + 14 : PLOT.bottom + 2;
    const svg = s('svg', {viewBox: `0 0 ${W} ${height}`, class: 'chart-svg'});
    const y = (v) => PLOT.bottom - ((PLOT.bottom - PLOT.top) * v) / (maxValue || 1);
    svg.append(
      s('line', {class: 'axis', x1: PLOT.left, x2: PLOT.right, y1: PLOT.bottom, y2: PLOT.bottom}),
      s('text', {class: 'tick', x: PLOT.left - 5, y: PLOT.top + 7, 'text-anchor': 'end', text: format(maxValue)}));
    if (timeAxis) {
      svg.append(
        s('text', {class: 'tick', x: PLOT.left, y: height - 2, text: clock(t0)}),
        s('text', {class: 'tick', x: PLOT.right, y: height - 2, 'text-anchor': 'end', text: clock(t1)}));
    }
    if (lines) {
      for (const {key, cls} of series) {
        const points = minutes.filter((m) => m[key] !== null && m[key] !== undefined)
          .map((m) => `${(xOf(m.Time) + slot / 2).toFixed(1)},${y(m[key]).toFixed(1)}`);
        if (points.length === 1) {
          const [cx, cy] = points[0].split(',');
          svg.append(s('circle', {class: ['dot', cls], cx, cy, r: 2.5}));
        } else if (points.length) {
          svg.append(s('polyline', {class: ['line', cls], points: points.join(' ')}));
        }
      }
    } else {
      for (const m of minutes) {
        let base = 0;
        for (const {key, cls} of series) {
          const v = m[key] ?? 0;
          if (!v) continue;
          const top = y(base + v);
          svg.append(s('rect', {class: ['bar', cls], x: (xOf(m.Time) + 0.5).toFixed(1), width: Math.max(1, slot - 1).toFixed(1),
            y: top.toFixed(1), height: Math.max(1, y(base) - top).toFixed(1)}));
          base += v;
        }
      }
    }
    // One hover target per minute, telling all of its numbers.
    for (const m of minutes) {
      const tip = `${clock(m.Time)}: ${count(m.Requests ?? 0)} requests, ${count(m.Faults ?? 0)} faults, ` +
        `${count(m.Errors ?? 0)} errors, ${count(m.Throttles ?? 0)} throttles, p50 ${duration(m.P50)}, p99 ${duration(m.P99)}`;
      svg.append(s('rect', {class: 'hover-slot', x: xOf(m.Time).toFixed(1), width: slot.toFixed(1), y: 0, height: PLOT.bottom},
        s('title', {text: tip})));
    }
    return svg;
  };

  const sum = (key) => minutes.reduce((n, m) => n + (m[key] ?? 0), 0);
  const max = (f) => Math.max(0, ...minutes.map(f));
  const requests = chart(
    [{key: 'Ok', cls: 'ok'}, {key: 'Errors', cls: 'error'}, {key: 'Throttles', cls: 'throttle'}, {key: 'Faults', cls: 'fault'}],
    max((m) => m.Requests ?? 0), count, false, false);
  const problems = chart(
    [{key: 'Errors', cls: 'error'}, {key: 'Throttles', cls: 'throttle'}, {key: 'Faults', cls: 'fault'}],
    max((m) => (m.Errors ?? 0) + (m.Throttles ?? 0) + (m.Faults ?? 0)), count, false, false);
  const latency = chart([{key: 'P50', cls: 'p50'}, {key: 'P99', cls: 'p99'}], max((m) => m.P99 ?? m.P50 ?? 0), duration, true, true);
  const p99s = minutes.map((m) => m.P99).filter((v) => v !== null && v !== undefined);
  fill(container,
    frame('Requests', `${count(sum('Requests'))} in range`, requests),
    frame('Faults · errors · throttles', `${count(sum('Faults'))} · ${count(sum('Errors'))} · ${count(sum('Throttles'))}`, problems),
    frame('Latency p50 · p99', p99s.length ? `worst p99 ${duration(Math.max(...p99s))}` : '', latency));
}
