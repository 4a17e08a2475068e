//! Ranks as league tables give them: highest first, equal values share a rank and the next rank
//! skips (1, 1, 3), ties listed by code. Breakdowns, savings and indicators rank alike.

use std::cmp::Reverse;

/// Sorts `items` highest `value` first (ties by `code`, owned as each item's sort key holds it,
/// so that it may come from rows the items only name) and gives each its rank; items without a
/// value come last, unranked.
pub fn rank<T, V: Ord + Copy>(
    items: &mut [T],
    value: impl Fn(&T) -> Option<V>,
    code: impl Fn(&T) -> String,
    mut set_rank: impl FnMut(&mut T, Option<usize>),
) {
    // Keys first, then each item moved once into place: a breakdown's entries are a few hundred
    // bytes each, and sorting them by comparison moved each about log n times.
    items.sort_by_cached_key(|item| (Reverse(value(item)), code(item)));
    let mut previous: Option<(V, usize)> = None;
    for (position, item) in items.iter_mut().enumerate() {
        let Some(own) = value(item) else {
            set_rank(item, None);
            continue;
        };
        let rank = match previous {
            Some((value, rank)) if value == own => rank,
            _ => position + 1,
        };
        set_rank(item, Some(rank));
        previous = Some((own, rank));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_a_rank_and_the_next_skips() {
        let mut items = vec![
            ("c", Some(5), None),
            ("a", Some(7), None),
            ("d", None, None),
            ("b", Some(5), None),
            ("e", Some(1), None),
        ];
        rank(&mut items, |i| i.1, |i| i.0.to_owned(), |i, r| i.2 = r);
        let ranked: Vec<_> = items.iter().map(|i| (i.0, i.2)).collect();
        assert_eq!(
            ranked,
            [
                ("a", Some(1)),
                ("b", Some(2)),
                ("c", Some(2)),
                ("e", Some(4)),
                ("d", None)
            ]
        );
    }
}
