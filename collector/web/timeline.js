// A trace's timeline (waterfall): its segments and their subsegments as nested rows, each with a
// bar on the trace's time axis, coloured by outcome. A segment called through a subsegment of
// another (its parent_id is that subsegment's id) nests under that call. Clicking a row shows
// what the document says: http / sql / aws blocks, annotations, metadata, errors and causes
// with their stack frames. Every value is document data and goes in as text.

import {h, fill, pairs} from './dom.js';
import {clockMs, dateTime, duration, niceStep, segmentOutcome} from './format.js';

/** Rows of the trace: [{id, doc, kind, depth, children}], parents before children. */
function tree(trace) {
  const nodes = new Map();
  const roots = [];
  const problems = [];
  const add = (doc, kind, parent) => {
    const node = {id: String(doc.id ?? ''), doc, kind, children: [], parent};
    if (node.id && !nodes.has(node.id)) nodes.set(node.id, node);
    for (const sub of Array.isArray(doc.subsegments) ? doc.subsegments : []) {
      if (sub && typeof sub === 'object') node.children.push(add(sub, 'subsegment', node));
    }
    return node;
  };
  const segments = [];
  for (const segment of trace.Segments ?? []) {
    let doc;
    try {
      doc = JSON.parse(segment.Document);
    } catch (error) {
      problems.push(`segment ${segment.Id}: ${error.message}`);
      continue;
    }
    if (!doc || typeof doc !== 'object') continue;
    segments.push(add(doc, doc.inferred === true ? 'inferred' : 'segment', null));
  }
  for (const segment of segments) {
    const parent = segment.doc.parent_id !== undefined ? nodes.get(String(segment.doc.parent_id)) : undefined;
    if (parent && parent !== segment && !isAncestor(segment, parent)) {
      segment.parent = parent;
      parent.children.push(segment);
    } else {
      roots.push(segment);
    }
  }
  const start = (n) => Number(n.doc.start_time) || 0;
  const order = (list) => {
    list.sort((a, b) => start(a) - start(b) || (a.kind === 'inferred') - (b.kind === 'inferred'));
    list.forEach((n) => order(n.children));
  };
  order(roots);
  return {roots, nodes, problems};
}

function isAncestor(candidate, node) {
  for (let p = node; p; p = p.parent) if (p === candidate) return true;
  return false;
}

function label(doc) {
  return String(doc.name ?? '(no name)');
}

export class Timeline {
  constructor() {
    this.title = document.getElementById('trace-title');
    this.rowsEl = document.getElementById('timeline');
    this.detailsEl = document.getElementById('segment-details');
    this.collapsed = new Set();
    this.rowsEl.addEventListener('click', (event) => {
      const toggle = event.target.closest('.tl-toggle');
      const row = event.target.closest('[data-segment]');
      if (!row) return;
      const id = row.getAttribute('data-segment');
      if (toggle) {
        if (this.collapsed.has(id)) this.collapsed.delete(id);
        else this.collapsed.add(id);
        this.drawRows();
        return;
      }
      this.selectRow(id);
    });
    this.rowsEl.addEventListener('keydown', (event) => {
      const row = event.target.closest('[data-segment]');
      if (row && event.key === 'Enter') this.selectRow(row.getAttribute('data-segment'));
    });
  }

  /** Shows a message instead of a trace. */
  message(text) {
    fill(this.title);
    fill(this.rowsEl, h('p', {class: 'note', text}));
    fill(this.detailsEl);
  }

