//! Distribution functions with R's definitions: `qnorm`, `pnorm`, `pt`, `qpois`, `qnbinom`,
//! upper tails of the Poisson, negative binomial and binomial.
//!
//! Continuous special functions (erfc, erfc⁻¹, lnΓ, the Student-t CDF) come from `statrs`.
//! The discrete CDFs are summed here in log space from their probability recurrences instead of
//! `statrs`'s incomplete-beta route: that route is a continued fraction capped at 140 terms,
//! which loses accuracy for the very large NB `size = μ0/(φ̂−1)` that Farrington produces
//! whenever φ̂ is just above 1. Counts here are small, so the O(x) sums are cheap.
//! Discrete quantiles follow R: the smallest x with F(x) ≥ p (with R's relative fuzz so that
//! a rounding error in F does not skip a step).

use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::function::erf::{erfc, erfc_inv};
use statrs::function::gamma::ln_gamma;

/// Iteration cap for discrete sums; counts of recorded crimes are far below it.
const MAX_STEPS: u64 = 50_000_000;

/// R `qnorm(p)` for the standard normal.
pub(crate) fn qnorm(p: f64) -> f64 {
    -std::f64::consts::SQRT_2 * erfc_inv(2.0 * p)
}

/// R `pnorm(x, mean, sd, lower.tail = FALSE)`.
pub(crate) fn pnorm_upper(x: f64, mean: f64, sd: f64) -> f64 {
    if x.is_nan() || mean.is_nan() || sd.is_nan() || sd < 0.0 {
        return f64::NAN;
    }
    if sd == 0.0 {
        // R treats sd = 0 as a point mass at the mean.
        return if x < mean { 1.0 } else { 0.0 };
    }
    0.5 * erfc((x - mean) / (sd * std::f64::consts::SQRT_2))
}

/// Two-sided t-test p-value `2 * pt(-|t|, df)`, as `summary.glm` for quasi families.
pub(crate) fn pt_two_sided(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return 0.0;
    }
    match StudentsT::new(0.0, 1.0, df) {
        Ok(dist) => (2.0 * dist.cdf(-t.abs())).min(1.0),
        Err(_) => f64::NAN,
    }
}

/// A discrete count distribution with R's parameterisation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Discrete {
    /// Poisson with mean `lambda`.
    Poisson { lambda: f64 },
    /// R `dnbinom(x, size, prob)`: failures before `size` successes, mean `size (1-prob)/prob`.
    NegBin { size: f64, prob: f64 },
}

impl Discrete {
    /// Negative binomial with mean `mu` and variance `phi * mu` (Farrington's plug-in),
    /// or Poisson when `phi <= 1`.
    pub(crate) fn quasi(mu: f64, phi: f64) -> Discrete {
        if phi > 1.0 {
            Discrete::NegBin {
                size: mu / (phi - 1.0),
                prob: 1.0 / phi,
            }
        } else {
            Discrete::Poisson { lambda: mu }
        }
    }

    fn valid(self) -> bool {
        match self {
            Discrete::Poisson { lambda } => lambda.is_finite() && lambda >= 0.0,
            Discrete::NegBin { size, prob } => {
                size.is_finite() && size >= 0.0 && prob > 0.0 && prob <= 1.0
            }
        }
    }

    /// Point mass at zero (R returns 0 for every quantile then).
    fn degenerate(self) -> bool {
        match self {
            Discrete::Poisson { lambda } => lambda == 0.0,
            Discrete::NegBin { size, prob } => size == 0.0 || prob == 1.0,
        }
    }

    fn mean(self) -> f64 {
        match self {
            Discrete::Poisson { lambda } => lambda,
            Discrete::NegBin { size, prob } => size * (1.0 - prob) / prob,
        }
    }

    /// log P(X = 0).
    fn log_pmf0(self) -> f64 {
        match self {
            Discrete::Poisson { lambda } => -lambda,
            Discrete::NegBin { size, prob } => size * prob.ln(),
        }
    }

    /// log P(X = x+1) - log P(X = x).
    fn log_ratio(self, x: u64) -> f64 {
        let x = x as f64;
        match self {
            Discrete::Poisson { lambda } => lambda.ln() - (x + 1.0).ln(),
            Discrete::NegBin { size, prob } => ((size + x) / (x + 1.0)).ln() + (-prob).ln_1p(),
        }
    }

