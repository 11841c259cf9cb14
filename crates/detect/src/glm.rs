//! Quasi-Poisson log-linear GLM fitted by IRLS, reproducing R's `glm.fit` step by step.
//!
//! Farrington's thresholds depend on the fit's deviance-based convergence, on the working
//! weights of the *last* iteration (which `summary.glm`, `predict.glm` and `hatvalues` use) and
//! on how rank deficiency is handled, so this follows `glm.fit` rather than a textbook Newton
//! solver: start at μ = y + 0.1; converge when |D − D_old| / (|D| + 0.1) < 1e−8 within 25
//! iterations; halve the step when the deviance is not finite; solve each weighted least-squares
//! step by Householder QR with LINPACK `dqrdc2`'s limited column pivoting (tolerance 1e−11),
//! so an aliased column gets coefficient 0 exactly as R's `NA`.

/// R `glm.control()` defaults.
const EPSILON: f64 = 1e-8;
const MAX_IT: usize = 25;
/// `min(1e-7, epsilon / 1000)` as passed to `Cdqrls` by `glm.fit`.
const QR_TOL: f64 = 1e-11;

/// A design matrix stored by columns (`columns[j][i]` is row `i` of column `j`).
#[derive(Debug, Clone)]
pub(crate) struct Design {
    pub(crate) columns: Vec<Vec<f64>>,
}

impl Design {
    pub(crate) fn rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    fn row(&self, i: usize) -> Vec<f64> {
        self.columns.iter().map(|c| c[i]).collect()
    }
}

/// Result of [`fit`]: what `glm.fit` returns and `summary.glm`/`predict.glm` use.
#[derive(Debug, Clone)]
pub(crate) struct GlmFit {
    /// Coefficients in design order; aliased ones are 0 (R: `NA`, ignored by `predict`).
    pub(crate) coefficients: Vec<f64>,
    pub(crate) aliased: Vec<bool>,
    /// Fitted means μ̂.
    pub(crate) fitted: Vec<f64>,
    /// Working weights of the last IRLS iteration (R `model$weights`).
    pub(crate) working_weights: Vec<f64>,
    /// Working residuals (y − μ̂)/μ̂ (R `model$residuals`).
    pub(crate) working_residuals: Vec<f64>,
    /// Residual degrees of freedom: non-zero-weight observations minus rank.
    pub(crate) df_residual: usize,
    pub(crate) converged: bool,
    /// (XᵀWX)⁻¹ from the last QR, in design order, zero rows/columns for aliased terms
    /// (R `summary.glm(...)$cov.unscaled`).
    pub(crate) cov_unscaled: Vec<Vec<f64>>,
}

impl GlmFit {
    /// `summary.glm` dispersion for quasi families: Σ wᵢ rᵢ² / df over wᵢ > 0, with `weights`
    /// standing in for `model$weights` (normally the working weights, see `pearson_dispersion`).
    pub(crate) fn dispersion_with(&self, weights: &[f64]) -> f64 {
        if self.df_residual == 0 {
            return f64::NAN;
        }
        let sum: f64 = weights
            .iter()
            .zip(&self.working_residuals)
            .filter(|(w, _)| **w > 0.0)
            .map(|(w, r)| w * r * r)
            .sum();
        sum / self.df_residual as f64
    }

    /// The Pearson dispersion estimate Σ ωᵢ (yᵢ − μ̂ᵢ)²/μ̂ᵢ / df that `summary.glm` computes.
    pub(crate) fn pearson_dispersion(&self) -> f64 {
        self.dispersion_with(&self.working_weights)
    }

    /// x₀ᵀβ̂ (without offset), ignoring aliased terms as `predict.lm` does.
    pub(crate) fn linear_predictor(&self, x0: &[f64]) -> f64 {
        x0.iter()
            .zip(&self.coefficients)
            .zip(&self.aliased)
            .filter(|(_, a)| !**a)
            .map(|((x, b), _)| x * b)
            .sum()
    }

