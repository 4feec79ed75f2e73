// The service map: GetServiceGraph drawn as SVG. A node is a ring split by its requests'
// outcomes (ok green, 4xx yellow, 5xx red, 429 purple, as the X-Ray console colours them) with
// its average latency and requests per minute inside and its name below; an edge is an arrow
// from caller to callee labelled with its request count and average latency. Hovering
// highlights a node's neighbourhood; clicking selects a node or an edge. The view pans (drag)
// and zooms (wheel, buttons), and positions stay put between refreshes (layout.js).

import {s} from './dom.js';
import {count, duration, outcomes, percent, perMinute, truncate} from './format.js';
import {Layout} from './layout.js';

const RADIUS = 26;
const CLIENT_RADIUS = 11;
const OUTCOMES = ['ok', 'error', 'throttle', 'fault'];
const LABEL_SPOTS = [0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78];

/** A node's id on the page and in data-node: "Name|Type". */
export function nodeId(service) {
  return `${service.Name ?? ''}|${service.Type ?? ''}`;
}

/** The nodes and edges of a GetServiceGraph answer, keyed by id. */
export function graphOf(answer) {
  const services = answer?.Services ?? [];
  const byRef = new Map(services.map((sv) => [sv.ReferenceId, nodeId(sv)]));
  const nodes = new Map();
  const edges = new Map();
  for (const sv of services) {
    const id = nodeId(sv);
    nodes.set(id, {
      id,
      name: String(sv.Name ?? ''),
      type: String(sv.Type ?? ''),
      client: sv.Type === 'client',
      stats: outcomes(sv.SummaryStatistics),
      histogram: sv.ResponseTimeHistogram ?? [],
    });
  }
  for (const sv of services) {
    for (const edge of sv.Edges ?? []) {
      const to = byRef.get(edge.ReferenceId);
      if (to === undefined) continue;
      const from = nodeId(sv);
      const id = `${from}->${to}`;
      edges.set(id, {id, from, to, stats: outcomes(edge.SummaryStatistics), histogram: edge.ResponseTimeHistogram ?? []});
    }
  }
  // A client has no statistics of its own: its requests are its edge's.
  for (const node of nodes.values()) {
    if (!node.client) continue;
    const edge = [...edges.values()].find((e) => e.from === node.id);
    if (edge) {
      node.stats = edge.stats;
      node.histogram = edge.histogram;
    }
  }
  return {nodes, edges};
}

/** A node's name and type for the API: {Name, Type}. */
export function nodeRef(id) {
  const bar = id.lastIndexOf('|');
  return {Name: id.slice(0, bar), Type: id.slice(bar + 1)};
}

function bezier(p, t) {
  const u = 1 - t;
  return {
    x: u * u * u * p[0].x + 3 * u * u * t * p[1].x + 3 * u * t * t * p[2].x + t * t * t * p[3].x,
    y: u * u * u * p[0].y + 3 * u * u * t * p[1].y + 3 * u * t * t * p[2].y + t * t * t * p[3].y,
  };
}

const overlaps = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

