//! Exponentially weighted moving mean and variance (West's incremental form), the compact
//! baseline for per-actor state: 16 bytes, updated in O(1).

use serde::{Deserialize, Serialize};

use crate::error::{SketchError, bad_param};

/// EWMA of mean and variance with smoothing factor `alpha` (weight of the newest value).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ewma {
    alpha: f32,
    mean: f32,
    var: f32,
    /// Values folded in, saturating.
    n: u32,
}

impl Ewma {
    pub fn new(alpha: f64) -> Result<Self, SketchError> {
        if !(alpha > 0.0 && alpha <= 1.0) {
            return Err(bad_param("ewma", "alpha", alpha, "must be in (0, 1]"));
        }
        Ok(Ewma {
            alpha: alpha as f32,
            mean: 0.0,
            var: 0.0,
            n: 0,
        })
    }

    /// The alpha whose weights halve every `half_life` observations.
    pub fn with_half_life(half_life: f64) -> Result<Self, SketchError> {
        if !(half_life.is_finite() && half_life >= 1.0) {
            return Err(bad_param(
                "ewma",
                "half_life",
                half_life,
                "must be a finite number >= 1",
            ));
        }
        Self::new(1.0 - 0.5f64.powf(1.0 / half_life))
    }

    /// Folds in `x`; non-finite values are ignored.
    #[inline]
    pub fn update(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        let x = x as f32;
        if self.n == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let a = self.alpha;
            let d = x - self.mean;
            let incr = a * d;
            self.mean += incr;
            self.var = (1.0 - a) * (self.var + d * incr);
        }
        self.n = self.n.saturating_add(1);
    }

    pub fn count(&self) -> u32 {
        self.n
    }

    pub fn mean(&self) -> f64 {
        f64::from(self.mean)
    }

    pub fn variance(&self) -> f64 {
        f64::from(self.var.max(0.0))
    }

    pub fn std_dev(&self) -> f64 {
        self.variance().sqrt()
    }

    /// `(x - mean) / max(std_dev, floor)`; `floor` keeps a flat history from turning every
    /// small change into an infinite score.
    pub fn z_score(&self, x: f64, floor: f64) -> f64 {
        (x - self.mean()) / self.std_dev().max(floor).max(f64::MIN_POSITIVE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn converges_to_a_constant_and_tracks_a_level_shift() {
        let mut e = Ewma::with_half_life(10.0).unwrap();
        for _ in 0..200 {
            e.update(5.0);
        }
        assert!((e.mean() - 5.0).abs() < 1e-4);
        assert!(e.variance() < 1e-6);
        for _ in 0..200 {
            e.update(50.0);
        }
        assert!((e.mean() - 50.0).abs() < 1e-2);
        e.update(f64::NAN);
        assert_eq!(e.count(), 400);
        assert!(
            Ewma::new(0.0).is_err()
                && Ewma::new(1.5).is_err()
                && Ewma::with_half_life(0.5).is_err()
        );
    }

    #[test]
    fn variance_matches_the_spread_of_an_alternating_series() {
        let mut e = Ewma::new(0.05).unwrap();
        for i in 0..2000 {
            e.update(if i % 2 == 0 { 9.0 } else { 11.0 });
        }
        assert!((e.mean() - 10.0).abs() < 0.1, "{}", e.mean());
        assert!((e.std_dev() - 1.0).abs() < 0.1, "{}", e.std_dev());
        assert!(e.z_score(14.0, 0.5) > 3.5);
    }

    proptest! {
        #[test]
        fn mean_stays_within_the_range_of_inputs(xs in proptest::collection::vec(-1e6f64..1e6, 1..200), alpha in 0.01f64..1.0) {
            let mut e = Ewma::new(alpha).unwrap();
            for &x in &xs { e.update(x); }
            let lo = xs.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let slack = 1e-3 * hi.abs().max(lo.abs()).max(1.0);
            prop_assert!(e.mean() >= lo - slack && e.mean() <= hi + slack);
            prop_assert!(e.variance() >= 0.0);
        }

        #[test]
        fn is_deterministic(xs in proptest::collection::vec(-1e3f64..1e3, 1..100)) {
            let mut a = Ewma::new(0.1).unwrap();
            let mut b = Ewma::new(0.1).unwrap();
            for &x in &xs { a.update(x); b.update(x); }
            prop_assert_eq!(a, b);
        }
    }
}
