//! Placement on the 24-column grid. Widgets with both `x` and `y` stay where they are written;
//! the others are placed in order at the next free slot: scanning rows top to bottom and each row
//! left to right, starting where the previous automatically placed widget ended (so widgets read
//! in the order they are written and never jump back into a hole above), at the first position
//! where the widget overlaps nothing placed so far.

use super::limits::GRID_COLUMNS;

/// A widget's place and size in grid units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u64,
    pub y: u64,
    pub width: u64,
    pub height: u64,
}

impl Rect {
    pub fn right(&self) -> u64 {
        self.x + self.width
    }

    pub fn bottom(&self) -> u64 {
        self.y + self.height
    }

    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.right() && other.x < self.right() && self.y < other.bottom() && other.y < self.bottom()
    }
}

/// A widget before placement: fixed when both `x` and `y` are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub x: Option<u64>,
    pub y: Option<u64>,
    pub width: u64,
    pub height: u64,
}

/// Every widget's place, in input order. Fixed widgets keep theirs (even when they overlap each
/// other: the validator reports that); automatic ones overlap nothing. Widths are clamped to the
/// grid for placement (the validator reports out-of-range widths).
pub fn place(slots: &[Slot]) -> Vec<Rect> {
    let mut placed: Vec<Rect> = slots
        .iter()
        .filter_map(|s| match (s.x, s.y) {
            (Some(x), Some(y)) => Some(Rect {
                x,
                y,
                width: s.width,
                height: s.height,
            }),
            _ => None,
        })
        .collect();
    let mut cursor = (0_u64, 0_u64); // (row, column)
    let mut out = Vec::with_capacity(slots.len());
    for slot in slots {
        if let (Some(x), Some(y)) = (slot.x, slot.y) {
            out.push(Rect {
                x,
                y,
                width: slot.width,
                height: slot.height,
            });
            continue;
        }
        let width = slot.width.clamp(1, GRID_COLUMNS);
        let height = slot.height.max(1);
        let rect = next_free(&placed, cursor, width, height);
        cursor = (rect.y, rect.right());
        placed.push(rect);
        out.push(rect);
    }
    out
}

/// The first free `width`×`height` position at or after `cursor` in row-major order.
fn next_free(placed: &[Rect], cursor: (u64, u64), width: u64, height: u64) -> Rect {
    let (row, column) = cursor;
    // The answer's row is the cursor's row, the one after it, or a row where some widget ends:
    // any other free position has a free position directly above it that comes earlier.
    let lowest = placed.iter().map(Rect::bottom).max().unwrap_or(0).max(row + 1);
    let mut rows: Vec<u64> = placed
        .iter()
        .map(Rect::bottom)
        .filter(|&b| b > row)
        .chain([row, row + 1, lowest])
        .collect();
    rows.sort_unstable();
    rows.dedup();
    for y in rows {
        let first = if y == row { column } else { 0 };
        for x in first..=GRID_COLUMNS - width {
            let candidate = Rect { x, y, width, height };
            if !placed.iter().any(|r| r.overlaps(&candidate)) {
                return candidate;
            }
        }
    }
    // Unreachable: at `lowest` (below every widget and the cursor's row) column 0 is free.
    Rect {
        x: 0,
        y: lowest,
        width,
        height,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(width: u64, height: u64) -> Slot {
        Slot {
            x: None,
            y: None,
            width,
            height,
        }
    }

    fn fixed(x: u64, y: u64, width: u64, height: u64) -> Slot {
        Slot {
            x: Some(x),
            y: Some(y),
            width,
            height,
        }
    }

    fn at(r: Rect) -> (u64, u64) {
        (r.x, r.y)
    }

    #[test]
    fn automatic_widgets_fill_a_row_then_wrap() {
        let placed = place(&[auto(12, 6), auto(12, 6), auto(8, 3), auto(24, 2)]);
        let positions: Vec<_> = placed.into_iter().map(at).collect();
        assert_eq!(positions, vec![(0, 0), (12, 0), (0, 6), (0, 9)]);
    }

    #[test]
    fn automatic_widgets_flow_around_fixed_ones() {
        let placed = place(&[fixed(6, 0, 12, 4), auto(6, 6), auto(6, 6), auto(12, 2)]);
        let positions: Vec<_> = placed.into_iter().map(at).collect();
        // The third goes right of the fixed one; the 12-wide one fits under the fixed widget
        // at row 4 (columns 6-17 are free from there).
        assert_eq!(positions, vec![(6, 0), (0, 0), (18, 0), (6, 4)]);
    }

    #[test]
    fn a_later_widget_does_not_jump_back_into_an_earlier_hole() {
        let placed = place(&[auto(20, 2), auto(20, 2), auto(4, 2)]);
        let positions: Vec<_> = placed.into_iter().map(at).collect();
        // (20, 0) is free but comes before the cursor (after the second widget at (0, 2)).
        assert_eq!(positions, vec![(0, 0), (0, 2), (20, 2)]);
    }

    #[test]
    fn random_layouts_never_overlap_and_keep_fixed_widgets() {
        let mut rng = fastrand::Rng::with_seed(24);
        for _ in 0..1_000 {
            let mut slots = Vec::new();
            let mut fixed_rects: Vec<Rect> = Vec::new();
            for _ in 0..rng.usize(0..40) {
                let width = rng.u64(1..=24);
                let height = rng.u64(1..=12);
                if rng.u8(..4) == 0 {
                    let r = Rect {
                        x: rng.u64(0..=24 - width),
                        y: rng.u64(0..30),
                        width,
                        height,
                    };
                    if fixed_rects.iter().any(|f| f.overlaps(&r)) {
                        continue;
                    }
                    fixed_rects.push(r);
                    slots.push(fixed(r.x, r.y, width, height));
                } else {
                    slots.push(auto(width, height));
                }
            }
            let placed = place(&slots);
            assert_eq!(placed.len(), slots.len());
            let mut previous_auto: Option<(u64, u64)> = None;
            for (i, (slot, rect)) in slots.iter().zip(&placed).enumerate() {
                assert!(rect.right() <= 24, "{slots:?}");
                assert_eq!((rect.width, rect.height), (slot.width, slot.height));
                if slot.x.is_some() {
                    assert_eq!((Some(rect.x), Some(rect.y)), (slot.x, slot.y));
                } else {
                    // Reading order: each automatic widget starts at or after the previous one.
                    if let Some(p) = previous_auto {
                        assert!((rect.y, rect.x) >= p, "{slots:?}");
                    }
                    previous_auto = Some((rect.y, rect.x));
                }
                for other in &placed[..i] {
                    assert!(!rect.overlaps(other), "{rect:?} overlaps {other:?} in {slots:?}");
                }
            }
        }
    }
}
