//! The ridge baseline: `min_w ‖y − Xw − b‖² + λ‖w‖²` with an unpenalised intercept, solved
//! exactly on centred data in whichever form has the smaller system.
//!
//! * primal, for k ≤ n features: `(XᵀX + λI) w = Xᵀy`, a k × k system;
//! * dual, for k > n rows: `w = Xᵀ (XXᵀ + λI)⁻¹ y`, an n × n kernel system. For λ > 0 it has the
//!   same solution (`(XᵀX + λI) Xᵀ = Xᵀ (XXᵀ + λI)`), so a file of 100 rows with feature index
//!   100,000 needs a 100 × 100 matrix, not 100,000 × 100,000.
//!
//! The Gram (or kernel) matrix is built once for the whole λ grid; each λ adds λI and factors
//! it by Cholesky. [`RidgePlan`] says which form runs and estimates its memory and its
//! floating-point operations before anything is allocated; a plan beyond the memory budget or
//! beyond [`MAX_RIDGE_FLOPS`] is refused up front, at data preparation, before any model trains.
//!
//! ```
//! use sodeep_lab::data::Matrix;
//! use sodeep_lab::experiment::ridge::{ridge, RidgeForm, RidgePlan};
//!
//! // y = 2 x0 − x1 + 1 on three rows: the primal form (2 features ≤ 3 rows)
//! let x = Matrix::new(3, 2, vec![0.0, 1.0, 1.0, 0.0, 2.0, 3.0]).unwrap();
//! let y = [0.0f32, 3.0, 2.0];
//! assert_eq!(RidgePlan::new(3, 2).form, RidgeForm::Primal);
//! let (w, b) = ridge(&x, &y, 1e-9).unwrap();
//! assert!((w[0] - 2.0).abs() < 1e-6 && (w[1] + 1.0).abs() < 1e-6 && (b - 1.0).abs() < 1e-6);
//! // more features than rows: the dual form, an n × n kernel
//! assert_eq!(RidgePlan::new(3, 100_000).form, RidgeForm::Dual);
//! assert_eq!(RidgePlan::new(3, 100_000).side(), 3);
//! ```

use crate::data::Matrix;
use crate::error::{Error, Result};

/// The λ grid of [`ridge_on_validation`]: 10⁻³ … 10⁴.
pub const LAMBDAS: [f64; 8] = [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4];

/// The most floating-point operations (as [`RidgePlan::flops`] counts them) the baseline may
/// take, a few minutes on one core: a plan beyond it is refused before any model trains,
/// rather than running for hours after them. The smaller form keeps ordinary data far below
/// it; a square table of 6,000 rows and 6,000 features is just under it.
pub const MAX_RIDGE_FLOPS: f64 = 1e12;

/// The form in which ridge regression is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RidgeForm {
    /// The normal equations, a k × k system for k features (used when k ≤ n rows).
    Primal,
    /// The kernel system, n × n for n rows (used when k > n).
    Dual,
}

impl RidgeForm {
    /// `primal` or `dual`, as the results record it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Primal => "primal",
            Self::Dual => "dual",
        }
    }
}

/// Which form ridge regression takes on `rows × features` data, and what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RidgePlan {
    /// The form with the smaller system.
    pub form: RidgeForm,
    /// Training rows.
    pub rows: usize,
    /// Features.
    pub features: usize,
}

impl RidgePlan {
    /// The plan for `rows × features` data: primal when `features ≤ rows`, else dual.
    pub fn new(rows: usize, features: usize) -> Self {
        let form = if features <= rows {
            RidgeForm::Primal
        } else {
            RidgeForm::Dual
        };
        Self {
            form,
            rows,
            features,
        }
    }

    /// The side of the square system: `min(rows, features)`.
    pub fn side(&self) -> usize {
        self.rows.min(self.features)
    }

    /// Estimated peak bytes: the centred data in f64, the Gram (or kernel) matrix and its
    /// Cholesky factor, and the vectors beside them.
    pub fn bytes(&self) -> u64 {
        let (n, k, m) = (self.rows as u64, self.features as u64, self.side() as u64);
        let data = n.saturating_mul(k);
        let squares = m.saturating_mul(m).saturating_mul(2);
        let vectors = n.saturating_add(k).saturating_mul(4);
        data.saturating_add(squares)
            .saturating_add(vectors)
            .saturating_mul(8)
    }