export class ServiceMap {
  /** `svg` is the #map element; `onSelect({kind, id} | null)` is called on clicks. */
  constructor(svg, {onSelect}) {
    this.svg = svg;
    this.onSelect = onSelect;
    this.layout = new Layout();
    this.view = {x: 0, y: 0, k: 1};
    this.userMoved = false;
    this.graph = {nodes: new Map(), edges: new Map()};
    this.selected = null;
    this.hovered = null;
    const marker = (id, cls) => s('marker', {id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse', markerUnits: 'userSpaceOnUse'},
      s('path', {d: 'M 0 0 L 10 5 L 0 10 z', class: cls}));
    this.viewport = s('g', {class: 'viewport'});
    this.edgeLayer = s('g', {class: 'edges'});
    this.nodeLayer = s('g', {class: 'nodes'});
    this.labelLayer = s('g', {class: 'edge-labels'});
    this.viewport.append(this.edgeLayer, this.nodeLayer, this.labelLayer);
    svg.append(s('defs', null, marker('arrow', 'arrow-head'), marker('arrow-hl', 'arrow-head hl')), this.viewport);
    this.listen();
  }

  // ----- drawing ---------------------------------------------------------------------------

  /** Draws `graph` (from graphOf); `minutes` is the range's length, for requests per minute. */
  render(graph, minutes) {
    this.graph = graph;
    this.minutes = minutes;
    const ids = [...graph.nodes.keys()];
    const box = this.svg.getBoundingClientRect();
    this.layout.place(ids, [...graph.edges.values()].map((e) => [e.from, e.to]), {width: box.width, height: box.height});
    const pos = this.layout.positions;

    const maxCount = Math.max(1, ...[...graph.edges.values()].map((e) => e.stats?.total ?? 0));
    const edgeEls = [];
    const labels = [];
    for (const edge of graph.edges.values()) {
      const geometry = this.edgePath(pos.get(edge.from), pos.get(edge.to), graph.nodes.get(edge.from), graph.nodes.get(edge.to));
      const total = edge.stats?.total ?? 0;
      const width = 1.2 + (2.8 * Math.log1p(total)) / Math.log1p(maxCount);
      // Tinted when at least 5% of its calls fault: a hint, not an alarm.
      const faulty = edge.stats && edge.stats.total && edge.stats.fault / edge.stats.total >= 0.05 ? 'faulty' : null;
      const d = `M ${geometry.points[0].x} ${geometry.points[0].y} C ${geometry.points[1].x} ${geometry.points[1].y}, ${geometry.points[2].x} ${geometry.points[2].y}, ${geometry.points[3].x} ${geometry.points[3].y}`;
      edgeEls.push(s('g', {class: ['edge', faulty], 'data-edge': edge.id, tabindex: 0, role: 'button', 'aria-label': `${edge.from} to ${edge.to}`},
        s('title', {text: this.edgeTitle(edge)}),
        s('path', {class: 'edge-hit', d}),
        s('path', {class: 'edge-line', d, 'stroke-width': width.toFixed(2), 'marker-end': 'url(#arrow)'})));
      labels.push({edge, geometry, text: edge.stats ? `${count(total)} req · ${duration(edge.stats.avg)}` : ''});
    }
    const nodeEls = [...graph.nodes.values()].map((node) => this.nodeElement(node, pos.get(node.id)));
    this.edgeLayer.replaceChildren(...edgeEls);
    this.nodeLayer.replaceChildren(...nodeEls);
    this.labelLayer.replaceChildren(...this.placeLabels(labels, pos));
    this.applyClasses();
    // Until the user pans or zooms, refit only when a node would be out of view: the map
    // does not rescale on every refresh. After that the view is theirs.
    if (!this.userMoved && (!this.fitted || !this.allInView())) this.fit();
  }

  nodeElement(node, p) {
    const st = node.stats;
    const g = s('g', {
      class: ['node', node.client && 'client'],
      'data-node': node.id,
      transform: `translate(${p.x} ${p.y})`,
      tabindex: 0,
      role: 'button',
      'aria-label': node.client ? `client of ${node.name}` : node.name,
    }, s('title', {text: this.nodeTitle(node)}));
    if (node.client) {
      g.append(
        s('circle', {class: 'select-ring', r: CLIENT_RADIUS + 5}),
        s('circle', {class: 'client-dot', r: CLIENT_RADIUS}),
        s('text', {class: 'name', y: CLIENT_RADIUS + 14, text: 'client'}));
      return g;
    }
    g.append(s('circle', {class: 'select-ring', r: RADIUS + 6}), s('circle', {class: 'disc', r: RADIUS}));
    if (st && st.total > 0) {
      let offset = 0;
      for (const outcome of OUTCOMES) {
        const share = (100 * st[outcome]) / st.total;
        if (share <= 0) continue;
        // A hairline gap between arcs keeps small shares visible as separate colours.
        const gap = share < 100 ? Math.min(0.6, share / 3) : 0;
        g.append(s('circle', {
          class: ['arc', outcome], r: RADIUS, pathLength: 100, transform: 'rotate(-90)',
          'stroke-dasharray': `${share - gap} ${100 - share + gap}`, 'stroke-dashoffset': -offset,
        }));
        offset += share;
      }
    } else {
      g.append(s('circle', {class: 'arc none', r: RADIUS}));
    }
    g.append(
      s('text', {class: 'latency', y: -1, text: st?.avg != null ? duration(st.avg) : '–'}),
      s('text', {class: 'rate', y: 11, text: st ? perMinute(st.total, this.minutes) : ''}),
      s('text', {class: 'name', y: RADIUS + 16, text: truncate(node.name, 22)}));
    if (node.type) g.append(s('text', {class: 'type', y: RADIUS + 29, text: truncate(node.type, 28)}));
    return g;
  }

  nodeTitle(node) {
    const lines = [node.client ? `client of ${node.name}` : node.name];
    if (node.type && !node.client) lines.push(node.type);
    const st = node.stats;
    if (st && st.total > 0) {
      lines.push(`${count(st.total)} requests (${perMinute(st.total, this.minutes)}), average ${duration(st.avg)}`);
      lines.push(`ok ${percent(st.ok, st.total)} · 4xx ${percent(st.error, st.total)} · 5xx ${percent(st.fault, st.total)} · 429 ${percent(st.throttle, st.total)}`);
    }
    return lines.join('\n');
  }

  edgeTitle(edge) {
    const st = edge.stats;
    const lines = [`${edge.from.replace(/\|$/, '')} → ${edge.to.replace(/\|$/, '')}`];
    if (st) {
      lines.push(`${count(st.total)} requests, average ${duration(st.avg)}`);
      lines.push(`ok ${percent(st.ok, st.total)} · 4xx ${percent(st.error, st.total)} · 5xx ${percent(st.fault, st.total)} · 429 ${percent(st.throttle, st.total)}`);
    }
    return lines.join('\n');
  }

  /** The cubic curve from node a to node b: {points: [p0, c1, c2, p3]}. */
  edgePath(a, b, from, to) {
    const ra = from?.client ? CLIENT_RADIUS : RADIUS;
    const rb = (to?.client ? CLIENT_RADIUS : RADIUS) + 3;
    if (b.x - a.x > ra + rb + 20) {
      // Left to right: leave right of the caller and enter left of the callee, on the side
      // facing the other end (so arrows into a busy node do not all meet at one point).
      const angle = Math.max(-0.75, Math.min(0.75, 0.7 * Math.atan2(b.y - a.y, b.x - a.x)));
      const p0 = {x: a.x + ra * Math.cos(angle), y: a.y + ra * Math.sin(angle)};
      const p3 = {x: b.x - rb * Math.cos(angle), y: b.y - rb * Math.sin(angle)};
      const dx = (p3.x - p0.x) / 2;
      return {points: [p0, {x: p0.x + dx, y: p0.y}, {x: p3.x - dx, y: p3.y}, p3]};
    }
    // Backwards or within a column: arc over the top.
    const lift = 50 + Math.abs(b.x - a.x) / 4;
    const p0 = {x: a.x, y: a.y - ra};
    const p3 = {x: b.x, y: b.y - rb};
    const top = Math.min(p0.y, p3.y) - lift;
    return {points: [p0, {x: a.x + 30, y: top}, {x: b.x - 30, y: top}, p3]};
  }

  /** Edge labels where they overlap no node and no other label; the rest appear on hover. */
  placeLabels(labels, pos) {
    const taken = [];
    for (const node of this.graph.nodes.values()) {
      const p = pos.get(node.id);
      if (node.client) {
        taken.push({x0: p.x - 22, x1: p.x + 22, y0: p.y - CLIENT_RADIUS - 2, y1: p.y + CLIENT_RADIUS + 18});
      } else {
        const half = Math.max(RADIUS + 2, Math.min(22, node.name.length) * 3.4, Math.min(28, node.type.length) * 2.9);
        taken.push({x0: p.x - half, x1: p.x + half, y0: p.y - RADIUS - 4, y1: p.y + RADIUS + (node.type ? 33 : 21)});
      }
    }
    // Busiest edges first: their labels matter most.
    labels.sort((a, b) => (b.edge.stats?.total ?? 0) - (a.edge.stats?.total ?? 0));
    return labels.filter((l) => l.text).map(({edge, geometry, text}) => {
      const w = text.length * 5.9 + 10;
      const hgt = 16;
      let spot = null;
      for (const t of LABEL_SPOTS) {
        const c = bezier(geometry.points, t);
        const box = {x0: c.x - w / 2, x1: c.x + w / 2, y0: c.y - hgt / 2, y1: c.y + hgt / 2};
        if (!taken.some((b) => overlaps(b, box))) {
          spot = c;
          taken.push(box);
          break;
        }
      }
      const at = spot ?? bezier(geometry.points, 0.5);
      return s('g', {class: ['edge-label', !spot && 'crowded'], 'data-edge-label': edge.id, transform: `translate(${at.x.toFixed(1)} ${at.y.toFixed(1)})`},
        s('rect', {x: -w / 2, y: -hgt / 2, width: w, height: hgt, rx: 4}),
        s('text', {y: 4, text}));
    });
  }

  // ----- selection and highlight -----------------------------------------------------------

  /** Marks `selection` ({kind: 'node'|'edge', id} or null) as selected. */
  select(selection) {
    this.selected = selection;
    this.applyClasses();
  }

  applyClasses() {
    const sel = this.selected;
    const focus = this.hovered ?? sel;
    const lit = new Set();
    if (focus?.kind === 'node') {
      lit.add(focus.id);
      for (const e of this.graph.edges.values()) {
        if (e.from === focus.id || e.to === focus.id) lit.add(e.id).add(e.from).add(e.to);
      }
    } else if (focus?.kind === 'edge') {
      const e = this.graph.edges.get(focus.id);
      if (e) lit.add(e.id).add(e.from).add(e.to);
    }
    this.svg.classList.toggle('focusing', lit.size > 0);
    for (const el of this.nodeLayer.children) {
      const id = el.getAttribute('data-node');
      el.classList.toggle('lit', lit.has(id));
      el.classList.toggle('selected', sel?.kind === 'node' && sel.id === id);
    }
    for (const el of this.edgeLayer.children) {
      const id = el.getAttribute('data-edge');
      el.classList.toggle('lit', lit.has(id));
      el.classList.toggle('selected', sel?.kind === 'edge' && sel.id === id);
      el.lastChild.setAttribute('marker-end', lit.has(id) ? 'url(#arrow-hl)' : 'url(#arrow)');
    }
    for (const el of this.labelLayer.children) {
      el.classList.toggle('lit', lit.has(el.getAttribute('data-edge-label')));
    }
  }

  // ----- pan and zoom ----------------------------------------------------------------------

  applyView() {
    const {x, y, k} = this.view;
    this.viewport.setAttribute('transform', `translate(${x.toFixed(1)} ${y.toFixed(1)}) scale(${k.toFixed(4)})`);
  }

  /** Whether every node (with its label) is inside the visible area. */
  allInView() {
    const box = this.svg.getBoundingClientRect();
    const {x, y, k} = this.view;
    return [...this.graph.nodes.keys()].every((id) => {
      const p = this.layout.positions.get(id);
      const sx = x + p.x * k;
      const sy = y + p.y * k;
      return sx - 80 * k >= 0 && sx + 80 * k <= box.width && sy - 40 * k >= 0 && sy + 60 * k <= box.height;
    });
  }

  /** Scales and centres the map to show every node. */
  fit() {
    const box = this.svg.getBoundingClientRect();
    const shown = [...this.graph.nodes.keys()].map((id) => this.layout.positions.get(id)).filter(Boolean);
    if (!shown.length || box.width === 0) return;
    const x0 = Math.min(...shown.map((p) => p.x)) - 90;
    const x1 = Math.max(...shown.map((p) => p.x)) + 90;
    const y0 = Math.min(...shown.map((p) => p.y)) - 70;
    const y1 = Math.max(...shown.map((p) => p.y)) + 70;
    const k = Math.max(0.2, Math.min(1.3, box.width / (x1 - x0), box.height / (y1 - y0)));
    this.view = {k, x: box.width / 2 - ((x0 + x1) / 2) * k, y: box.height / 2 - ((y0 + y1) / 2) * k};
    this.fitted = true;
    this.userMoved = false;
    this.applyView();
  }

  /** Zooms by `factor` around the screen point (cx, cy) (the centre when omitted). */
  zoom(factor, cx, cy) {
    const box = this.svg.getBoundingClientRect();
    const px = cx ?? box.width / 2;
    const py = cy ?? box.height / 2;
    const k = Math.max(0.15, Math.min(4, this.view.k * factor));
    const f = k / this.view.k;
    this.view = {k, x: px - (px - this.view.x) * f, y: py - (py - this.view.y) * f};
    this.userMoved = true;
    this.applyView();
  }

  /** Forgets every position and lays the map out again. */
  relayout() {
    this.layout.reset();
    this.userMoved = false;
    this.fitted = false;
    this.render(this.graph, this.minutes);
    this.fit();
  }

  listen() {
    const svg = this.svg;
    const hit = (target) => {
      const node = target.closest?.('[data-node]');
      if (node) return {kind: 'node', id: node.getAttribute('data-node')};
      const edge = target.closest?.('[data-edge]');
      if (edge) return {kind: 'edge', id: edge.getAttribute('data-edge')};
      const label = target.closest?.('[data-edge-label]');
      if (label) return {kind: 'edge', id: label.getAttribute('data-edge-label')};
      return null;
    };
    // Follow the window's size until the user has moved the view.
    new ResizeObserver(() => {
      if (!this.userMoved && this.graph.nodes.size) this.fit();
    }).observe(svg);
    svg.addEventListener('wheel', (event) => {
      event.preventDefault();
      const box = svg.getBoundingClientRect();
      this.zoom(Math.exp(-event.deltaY * 0.0015), event.clientX - box.left, event.clientY - box.top);
    }, {passive: false});
    let drag = null;
    svg.addEventListener('pointerdown', (event) => {
      if (event.button !== 0) return;
      drag = {x: event.clientX, y: event.clientY, view: {...this.view}, moved: false, id: event.pointerId};
    });
    svg.addEventListener('pointermove', (event) => {
      if (drag && drag.id === event.pointerId) {
        const dx = event.clientX - drag.x;
        const dy = event.clientY - drag.y;
        if (!drag.moved && Math.hypot(dx, dy) > 4) {
          drag.moved = true;
          svg.setPointerCapture(event.pointerId);
          svg.classList.add('panning');
        }
        if (drag.moved) {
          this.view = {...drag.view, x: drag.view.x + dx, y: drag.view.y + dy};
          this.userMoved = true;
          this.applyView();
        }
        return;
      }
      const over = hit(event.target);
      if (over?.id !== this.hovered?.id) {
        this.hovered = over;
        this.applyClasses();
      }
    });
    const end = () => {
      if (drag?.moved) {
        this.suppressClick = true;
        svg.classList.remove('panning');
      }
      drag = null;
    };
    svg.addEventListener('pointerup', end);
    svg.addEventListener('pointercancel', end);
    svg.addEventListener('pointerleave', () => {
      if (this.hovered) {
        this.hovered = null;
        this.applyClasses();
      }
    });
    svg.addEventListener('click', (event) => {
      if (this.suppressClick) {
        this.suppressClick = false;
        return;
      }
      this.onSelect(hit(event.target));
    });
    svg.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter' && event.key !== ' ') return;
      const target = hit(event.target);
      if (target) {
        event.preventDefault();
        this.onSelect(target);
      }
    });
  }
}