    /// log P(X = x), computed from scratch.
    fn log_pmf(self, x: u64) -> f64 {
        let xf = x as f64;
        match self {
            Discrete::Poisson { lambda } => {
                if lambda == 0.0 {
                    return if x == 0 { 0.0 } else { f64::NEG_INFINITY };
                }
                -lambda + xf * lambda.ln() - ln_gamma(xf + 1.0)
            }
            Discrete::NegBin { size, prob } => {
                if x == 0 {
                    return size * prob.ln();
                }
                // lnΓ(x+size) - lnΓ(size) as an exact sum for integer x keeps precision
                // when size is huge; fall back to lnΓ for very long sums.
                let rising = if x <= 100_000 {
                    (0..x).map(|i| (size + i as f64).ln()).sum::<f64>()
                } else {
                    ln_gamma(xf + size) - ln_gamma(size)
                };
                rising - ln_gamma(xf + 1.0) + size * prob.ln() + xf * (-prob).ln_1p()
            }
        }
    }

    /// P(X <= x).
    pub(crate) fn cdf(self, x: u64) -> f64 {
        if !self.valid() {
            return f64::NAN;
        }
        if self.degenerate() {
            return 1.0;
        }
        let mut lp = self.log_pmf0();
        let mut acc = lp;
        for i in 0..x.min(MAX_STEPS) {
            lp += self.log_ratio(i);
            acc = log_add_exp(acc, lp);
        }
        acc.exp().min(1.0)
    }

    /// R `q*(p)`: the smallest x with P(X <= x) >= p.
    pub(crate) fn quantile(self, p: f64) -> f64 {
        if !self.valid() || p.is_nan() {
            return f64::NAN;
        }
        if self.degenerate() || p <= 0.0 {
            return 0.0;
        }
        if p >= 1.0 {
            return f64::INFINITY;
        }
        let target = (p * (1.0 - 64.0 * f64::EPSILON)).ln();
        let mut lp = self.log_pmf0();
        let mut acc = lp;
        let mut x: u64 = 0;
        while acc < target {
            if x >= MAX_STEPS {
                return f64::INFINITY;
            }
            lp += self.log_ratio(x);
            acc = log_add_exp(acc, lp);
            x += 1;
        }
        x as f64
    }

    /// P(X >= y), accurate in the upper tail (summed directly there, not as 1 - F).
    pub(crate) fn upper_tail(self, y: u64) -> f64 {
        if !self.valid() {
            return f64::NAN;
        }
        if y == 0 {
            return 1.0;
        }
        if self.degenerate() {
            return 0.0;
        }
        if (y as f64) <= self.mean() {
            return (1.0 - self.cdf(y - 1)).max(0.0);
        }
        let mut lp = self.log_pmf(y);
        let mut acc = lp;
        let mut x = y;
        while x < y.saturating_add(MAX_STEPS) {
            lp += self.log_ratio(x);
            x += 1;
            let before = acc;
            acc = log_add_exp(acc, lp);
            if acc - before < 1e-17 && (x as f64) > self.mean() {
                break;
            }
        }
        acc.exp().min(1.0)
    }
}