    /// Estimated floating-point operations of the whole λ grid: the Gram matrix once
    /// (`side² · other`), then per λ a Cholesky factorisation (`side³ / 3`) and the solves.
    pub fn flops(&self) -> f64 {
        let (n, k, m) = (self.rows as f64, self.features as f64, self.side() as f64);
        let other = n.max(k);
        let per_lambda = m * m * m / 3.0 + 4.0 * m * m + 2.0 * n * k;
        m * m * other + 4.0 * n * k + LAMBDAS.len() as f64 * per_lambda
    }

    /// Refuses a plan whose memory, times `concurrent` solves running side by side, exceeds
    /// the budget of [`sodeep::memory`], or whose operations exceed [`MAX_RIDGE_FLOPS`].
    pub fn check(&self, concurrent: usize) -> Result<()> {
        let flops = self.flops();
        if flops > MAX_RIDGE_FLOPS {
            return Err(Error::Data(format!(
                "the ridge baseline on {} training rows × {} features needs about {flops:.1e} \
                 floating-point operations even in its {} form (a {m} × {m} system), more than \
                 the {MAX_RIDGE_FLOPS:.0e} it may take (a few minutes): use fewer rows or \
                 features",
                self.rows,
                self.features,
                self.form.name(),
                m = self.side()
            )));
        }
        sodeep::memory::check(
            &format!(
                "the ridge baseline on {} training rows × {} features ({} form, {} solve{} side \
                 by side)",
                self.rows,
                self.features,
                self.form.name(),
                concurrent.max(1),
                if concurrent > 1 { "s" } else { "" }
            ),
            self.bytes().saturating_mul(concurrent.max(1) as u64),
        )?;
        Ok(())
    }

    /// What runs, in words: `dual form (kernel of 96 rows; 100000 features), about 2.1e8
    /// operations`.
    pub fn describe(&self) -> String {
        let system = match self.form {
            RidgeForm::Primal => format!("{} × {} normal equations", self.features, self.features),
            RidgeForm::Dual => format!(
                "{} × {} kernel of the training rows, {} features",
                self.rows, self.rows, self.features
            ),
        };
        format!(
            "{} form ({system}), about {:.1e} operations",
            self.form.name(),
            self.flops()
        )
    }
}

/// The centred data of a ridge problem and its Gram (primal) or kernel (dual) matrix, built
/// once for the whole λ grid.
struct System {
    plan: RidgePlan,
    x_mean: Vec<f64>,
    y_mean: f64,
    /// Centred `x` in f64, laid out so that the system's vectors are contiguous: column after
    /// column (primal), or row after row (dual).
    xc: Vec<f64>,
    /// `side × side`, lower triangle filled.
    gram: Vec<f64>,
    /// Primal: `Xcᵀ yc`; dual: `yc`.
    rhs: Vec<f64>,
}

/// `Σ a_i b_i`, in four running sums (which also lets the compiler vectorise it).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut s = [0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..4 {
            s[i] += x[i] * y[i];
        }
    }
    (s[0] + s[1]) + (s[2] + s[3]) + tail
}

impl System {
    fn new(x: &Matrix, y: &[f32]) -> Result<Self> {
        let (n, k) = (x.rows, x.cols);
        if y.len() != n || n == 0 || k == 0 {
            return Err(Error::InvalidArgument(format!(
                "ridge regression needs one target per row and at least one row and feature, \
                 got {n} rows × {k} features and {} targets",
                y.len()
            )));
        }
        let plan = RidgePlan::new(n, k);
        let nf = n as f64;
        let y_mean = y.iter().map(|&v| v as f64).sum::<f64>() / nf;
        let mut x_mean = vec![0f64; k];
        for r in 0..n {
            for (m, &v) in x_mean.iter_mut().zip(x.row(r)) {
                *m += v as f64;
            }
        }
        for m in &mut x_mean {
            *m /= nf;
        }
        let yc: Vec<f64> = y.iter().map(|&v| v as f64 - y_mean).collect();
        let mut xc = vec![0f64; n * k];
        for r in 0..n {
            for (c, (&v, m)) in x.row(r).iter().zip(&x_mean).enumerate() {
                let at = match plan.form {
                    RidgeForm::Primal => c * n + r,
                    RidgeForm::Dual => r * k + c,
                };
                xc[at] = v as f64 - m;
            }
        }
        let (side, len) = match plan.form {
            RidgeForm::Primal => (k, n),
            RidgeForm::Dual => (n, k),
        };
        let vector = |i: usize| &xc[i * len..(i + 1) * len];
        let mut gram = vec![0f64; side * side];
        for i in 0..side {
            for j in 0..=i {
                gram[i * side + j] = dot(vector(i), vector(j));
            }
        }
        let rhs = match plan.form {
            RidgeForm::Primal => (0..k).map(|c| dot(vector(c), &yc)).collect(),
            RidgeForm::Dual => yc,
        };
        Ok(Self {
            plan,
            x_mean,
            y_mean,
            xc,
            gram,
            rhs,
        })
    }