    /// x₀ᵀ (XᵀWX)⁻¹ x₀, the unscaled variance of x₀ᵀβ̂.
    pub(crate) fn quadratic_form(&self, x0: &[f64]) -> f64 {
        let mut total = 0.0;
        for (i, xi) in x0.iter().enumerate() {
            for (j, xj) in x0.iter().enumerate() {
                total += xi * self.cov_unscaled[i][j] * xj;
            }
        }
        total
    }

    /// Hat values hᵢ = wᵢ xᵢᵀ(XᵀWX)⁻¹xᵢ (R `hatvalues`, values within 10ε of 1 set to 1).
    pub(crate) fn hat_values(&self, design: &Design) -> Vec<f64> {
        (0..design.rows())
            .map(|i| {
                let w = self.working_weights[i];
                if w <= 0.0 {
                    return 0.0;
                }
                let h = w * self.quadratic_form(&design.row(i));
                if h > 1.0 - 10.0 * f64::EPSILON {
                    1.0
                } else {
                    h
                }
            })
            .collect()
    }
}

/// R's log link inverse: `pmax(exp(eta), .Machine$double.eps)`; also its derivative.
fn exp_floor(eta: f64) -> f64 {
    eta.exp().max(f64::EPSILON)
}

/// Poisson deviance Σ 2 ωᵢ (yᵢ log(yᵢ/μᵢ) − (yᵢ − μᵢ)), the `y = 0` terms being 2 ωᵢ μᵢ.
fn deviance(y: &[f64], mu: &[f64], prior: &[f64]) -> f64 {
    y.iter()
        .zip(mu)
        .zip(prior)
        .map(|((&y, &mu), &w)| {
            if y > 0.0 {
                2.0 * w * (y * (y / mu).ln() - (y - mu))
            } else {
                2.0 * w * mu
            }
        })
        .sum()
}

/// Fits `y ~ design + offset(offset)` with quasi-Poisson family, log link and prior weights.
/// Returns `None` where R's `glm.fit` would stop with an error (no valid coefficients).
pub(crate) fn fit(design: &Design, y: &[f64], prior: &[f64], offset: &[f64]) -> Option<GlmFit> {
    let n = y.len();
    let p = design.columns.len();
    if n == 0 || p == 0 || design.rows() != n || prior.len() != n || offset.len() != n {
        return None;
    }
    let mut eta: Vec<f64> = y.iter().map(|&y| (y + 0.1).ln()).collect();
    let mut mu: Vec<f64> = eta.iter().map(|&e| exp_floor(e)).collect();
    let mut dev_old = deviance(y, &mu, prior);
    let mut coef_old: Option<Vec<f64>> = None;
    let mut converged = false;
    let mut last: Option<(Qr, Vec<f64>)> = None;
    let mut coefficients = vec![0.0; p];

    for _iteration in 0..MAX_IT {
        let good: Vec<bool> = prior.iter().map(|&w| w > 0.0).collect();
        let mut z = Vec::with_capacity(n);
        let mut w = vec![0.0; n];
        let mut weighted_columns: Vec<Vec<f64>> = vec![Vec::with_capacity(n); p];
        for i in 0..n {
            if !good[i] {
                continue;
            }
            let mu_eta = exp_floor(eta[i]);
            let zi = (eta[i] - offset[i]) + (y[i] - mu[i]) / mu_eta;
            let wi = (prior[i] * mu_eta * mu_eta / mu[i]).sqrt();
            w[i] = wi;
            z.push(zi * wi);
            for (j, col) in weighted_columns.iter_mut().enumerate() {
                col.push(design.columns[j][i] * wi);
            }
        }
        let qr = Qr::decompose(weighted_columns, z);
        let Some(mut start) = qr.coefficients() else {
            break;
        };
        if start.iter().any(|b| !b.is_finite()) {
            break;
        }
        let compute = |coef: &[f64]| -> (Vec<f64>, Vec<f64>) {
            let eta: Vec<f64> = (0..n)
                .map(|i| {
                    offset[i]
                        + design
                            .columns
                            .iter()
                            .zip(coef)
                            .map(|(c, b)| c[i] * b)
                            .sum::<f64>()
                })
                .collect();
            let mu = eta.iter().map(|&e| exp_floor(e)).collect();
            (eta, mu)
        };
        let (mut new_eta, mut new_mu) = compute(&start);
        let mut dev = deviance(y, &new_mu, prior);
        let mut halvings = 0;
        while !dev.is_finite() || new_mu.iter().any(|m| !m.is_finite()) {
            let old = coef_old.as_ref()?;
            halvings += 1;
            if halvings > MAX_IT {
                return None;
            }
            start = start.iter().zip(old).map(|(a, b)| (a + b) / 2.0).collect();
            (new_eta, new_mu) = compute(&start);
            dev = deviance(y, &new_mu, prior);
        }
        eta = new_eta;
        mu = new_mu;
        last = Some((qr, w));
        coefficients = start.clone();
        if (dev - dev_old).abs() / (dev.abs() + 0.1) < EPSILON {
            converged = true;
            break;
        }
        dev_old = dev;
        coef_old = Some(start);
    }

    let (qr, w) = last?;
    let aliased = qr.aliased_in_design_order();
    let working_weights: Vec<f64> = w.iter().map(|w| w * w).collect();
    let working_residuals = (0..n).map(|i| (y[i] - mu[i]) / exp_floor(eta[i])).collect();
    let n_ok = prior.iter().filter(|&&w| w != 0.0).count();
    Some(GlmFit {
        coefficients,
        aliased,
        fitted: mu,
        working_weights,
        working_residuals,
        df_residual: n_ok.saturating_sub(qr.rank),
        converged,
        cov_unscaled: qr.cov_unscaled(),
    })
}

