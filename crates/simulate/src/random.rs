//! Seeded, portable randomness: one ChaCha8 stream per purpose, force and month, and the few
//! distributions the simulator needs (Bernoulli, uniform integers, exponential lags, Poisson,
//! weighted choice).
//!
//! Only IEEE-exact arithmetic and `libm`'s pure-Rust `exp`/`log` are used on random values, so
//! the same seed gives the same draws on every platform.

use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator used everywhere.
pub(crate) type Rng = ChaCha8Rng;

/// What a stream is used for: keeps the draws of one purpose independent of the others.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    /// New crimes and their timelines.
    Generate = 1,
    /// Spellings, malformed rows and re-sends while writing a file.
    Write = 2,
}

/// SplitMix64 finaliser: a well-mixed 64-bit hash of a 64-bit value.
pub(crate) fn mix(mut value: u64) -> u64 {
    value = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// The stream of `purpose` for one force (by index) and month (by index).
pub(crate) fn stream(seed: u64, purpose: Purpose, force: u64, month: u64) -> Rng {
    let key = mix(mix(mix(seed) ^ purpose as u64) ^ (force << 32 | month));
    Rng::seed_from_u64(key)
}

/// A uniform float in [0, 1).
pub(crate) fn unit(rng: &mut Rng) -> f64 {
    rng.random::<f64>()
}

/// True with probability `p`.
pub(crate) fn chance(rng: &mut Rng, p: f64) -> bool {
    p > 0.0 && unit(rng) < p
}

/// A uniform integer in `low..=high` (`low` when the range is empty).
pub(crate) fn between(rng: &mut Rng, low: u32, high: u32) -> u32 {
    if high <= low {
        low
    } else {
        rng.random_range(low..=high)
    }
}

/// A uniform index below `len` (0 when `len` is 0).
pub(crate) fn index(rng: &mut Rng, len: usize) -> usize {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    between(rng, 0, len.saturating_sub(1)) as usize
}

/// `min` plus an exponential number of days of mean `mean`, capped at `max`.
pub(crate) fn lag_days(rng: &mut Rng, min: i64, mean: f64, max: i64) -> i64 {
    let draw = -mean * libm::log(1.0 - unit(rng));
    let extra = if draw.is_finite() { draw as i64 } else { max };
    (min + extra).min(max)
}

/// A Poisson draw of mean `lambda`: Knuth's multiplication method on chunks of mean at most
/// 16, so the work is proportional to the result (which the caller then generates anyway).
pub(crate) fn poisson(rng: &mut Rng, lambda: f64) -> u64 {
    const CHUNK: f64 = 16.0;
    if !(lambda.is_finite() && lambda > 0.0) {
        return 0;
    }
    let mut remaining = lambda;
    let mut total = 0;
    while remaining > 0.0 {
        let mean = remaining.min(CHUNK);
        remaining -= mean;
        let limit = libm::exp(-mean);
        let mut product = unit(rng);
        while product > limit {
            total += 1;
            product *= unit(rng);
        }
    }
    total
}

/// One of `items`, with probability proportional to its weight (the last one when every
/// weight is zero; `None` only for an empty slice).
pub(crate) fn weighted<T: Copy>(rng: &mut Rng, items: &[(T, f64)]) -> Option<T> {
    let total: f64 = items.iter().map(|(_, weight)| weight.max(0.0)).sum();
    let mut target = unit(rng) * total;
    for (item, weight) in items {
        let weight = weight.max(0.0);
        if target < weight {
            return Some(*item);
        }
        target -= weight;
    }
    items.last().map(|(item, _)| *item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let draw = |purpose, force, month| {
            let mut rng = stream(7, purpose, force, month);
            (0..4).map(|_| unit(&mut rng)).collect::<Vec<f64>>()
        };
        assert_eq!(draw(Purpose::Generate, 3, 4), draw(Purpose::Generate, 3, 4));
        assert_ne!(draw(Purpose::Generate, 3, 4), draw(Purpose::Write, 3, 4));
        assert_ne!(draw(Purpose::Generate, 3, 4), draw(Purpose::Generate, 4, 3));
    }

    #[test]
    fn poisson_has_the_right_mean() {
        for lambda in [0.3, 4.0, 40.0, 2500.0] {
            let mut rng = stream(1, Purpose::Generate, 0, 0);
            let n = 2000;
            let sum: u64 = (0..n).map(|_| poisson(&mut rng, lambda)).sum();
            let mean = sum as f64 / f64::from(n);
            assert!(
                (mean - lambda).abs() < 0.1 * lambda + 0.05,
                "{lambda}: {mean}"
            );
        }
        let mut rng = stream(1, Purpose::Generate, 0, 0);
        assert_eq!(poisson(&mut rng, 0.0), 0);
        assert_eq!(poisson(&mut rng, f64::NAN), 0);
    }

    #[test]
    fn helpers_stay_in_range() {
        let mut rng = stream(2, Purpose::Write, 1, 1);
        for _ in 0..1000 {
            assert!((3..=9).contains(&between(&mut rng, 3, 9)));
            assert!(index(&mut rng, 5) < 5);
            assert!((2..=30).contains(&lag_days(&mut rng, 2, 10.0, 30)));
        }
        assert_eq!(between(&mut rng, 5, 5), 5);
        assert_eq!(index(&mut rng, 0), 0);
        assert_eq!(weighted::<u8>(&mut rng, &[]), None);
        assert_eq!(weighted(&mut rng, &[(1, 0.0), (2, 0.0)]), Some(2));
        assert_eq!(weighted(&mut rng, &[(1, 0.0), (2, 1.0)]), Some(2));
    }
}