/// log(exp(a) + exp(b)) without overflow.
fn log_add_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// P(X >= k) and P(X = k) for X ~ Binomial(n, p), summed over the upper tail.
pub(crate) fn binomial_upper_tail(k: u64, n: u64, p: f64) -> (f64, f64) {
    if k == 0 {
        let pmf0 = if n == 0 {
            1.0
        } else {
            (n as f64 * (-p).ln_1p()).exp()
        };
        return (1.0, pmf0);
    }
    if k > n {
        return (0.0, 0.0);
    }
    if p <= 0.0 {
        return (0.0, 0.0);
    }
    if p >= 1.0 {
        return (1.0, if k == n { 1.0 } else { 0.0 });
    }
    let (nf, kf) = (n as f64, k as f64);
    let log_pmf_k = ln_gamma(nf + 1.0) - ln_gamma(kf + 1.0) - ln_gamma(nf - kf + 1.0)
        + kf * p.ln()
        + (nf - kf) * (-p).ln_1p();
    let log_odds = p.ln() - (-p).ln_1p();
    let mut lp = log_pmf_k;
    let mut acc = lp;
    for x in k..n {
        lp += ((nf - x as f64) / (x as f64 + 1.0)).ln() + log_odds;
        let before = acc;
        acc = log_add_exp(acc, lp);
        if acc - before < 1e-18 && x as f64 > nf * p {
            break;
        }
    }
    (acc.exp().min(1.0), log_pmf_k.exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::{DiscreteCDF, NegativeBinomial, Poisson};

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn normal_matches_r() {
        // R: qnorm(0.95) = 1.6448536269514722, qnorm(0.975) = 1.959963984540054.
        assert!(close(qnorm(0.95), 1.644_853_626_951_472_2, 1e-14));
        assert!(close(qnorm(0.975), 1.959_963_984_540_054, 1e-14));
        // R: qnorm(0.999) = 3.090232306167813.
        assert!(close(qnorm(0.999), 3.090_232_306_167_813, 1e-13));
        // statrs's erfc is accurate to about 1e-11 relative, below anything a p-value needs.
        assert!(close(
            pnorm_upper(1.959_963_984_540_054, 0.0, 1.0),
            0.025,
            1e-10
        ));
        assert_eq!(pnorm_upper(1.0, 2.0, 0.0), 1.0);
    }

    #[test]
    fn discrete_cdfs_agree_with_statrs_for_moderate_parameters() {
        for &(size, prob) in &[(3.5, 0.4), (56.0, 0.99), (0.7, 0.2)] {
            let ours = Discrete::NegBin { size, prob };
            let theirs = NegativeBinomial::new(size, prob).unwrap();
            for x in [0_u64, 1, 3, 10, 40] {
                assert!(
                    close(ours.cdf(x), theirs.cdf(x), 1e-10),
                    "nb {size} {prob} {x}"
                );
                assert!(
                    close(ours.upper_tail(x + 1), theirs.sf(x), 1e-9),
                    "nb sf {size} {prob} {x}"
                );
            }
        }
        for &lambda in &[0.3, 2.19, 25.0] {
            let ours = Discrete::Poisson { lambda };
            let theirs = Poisson::new(lambda).unwrap();
            for x in [0_u64, 1, 3, 10, 40] {
                assert!(close(ours.cdf(x), theirs.cdf(x), 1e-10));
                assert!(close(ours.upper_tail(x + 1), theirs.sf(x), 1e-9));
            }
        }
    }

    #[test]
    fn quantiles_follow_r_definition() {
        // The 2.2 example of alerting.md: qpois(0.99, 2.19) = 6 and P(Y > 6) = 0.0073.
        let d = Discrete::Poisson { lambda: 2.19 };
        assert_eq!(d.quantile(0.99), 6.0);
        assert!((d.upper_tail(7) - 0.0073).abs() < 5e-5);
        // Smallest x with F(x) >= p: at p = F(2) exactly the answer is 2, not 3.
        let f2 = d.cdf(2);
        assert_eq!(d.quantile(f2), 2.0);
        assert_eq!(Discrete::Poisson { lambda: 0.0 }.quantile(0.99), 0.0);
        assert_eq!(
            Discrete::NegBin {
                size: 0.0,
                prob: 0.5
            }
            .quantile(0.99),
            0.0
        );
        // A size of 5e6 (phi just above 1) behaves like the Poisson limit.
        let nb = Discrete::quasi(5.0, 1.000_001);
        let po = Discrete::Poisson { lambda: 5.0 };
        assert!(close(nb.cdf(9), po.cdf(9), 1e-5));
        assert_eq!(nb.quantile(0.95), po.quantile(0.95));
    }

    #[test]
    fn binomial_tail() {
        let (p, pmf) = binomial_upper_tail(213, 327, 0.5);
        assert!(close(p, 2.3817e-8, 1e-4), "{p}");
        assert!(close(p - 0.5 * pmf, 1.8162e-8, 1e-4));
        assert_eq!(binomial_upper_tail(0, 10, 0.5).0, 1.0);
        assert_eq!(binomial_upper_tail(11, 10, 0.5).0, 0.0);
    }

    #[test]
    fn t_test_p_value() {
        // R: 2 * pt(-2, 10) = 0.07338803.
        assert!(close(pt_two_sided(2.0, 10.0), 0.073_388_03, 1e-6));
        assert!(pt_two_sided(1.0, 0.0).is_nan());
    }
}
