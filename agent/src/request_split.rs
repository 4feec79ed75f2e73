//! Cutting a run of items into API requests under a count and a byte limit (and any other
//! boundary the caller names): PutMetricData and PutLogEvents alike.

/// Limits of one request.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub max_items: usize,
    pub max_bytes: usize,
}

/// `items` in order, cut into requests of at most `limits`; `bytes` is an item's share of a
/// request, and `breaks(first_of_request, item)` starts a new request where the API needs one
/// (a time span). An item larger than the byte limit goes alone.
pub fn split_requests<T>(
    items: Vec<T>,
    limits: RequestLimits,
    bytes: impl Fn(&T) -> usize,
    breaks: impl Fn(&T, &T) -> bool,
) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut current: Vec<T> = Vec::new();
    let mut used = 0;
    for item in items {
        let size = bytes(&item);
        let full = current.len() >= limits.max_items
            || used + size > limits.max_bytes
            || current.first().is_some_and(|first| breaks(first, &item));
        if full && !current.is_empty() {
            out.push(std::mem::take(&mut current));
            used = 0;
        }
        used += size;
        current.push(item);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{split_requests, RequestLimits};

    #[test]
    fn counts_bytes_and_named_breaks_each_start_a_request() {
        let limits = RequestLimits {
            max_items: 3,
            max_bytes: 10,
        };
        let sizes = |v: &[usize]| split_requests(v.to_vec(), limits, |x| *x, |_, _| false);
        assert_eq!(sizes(&[1, 1, 1, 1]), vec![vec![1, 1, 1], vec![1]]);
        assert_eq!(sizes(&[6, 4, 1]), vec![vec![6, 4], vec![1]]);
        assert_eq!(
            sizes(&[20, 1]),
            vec![vec![20], vec![1]],
            "an oversized item goes alone"
        );
        let by_tens = split_requests(
            vec![1, 5, 12, 13],
            RequestLimits {
                max_items: 9,
                max_bytes: 99,
            },
            |_| 1,
            |a, b| b - a >= 10,
        );
        assert_eq!(by_tens, vec![vec![1, 5], vec![12, 13]]);
        assert!(sizes(&[]).is_empty());
    }
}