    /// The weights and intercept at `lambda`.
    fn solve(&self, lambda: f64) -> Result<(Vec<f64>, f64)> {
        let m = self.plan.side();
        let mut a = self.gram.clone();
        for i in 0..m {
            a[i * m + i] += lambda;
        }
        let mut b = self.rhs.clone();
        if !cholesky_solve(&mut a, &mut b, m) {
            return Err(Error::InvalidArgument(format!(
                "ridge regression with λ = {lambda} has no unique solution"
            )));
        }
        let w = match self.plan.form {
            RidgeForm::Primal => b,
            // w = Xcᵀ α
            RidgeForm::Dual => {
                let k = self.plan.features;
                let mut w = vec![0f64; k];
                for (r, &alpha) in b.iter().enumerate() {
                    for (wc, &v) in w.iter_mut().zip(&self.xc[r * k..(r + 1) * k]) {
                        *wc += alpha * v;
                    }
                }
                w
            }
        };
        let intercept = self.y_mean - dot(&w, &self.x_mean);
        Ok((w, intercept))
    }
}

/// Solves `A w = b` in place (`b` becomes `w`) for symmetric positive definite `A` (`m × m`,
/// lower triangle read) by Cholesky; `false` if `A` is not positive definite.
fn cholesky_solve(a: &mut [f64], b: &mut [f64], m: usize) -> bool {
    for j in 0..m {
        let d = a[j * m + j] - dot(&a[j * m..j * m + j], &a[j * m..j * m + j]);
        if d <= 0.0 || !d.is_finite() {
            return false;
        }
        let d = d.sqrt();
        a[j * m + j] = d;
        for i in j + 1..m {
            let s = a[i * m + j] - dot(&a[i * m..i * m + j], &a[j * m..j * m + j]);
            a[i * m + j] = s / d;
        }
    }
    // forward then backward substitution with the lower factor L
    for i in 0..m {
        let s = b[i] - dot(&a[i * m..i * m + i], &b[..i]);
        b[i] = s / a[i * m + i];
    }
    for i in (0..m).rev() {
        let mut s = b[i];
        for p in i + 1..m {
            s -= a[p * m + i] * b[p];
        }
        b[i] = s / a[i * m + i];
    }
    true
}

/// Ridge regression of `y` on `x` at `lambda` (> 0), in the form [`RidgePlan::new`] picks.
/// Returns the weights and the intercept.
pub fn ridge(x: &Matrix, y: &[f32], lambda: f64) -> Result<(Vec<f64>, f64)> {
    System::new(x, y)?.solve(lambda)
}

/// A ridge model chosen on validation (see [`ridge_on_validation`]).
pub struct ValidatedRidge {
    /// The validation metric of the chosen λ.
    pub val: f64,
    /// The chosen λ.
    pub lambda: f64,
    /// Weights.
    pub w: Vec<f64>,
    /// Intercept.
    pub intercept: f64,
    /// The form that was solved.
    pub form: RidgeForm,
}

