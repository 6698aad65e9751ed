//! Helpers shared by the benchmarks.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Events per second of `f`, which handles `n` events, over about a second.
pub fn rate(n: usize, mut f: impl FnMut() -> usize) -> f64 {
    f();
    let start = Instant::now();
    let mut rounds = 0u32;
    while start.elapsed() < Duration::from_secs(1) {
        black_box(f());
        rounds += 1;
    }
    f64::from(rounds) * n as f64 / start.elapsed().as_secs_f64()
}