  /** Shows `trace` (a BatchGetTraces entry). */
  show(trace) {
    this.trace = trace;
    this.collapsed.clear();
    const {roots, nodes, problems} = tree(trace);
    this.roots = roots;
    this.nodes = nodes;
    const all = [...nodes.values()];
    const starts = all.map((n) => Number(n.doc.start_time)).filter(Number.isFinite);
    const ends = all.map((n) => Number(n.doc.end_time)).filter(Number.isFinite);
    this.t0 = starts.length ? Math.min(...starts) : 0;
    this.t1 = Math.max(this.t0 + 1e-6, ...ends, ...starts);
    const root = roots.find((n) => n.kind === 'segment') ?? roots[0];
    const http = root?.doc.http ?? {};
    const outcome = root ? segmentOutcome(root.doc) : 'ok';
    fill(this.title,
      h('div', {class: 'trace-name'},
        h('span', {class: ['status', outcome], text: String(http.response?.status ?? outcome)}),
        h('strong', {text: root ? label(root.doc) : 'trace'}),
        http.request?.method ? h('span', {class: 'method', text: String(http.request.method)}) : null,
        http.request?.url ? h('span', {class: 'url', text: String(http.request.url)}) : null),
      h('div', {class: 'muted trace-meta'},
        `${String(trace.Id ?? '')} · ${dateTime(this.t0)} · ${duration(this.t1 - this.t0)} · ${nodes.size} segments and subsegments`),
      problems.length ? h('pre', {class: 'error', text: problems.join('\n')}) : null);
    this.drawRows();
    if (root) this.selectRow(root.id);
    else fill(this.detailsEl);
  }

  drawRows() {
    const span = this.t1 - this.t0;
    const pct = (t) => (100 * (t - this.t0)) / span;
    const axis = h('div', {class: 'tl-axis'}, h('div', {class: 'tl-name', text: 'Name'}));
    const ticks = h('div', {class: 'tl-track'});
    const step = niceStep(span, 6);
    for (let t = 0; t <= span + 1e-9; t += step) {
      const tick = h('span', {class: 'tl-tick', text: duration(t)});
      tick.style.left = `${(100 * t) / span}%`;
      ticks.append(tick);
    }
    axis.append(ticks);
    const rows = [axis];
    const walk = (node, depth) => {
      const doc = node.doc;
      const start = Number(doc.start_time);
      const end = Number(doc.end_time);
      const running = doc.in_progress === true || !Number.isFinite(end);
      const outcome = segmentOutcome(doc);
      const namespace = node.kind === 'subsegment' ? doc.namespace : node.kind;
      const name = h('div', {class: 'tl-name', title: label(doc)},
        node.children.length
          ? h('button', {type: 'button', class: 'tl-toggle', 'aria-label': 'collapse or expand', text: this.collapsed.has(node.id) ? '▸' : '▾'})
          : h('span', {class: 'tl-toggle-space'}),
        h('span', {class: 'tl-label', text: label(doc)}),
        namespace ? h('span', {class: ['tag', String(namespace) === 'inferred' && 'inferred'], text: String(namespace)}) : null);
      name.style.paddingLeft = `${4 + depth * 14}px`;
      const track = h('div', {class: 'tl-track'});
      if (Number.isFinite(start)) {
        const left = pct(start);
        const right = running ? 100 : pct(end);
        const bar = h('span', {class: ['tl-bar', outcome, running && 'running', node.kind === 'inferred' && 'inferred']});
        bar.style.left = `${left}%`;
        bar.style.width = `${Math.max(0.3, right - left)}%`;
        // After the bar: the track keeps a margin on its right for the last one.
        const text = h('span', {class: 'tl-dur', text: running ? 'in progress' : duration(end - start)});
        text.style.left = `${right}%`;
        track.append(bar, text);
      }
      rows.push(h('div', {class: ['tl-row', node.kind, node.id === this.selected && 'selected'], 'data-segment': node.id, tabindex: 0, role: 'button'}, name, track));
      if (!this.collapsed.has(node.id)) node.children.forEach((child) => walk(child, depth + 1));
    };
    this.roots.forEach((root) => walk(root, 0));
    fill(this.rowsEl, rows);
  }

  selectRow(id) {
    this.selected = id;
    for (const row of this.rowsEl.querySelectorAll('[data-segment]')) {
      row.classList.toggle('selected', row.getAttribute('data-segment') === id);
    }
    const node = this.nodes.get(id);
    if (node) fill(this.detailsEl, details(node));
  }
}

/** A JSON value as indented text. */
function json(value) {
  return h('pre', {class: 'json', text: JSON.stringify(value, null, 2)});
}