/// Householder QR of the weighted design with `dqrdc2`'s limited pivoting: a column whose
/// remaining norm falls below `QR_TOL` times its original norm is moved to the end and counts
/// as aliased.
#[derive(Debug, Clone)]
struct Qr {
    /// Upper-triangular R in pivoted order, `r[i][j]` for i ≤ j < p.
    r: Vec<Vec<f64>>,
    /// Qᵀz.
    qty: Vec<f64>,
    /// `pivot[k]` is the design column at pivoted position k.
    pivot: Vec<usize>,
    rank: usize,
}

impl Qr {
    fn decompose(mut cols: Vec<Vec<f64>>, mut z: Vec<f64>) -> Qr {
        let p = cols.len();
        let n = z.len();
        let mut pivot: Vec<usize> = (0..p).collect();
        let mut original: Vec<f64> = cols
            .iter()
            .map(|c| {
                let norm = norm2(c);
                if norm == 0.0 { 1.0 } else { norm }
            })
            .collect();
        let mut r = vec![vec![0.0; p]; p];
        let mut k = p;
        let lup = n.min(p);
        for l in 0..lup {
            while l < k && norm2(&cols[l][l..]) < original[l] * QR_TOL {
                let col = cols.remove(l);
                cols.push(col);
                let piv = pivot.remove(l);
                pivot.push(piv);
                let orig = original.remove(l);
                original.push(orig);
                k -= 1;
            }
            if l + 1 == n {
                // Last row: no reflection needed (dqrdc2 skips it as well).
                break;
            }
            let mut nrmxl = norm2(&cols[l][l..]);
            if nrmxl == 0.0 {
                continue;
            }
            if cols[l][l] != 0.0 {
                nrmxl = nrmxl.copysign(cols[l][l]);
            }
            for v in &mut cols[l][l..] {
                *v /= nrmxl;
            }
            cols[l][l] += 1.0;
            let (head, tail) = cols.split_at_mut(l + 1);
            let v = &head[l];
            for col in tail.iter_mut() {
                let t = -dot(&v[l..], &col[l..]) / v[l];
                for (c, vi) in col[l..].iter_mut().zip(&v[l..]) {
                    *c += t * vi;
                }
            }
            let t = -dot(&v[l..], &z[l..]) / v[l];
            for (zi, vi) in z[l..].iter_mut().zip(&v[l..]) {
                *zi += t * vi;
            }
            cols[l][l] = -nrmxl;
        }
        for (j, col) in cols.iter().enumerate() {
            for (i, row) in r.iter_mut().enumerate().take((j + 1).min(n)) {
                row[j] = col[i];
            }
        }
        Qr {
            r,
            qty: z,
            pivot,
            rank: k.min(n),
        }
    }

