// Where the service map's nodes go: a left-to-right layered layout (callers left of callees,
// clients leftmost), computed here instead of vendored: longest-path layering over the graph
// with its cycles broken, then barycenter sweeps to order each layer. A layer with more nodes
// than fit a column is spread over staggered sub-columns so a wide fan-out (one service calling
// thirty tables) stays on screen.
//
// Stability matters more than optimality: a developer keeps the page open while counts change,
// so a node once placed keeps its position (by id) for the page's life; only new nodes are
// placed, next to their callers, on the nearest free spot. "Re-layout" starts over.

/** Horizontal distance between layers. */
export const COLUMN = 185;
/** Horizontal distance between the sub-columns of a wide layer. */
export const SUBCOLUMN = 130;
/** Vertical distance between two nodes of one column. */
export const ROW = 100;

const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;

export class Layout {
  constructor() {
    /** id → {x, y}; kept for nodes that leave the map too, so they come back to their place. */
    this.positions = new Map();
  }

  reset() {
    this.positions.clear();
  }

  /**
   * Gives every id in `ids` a position, keeping those already placed. `edges` are [from, to]
   * pairs; `view` {width, height} is the screen area the first layout should suit. Returns the
   * ids that were newly placed.
   */
  place(ids, edges, view) {
    const missing = ids.filter((id) => !this.positions.has(id));
    if (missing.length === 0) return missing;
    const fresh = layered(ids, edges, view);
    const placedBefore = ids.some((id) => this.positions.has(id));
    if (!placedBefore) {
      for (const id of ids) this.positions.set(id, fresh.get(id));
      return missing;
    }
    // New nodes one at a time, callers first, each next to its placed neighbours.
    missing.sort((a, b) => fresh.get(a).x - fresh.get(b).x || fresh.get(a).y - fresh.get(b).y);
    for (const id of missing) {
      const callers = edges.filter(([f, t]) => t === id && f !== id && this.positions.has(f)).map(([f]) => this.positions.get(f));
      const callees = edges.filter(([f, t]) => f === id && t !== id && this.positions.has(t)).map(([, t]) => this.positions.get(t));
      let x = fresh.get(id).x;
      if (callers.length) x = Math.max(...callers.map((p) => p.x)) + COLUMN;
      else if (callees.length) x = Math.min(...callees.map((p) => p.x)) - COLUMN;
      const near = [...callers, ...callees];
      const y = near.length ? mean(near.map((p) => p.y)) : fresh.get(id).y;
      this.positions.set(id, this.freeSpot(x, y));
    }
    return missing;
  }

  /** The spot nearest (x, y) in column x where a node overlaps no placed node. */
  freeSpot(x, y) {
    const step = ROW / 2;
    const y0 = Math.round(y / step) * step;
    for (let i = 0; i < 1000; i += 1) {
      const candidate = y0 + (i % 2 ? 1 : -1) * Math.ceil(i / 2) * step;
      let clear = true;
      for (const p of this.positions.values()) {
        if (Math.abs(p.x - x) < SUBCOLUMN - 5 && Math.abs(p.y - candidate) < ROW - 5) {
          clear = false;
          break;
        }
      }
      if (clear) return {x, y: candidate};
    }
    return {x, y: y0};
  }
}

