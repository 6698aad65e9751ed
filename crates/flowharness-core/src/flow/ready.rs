//! Which of the open streams may go next, for the generator's interleaving.

use crate::num::Cast as _;

/// The streams that may go next, as a Fenwick tree over their indices:
/// setting one and finding the k-th ready one are O(log n), so
/// interleaving n streams costs O(n log n), not O(n²).
pub(super) struct Ready {
    tree: Vec<u32>,
    on: Vec<bool>,
    count: usize,
}

impl Ready {
    pub(super) fn new(n: usize) -> Ready {
        Ready {
            tree: vec![0; n + 1],
            on: vec![false; n],
            count: 0,
        }
    }

    pub(super) fn count(&self) -> usize {
        self.count
    }

    pub(super) fn set(&mut self, i: usize, on: bool) {
        if self.on[i] == on {
            return;
        }
        self.on[i] = on;
        if on {
            self.count += 1;
        } else {
            self.count -= 1;
        }
        let mut at = i + 1;
        while at < self.tree.len() {
            if on {
                self.tree[at] += 1;
            } else {
                self.tree[at] -= 1;
            }
            at += at & at.wrapping_neg();
        }
    }

    /// The index of the k-th (0-based) ready stream; `k < count()`.
    pub(super) fn kth(&self, k: usize) -> usize {
        let mut pos = 0;
        let mut left = k.sat_u32() + 1;
        let mut step = (self.tree.len() - 1).next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next < self.tree.len() && self.tree[next] < left {
                pos = next;
                left -= self.tree[next];
            }
            step /= 2;
        }
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::Ready;
    use crate::num::Cast as _;

    #[test]
    fn the_kth_ready_stream_is_the_kth_set_index() {
        let mut ready = Ready::new(37);
        let mut naive = [false; 37];
        let mut x: u64 = 7;
        for _ in 0..2000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let i = (x >> 33).sat_usize() % 37;
            let on = (x >> 20) & 1 == 1;
            ready.set(i, on);
            naive[i] = on;
            let set: Vec<usize> = (0..37).filter(|j| naive[*j]).collect();
            assert_eq!(ready.count(), set.len());
            for (k, want) in set.iter().enumerate() {
                assert_eq!(ready.kth(k), *want);
            }
        }
    }
}