    #[expect(
        clippy::needless_range_loop,
        reason = "triangular solve reads clearer with indices"
    )]
    /// Solves R β = Qᵀz for the non-aliased columns; aliased coefficients are 0.
    fn coefficients(&self) -> Option<Vec<f64>> {
        let k = self.rank;
        let mut beta = vec![0.0; k];
        for i in (0..k).rev() {
            let mut s = self.qty[i];
            for j in i + 1..k {
                s -= self.r[i][j] * beta[j];
            }
            if self.r[i][i] == 0.0 {
                return None;
            }
            beta[i] = s / self.r[i][i];
        }
        let mut out = vec![0.0; self.pivot.len()];
        for (pos, b) in beta.into_iter().enumerate() {
            out[self.pivot[pos]] = b;
        }
        Some(out)
    }

    fn aliased_in_design_order(&self) -> Vec<bool> {
        let mut aliased = vec![true; self.pivot.len()];
        for &col in &self.pivot[..self.rank] {
            aliased[col] = false;
        }
        aliased
    }

    #[expect(
        clippy::needless_range_loop,
        reason = "triangular inverse reads clearer with indices"
    )]
    /// (RᵀR)⁻¹ for the non-aliased block, mapped back to design order.
    fn cov_unscaled(&self) -> Vec<Vec<f64>> {
        let k = self.rank;
        let p = self.pivot.len();
        // Inverse of the upper-triangular k×k block.
        let mut inv = vec![vec![0.0; k]; k];
        for j in 0..k {
            inv[j][j] = 1.0 / self.r[j][j];
            for i in (0..j).rev() {
                let mut s = 0.0;
                for m in i + 1..=j {
                    s += self.r[i][m] * inv[m][j];
                }
                inv[i][j] = -s / self.r[i][i];
            }
        }
        let mut cov = vec![vec![0.0; p]; p];
        for a in 0..k {
            for b in 0..k {
                let s: f64 = (a.max(b)..k).map(|m| inv[a][m] * inv[b][m]).sum();
                cov[self.pivot[a]][self.pivot[b]] = s;
            }
        }
        cov
    }
}