/// Ridge regression of `y` on `x` for every λ of [`LAMBDAS`], keeping the λ whose predictions
/// on the validation rows score highest by `validate` (higher is better; the first λ wins
/// ties). Callers check [`RidgePlan::check`] when they prepare the data.
pub fn ridge_on_validation(
    x: &Matrix,
    y: &[f32],
    mut validate: impl FnMut(&[f64], f64) -> f64,
) -> Result<ValidatedRidge> {
    let system = System::new(x, y)?;
    let mut best: Option<ValidatedRidge> = None;
    for lambda in LAMBDAS {
        let (w, intercept) = system.solve(lambda)?;
        let val = validate(&w, intercept);
        if best.as_ref().is_none_or(|b| val > b.val) {
            best = Some(ValidatedRidge {
                val,
                lambda,
                w,
                intercept,
                form: system.plan.form,
            });
        }
    }
    Ok(best.expect("the λ grid is not empty"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(rows: usize, cols: usize, seed: u64) -> (Matrix, Vec<f32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let data: Vec<f32> = (0..rows * cols)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let x = Matrix::new(rows, cols, data).unwrap();
        let y = (0..rows).map(|_| rng.random_range(-1.0..1.0)).collect();
        (x, y)
    }

    #[test]
    fn ridge_recovers_a_linear_map() {
        let (x, _) = random(200, 3, 3);
        let y: Vec<f32> = (0..200)
            .map(|r| 2.0 * x.row(r)[0] - x.row(r)[2] + 0.5)
            .collect();
        let (w, b) = ridge(&x, &y, 1e-6).unwrap();
        assert!((w[0] - 2.0).abs() < 1e-3 && w[1].abs() < 1e-3 && (w[2] + 1.0).abs() < 1e-3);
        assert!((b - 0.5).abs() < 1e-3, "{b}");
    }

    /// The primal normal equations built and solved directly, whatever the shape.
    fn naive_primal(x: &Matrix, y: &[f32], lambda: f64) -> (Vec<f64>, f64) {
        let (n, k) = (x.rows, x.cols);
        let mean = |f: &dyn Fn(usize) -> f64| (0..n).map(f).sum::<f64>() / n as f64;
        let x_mean: Vec<f64> = (0..k).map(|c| mean(&|r| x.row(r)[c] as f64)).collect();
        let y_mean = mean(&|r| y[r] as f64);
        let xc = |r: usize, c: usize| x.row(r)[c] as f64 - x_mean[c];
        let mut a = vec![0f64; k * k];
        let mut b = vec![0f64; k];
        for i in 0..k {
            for j in 0..k {
                a[i * k + j] = (0..n).map(|r| xc(r, i) * xc(r, j)).sum::<f64>();
            }
            a[i * k + i] += lambda;
            b[i] = (0..n).map(|r| xc(r, i) * (y[r] as f64 - y_mean)).sum();
        }
        assert!(cholesky_solve(&mut a, &mut b, k));
        let intercept = y_mean - dot(&b, &x_mean);
        (b, intercept)
    }

    /// The dual form gives the primal's solution on a problem wider than tall.
    #[test]
    fn the_dual_form_gives_the_primal_solution() {
        let (x, y) = random(12, 30, 5);
        let dual = System::new(&x, &y).unwrap();
        assert_eq!(dual.plan.form, RidgeForm::Dual);
        for lambda in [1e-3, 1.0, 1e4] {
            let (wd, bd) = dual.solve(lambda).unwrap();
            let (wp, bp) = naive_primal(&x, &y, lambda);
            let scale = wp.iter().fold(1e-12f64, |a, w| a.max(w.abs()));
            for (a, b) in wd.iter().zip(&wp) {
                assert!((a - b).abs() <= 1e-8 * scale, "λ {lambda}: {a} vs {b}");
            }
            assert!((bd - bp).abs() <= 1e-8 * (1.0 + bp.abs()), "{bd} vs {bp}");
        }
        // and the primal form agrees with it on a tall problem
        let (x, y) = random(40, 6, 7);
        let (w, b) = ridge(&x, &y, 0.1).unwrap();
        let (wp, bp) = naive_primal(&x, &y, 0.1);
        assert!(w.iter().zip(&wp).all(|(a, b)| (a - b).abs() < 1e-10));
        assert!((b - bp).abs() < 1e-10);
    }

    #[test]
    fn plans_pick_the_smaller_system_and_count_its_cost() {
        let p = RidgePlan::new(120, 100_000);
        assert_eq!((p.form, p.side()), (RidgeForm::Dual, 120));
        // the data in f64 dominates; no k × k matrix is counted
        assert!(p.bytes() < 120 * 100_000 * 8 + (4 << 20), "{}", p.bytes());
        assert!(p.flops() < 1e10, "{}", p.flops());
        assert!(p.check(1).is_ok());
        // the primal form of the same data would need 80 GB
        assert_eq!(RidgePlan::new(100_000, 120).form, RidgeForm::Primal);
        // a square table beyond the operation bound is refused, naming the sizes
        let e = RidgePlan::new(20_000, 20_000)
            .check(1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("20000 training rows × 20000 features"), "{e}");
        assert!(
            p.describe().starts_with("dual form (120 × 120 kernel"),
            "{}",
            p.describe()
        );
    }
}