/** An object's plain fields as pairs, nested objects as JSON. */
function fields(object) {
  return pairs(Object.entries(object ?? {}).map(([k, v]) => [k, v !== null && typeof v === 'object' ? json(v) : v]));
}

function block(title, ...content) {
  return h('section', {class: 'detail-block'}, h('h4', {text: title}), ...content);
}

/** What one segment or subsegment document says. */
function details(node) {
  const doc = node.doc;
  const start = Number(doc.start_time);
  const end = Number(doc.end_time);
  const outcome = segmentOutcome(doc);
  const out = [h('div', {class: 'detail-head'},
    h('span', {class: ['status', outcome], text: outcome}),
    h('strong', {text: label(doc)}),
    h('span', {class: 'tag', text: node.kind === 'subsegment' ? `subsegment${doc.namespace ? ` · ${doc.namespace}` : ''}` : node.kind}))];
  out.push(block('Overview', pairs([
    ['id', doc.id],
    ['parent', doc.parent_id],
    ['trace', doc.trace_id],
    ['origin', doc.origin],
    ['start', Number.isFinite(start) ? clockMs(start * 1000) : ''],
    ['end', Number.isFinite(end) ? clockMs(end * 1000) : ''],
    ['duration', Number.isFinite(start) && Number.isFinite(end) ? duration(end - start) : 'in progress'],
    ['user', doc.user],
    ['service', doc.service ? JSON.stringify(doc.service) : ''],
    ['flags', ['fault', 'error', 'throttle'].filter((f) => doc[f] === true).join(', ')],
  ])));
  if (doc.http) {
    out.push(block('HTTP',
      doc.http.request ? h('h5', {text: 'request'}) : null, doc.http.request ? fields(doc.http.request) : null,
      doc.http.response ? h('h5', {text: 'response'}) : null, doc.http.response ? fields(doc.http.response) : null));
  }
  if (doc.sql) out.push(block('SQL', fields(doc.sql)));
  if (doc.aws) out.push(block('AWS', fields(doc.aws)));
  if (doc.annotations && Object.keys(doc.annotations).length) out.push(block('Annotations', fields(doc.annotations)));
  if (doc.metadata && Object.keys(doc.metadata).length) out.push(block('Metadata', json(doc.metadata)));
  if (doc.cause !== undefined) out.push(block('Errors and causes', cause(doc.cause)));
  return out;
}

/** A cause: an exception id (its details sit in a child), or {working_directory, paths, exceptions}. */
function cause(value) {
  if (typeof value === 'string') {
    return h('p', {class: 'note', text: `Caused by exception ${value}, recorded in a subsegment.`});
  }
  if (!value || typeof value !== 'object') return json(value);
  const parts = [];
  if (value.working_directory) parts.push(pairs([['working directory', value.working_directory]]));
  for (const exception of Array.isArray(value.exceptions) ? value.exceptions : []) {
    const stack = Array.isArray(exception?.stack) ? exception.stack : [];
    parts.push(h('div', {class: 'exception'},
      h('div', {class: 'exception-head'},
        h('strong', {text: String(exception?.type ?? 'Exception')}),
        exception?.remote ? h('span', {class: 'tag', text: 'remote'}) : null,
        h('span', {class: 'exception-message', text: String(exception?.message ?? '')})),
      stack.length
        ? h('ol', {class: 'stack'}, stack.map((frame) => h('li', null,
          h('span', {class: 'frame-label', text: String(frame?.label ?? '')}),
          h('span', {class: 'frame-path', text: `${String(frame?.path ?? '')}${frame?.line !== undefined ? `:${frame.line}` : ''}`}))))
        : null,
      exception?.truncated || exception?.skipped
        ? h('p', {class: 'muted', text: `${exception.truncated ?? 0} frames truncated, ${exception.skipped ?? 0} skipped`})
        : null,
      exception?.cause ? h('p', {class: 'muted', text: `caused by ${String(exception.cause)}`}) : null));
  }
  if (Array.isArray(value.paths) && value.paths.length) parts.push(pairs([['paths', value.paths.join('\n')]]));
  return parts.length ? parts : json(value);
}