fn norm2(v: &[f64]) -> f64 {
    // Scaled to avoid overflow, as BLAS dnrm2.
    let scale = v.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    if scale == 0.0 || !scale.is_finite() {
        return scale;
    }
    scale * v.iter().map(|x| (x / scale).powi(2)).sum::<f64>().sqrt()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn design(cols: Vec<Vec<f64>>) -> Design {
        Design { columns: cols }
    }

    #[test]
    fn intercept_only_fit_is_the_mean() {
        let y = [1.0, 3.0, 2.0, 6.0];
        let x = design(vec![vec![1.0; 4]]);
        let f = fit(&x, &y, &[1.0; 4], &[0.0; 4]).unwrap();
        assert!(f.converged);
        assert!((f.coefficients[0] - 3.0_f64.ln()).abs() < 1e-10);
        // Pearson dispersion: sum((y - 3)^2 / 3) / 3 = (4 + 0 + 1 + 9) / 9.
        assert!((f.pearson_dispersion() - 14.0 / 9.0).abs() < 1e-8);
        // Var(log mean) unscaled = 1 / sum(mu) = 1/12.
        assert!((f.cov_unscaled[0][0] - 1.0 / 12.0).abs() < 1e-8);
        let h = f.hat_values(&x);
        assert!(h.iter().all(|h| (h - 0.25).abs() < 1e-8));
    }

    #[test]
    fn log_linear_trend_matches_r() {
        // R: glm(y ~ t, family = quasipoisson) with y = c(2,3,6,7,8,9,10,12,15), t = 1:9
        // gives coef (0.9357996, 0.1595262) (computed with the same IRLS by hand-check below:
        // the score equations X'(y - mu) = 0 hold at the solution).
        let y = [2.0, 3.0, 6.0, 7.0, 8.0, 9.0, 10.0, 12.0, 15.0];
        let t: Vec<f64> = (1..=9).map(f64::from).collect();
        let x = design(vec![vec![1.0; 9], t.clone()]);
        let f = fit(&x, &y, &[1.0; 9], &[0.0; 9]).unwrap();
        assert!(f.converged);
        let s0: f64 = y.iter().zip(&f.fitted).map(|(y, m)| y - m).sum();
        let s1: f64 = y
            .iter()
            .zip(&f.fitted)
            .zip(&t)
            .map(|((y, m), t)| t * (y - m))
            .sum();
        assert!(s0.abs() < 1e-6 && s1.abs() < 1e-6);
    }

    /// R `?glm` example (Dobson 1990, p. 93): `glm.D93` coefficients 3.044522, −0.4542553,
    /// −0.2929871, 0, 0; standard errors 0.1709, 0.2022, 0.1927, 0.2000, 0.2000 (Poisson,
    /// dispersion 1); residual deviance 5.1291 on 4 df.
    #[test]
    fn dobson_glm_d93() {
        let y = [18.0, 17.0, 15.0, 20.0, 10.0, 20.0, 25.0, 13.0, 12.0];
        let outcome = |level: usize| {
            (0..9)
                .map(|i| f64::from(u8::from(i % 3 == level)))
                .collect()
        };
        let treatment = |level: usize| {
            (0..9)
                .map(|i| f64::from(u8::from(i / 3 == level)))
                .collect()
        };
        let x = design(vec![
            vec![1.0; 9],
            outcome(1),
            outcome(2),
            treatment(1),
            treatment(2),
        ]);
        let f = fit(&x, &y, &[1.0; 9], &[0.0; 9]).unwrap();
        assert!(f.converged);
        let expected = [3.044_522, -0.454_255_3, -0.292_987_1, 0.0, 0.0];
        for (b, e) in f.coefficients.iter().zip(expected) {
            assert!((b - e).abs() < 1e-6, "{b} vs {e}");
        }
        let se = [0.1709, 0.2022, 0.1927, 0.2000, 0.2000];
        for (j, e) in se.iter().enumerate() {
            assert!((f.cov_unscaled[j][j].sqrt() - e).abs() < 5e-5);
        }
        assert_eq!(f.df_residual, 4);
        assert!((deviance(&y, &f.fitted, &[1.0; 9]) - 5.1291).abs() < 1e-4);
    }

    #[test]
    fn aliased_column_gets_zero_coefficient() {
        let y = [1.0, 2.0, 3.0, 4.0];
        let x = design(vec![vec![1.0; 4], vec![0.0; 4], vec![1.0, 2.0, 3.0, 4.0]]);
        let f = fit(&x, &y, &[1.0; 4], &[0.0; 4]).unwrap();
        assert_eq!(f.aliased, vec![false, true, false]);
        assert_eq!(f.coefficients[1], 0.0);
        assert_eq!(f.df_residual, 2);
    }

    #[test]
    fn all_zero_response_does_not_panic() {
        let y = [0.0; 10];
        let x = design(vec![vec![1.0; 10]]);
        let f = fit(&x, &y, &[1.0; 10], &[0.0; 10]).unwrap();
        assert!(f.fitted.iter().all(|m| *m < 1e-6));
    }
}