/** A fresh layered layout of the whole graph: id → {x, y}. */
function layered(ids, edges, view) {
  const sorted = [...ids].sort((a, b) => a.localeCompare(b));
  const succ = new Map(sorted.map((id) => [id, []]));
  const pred = new Map(sorted.map((id) => [id, []]));
  for (const [from, to] of edges) {
    if (from === to || !succ.has(from) || !succ.has(to)) continue;
    succ.get(from).push(to);
    pred.get(to).push(from);
  }

  // Break cycles: a depth-first walk from the sources drops the edges back to its own path.
  const state = new Map(); // 1: on the current path, 2: done
  const forward = new Map(sorted.map((id) => [id, []]));
  const discovered = [];
  const finished = [];
  const visit = (v) => {
    state.set(v, 1);
    discovered.push(v);
    for (const w of succ.get(v)) {
      if (state.get(w) === 1) continue;
      forward.get(v).push(w);
      if (!state.has(w)) visit(w);
    }
    state.set(v, 2);
    finished.push(v);
  };
  const clientsFirst = (a, b) => Number(!a.endsWith('|client')) - Number(!b.endsWith('|client'));
  for (const v of [...sorted].sort(clientsFirst)) {
    if (pred.get(v).length === 0 && !state.has(v)) visit(v);
  }
  for (const v of sorted) if (!state.has(v)) visit(v);

  // Longest-path layering over the acyclic edges, in topological order.
  const back = new Map(sorted.map((id) => [id, []]));
  for (const [v, ws] of forward) for (const w of ws) back.get(w).push(v);
  const layer = new Map();
  for (const v of [...finished].reverse()) {
    layer.set(v, Math.max(0, ...back.get(v).map((u) => layer.get(u) + 1)));
  }
  // Sources sit just left of their nearest callee rather than all in the first column.
  for (const v of sorted) {
    if (back.get(v).length === 0 && forward.get(v).length > 0) {
      layer.set(v, Math.max(0, Math.min(...forward.get(v).map((w) => layer.get(w))) - 1));
    }
  }

  const depth = Math.max(0, ...layer.values()) + 1;
  const layers = Array.from({length: depth}, () => []);
  for (const v of discovered) layers[layer.get(v)].push(v);

  // How many rows a column may hold: the one that lets the whole map fit the view largest.
  const sizes = layers.map((l) => l.length);
  const width = view?.width > 0 ? view.width : 900;
  const height = view?.height > 0 ? view.height : 700;
  let maxRows = Math.max(1, ...sizes);
  let bestScale = 0;
  for (let rows = Math.max(1, ...sizes); rows >= 3; rows -= 1) {
    const w = sizes.reduce((sum, n) => sum + (Math.ceil(n / rows) - 1) * SUBCOLUMN, 0) + (depth - 1) * COLUMN + 200;
    const h = Math.max(...sizes.map((n) => n / Math.ceil(n / rows))) * ROW + 40;
    const scale = Math.min(width / w, height / h);
    if (scale > bestScale + 0.01) {
      bestScale = scale;
      maxRows = rows;
    }
  }
  const subcolumns = (n) => Math.ceil(n / maxRows);
  const yOf = (index, n) => ((index - (n - 1) / 2) * ROW) / subcolumns(n);

  // Barycenter sweeps: order each layer by the mean height of its neighbours on one side.
  const y = new Map();
  const assign = (l) => layers[l].forEach((v, i) => y.set(v, yOf(i, layers[l].length)));
  layers.forEach((_, l) => assign(l));
  const neighbours = (v) => [...succ.get(v), ...pred.get(v)];
  for (let sweep = 0; sweep < 8; sweep += 1) {
    const down = sweep % 2 === 0;
    const order = down ? layers.keys() : [...layers.keys()].reverse();
    for (const l of order) {
      const side = (w) => (down ? layer.get(w) < l : layer.get(w) > l);
      const key = new Map(layers[l].map((v) => {
        const ys = neighbours(v).filter(side).map((w) => y.get(w));
        return [v, ys.length ? mean(ys) : y.get(v)];
      }));
      layers[l].sort((a, b) => key.get(a) - key.get(b));
      assign(l);
    }
  }

  const out = new Map();
  let x = 0;
  for (const nodes of layers) {
    const k = subcolumns(nodes.length);
    nodes.forEach((v, i) => out.set(v, {x: x + (i % k) * SUBCOLUMN, y: y.get(v)}));
    x += (k - 1) * SUBCOLUMN + COLUMN;
  }
  return out;
}
