//! The learning-to-rank task: an MLP scores the documents of each query and is judged by NDCG@10
//! on the test queries.
//!
//! Features go through `sign(x)·ln(1 + |x|)` (search features such as term counts and BM25 span
//! orders of magnitude) and are then standardised with the training part's statistics. A
//! training step is a batch of whole queries ([`ExperimentConfig::batch`] queries, default 1).
//! Validation queries are held out of the training file by query, never by row; they pick the
//! learning rate and the epoch. Without a test file, a fifth of the training queries is held
//! out as the test part, per seed.
//!
//! Test metrics, each the mean over test queries (see [`QueryMetrics`]): NDCG@1, @3, @5 and @10
//! with exponential gains `2^rel − 1` (the LETOR and LightGBM convention; NDCG@10 is the
//! reported `mean`), NDCG@10 with linear gains as scikit-learn's `ndcg_score` computes it
//! (`ndcg10_linear`), MAP and MRR (relevant: label ≥ 1). Score ties are averaged as in
//! scikit-learn for NDCG, and counted against the model for MAP and MRR.
//!
//! A query with no relevant document has no NDCG, AP or reciprocal rank (its ideal DCG is 0):
//! it is left out of every mean, and the experiment's warnings say how many were left out.
//! (LightGBM's evaluator counts such a query as NDCG 1, scikit-learn's `ndcg_score` as 0.)

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::config::{DataSource, LossKind, RunRanker};
use super::lightgbm;
use super::model::{batch_index, column_stats, fit, linear_predict, standardized, Mlp};
use super::parts::{check_features, split};
use super::results::Column;
use super::results::{ExperimentResult, RunOutcome};
use super::ridge::{ridge_on_validation, RidgePlan};
use super::task::{DataFiles, ExperimentConfig, Prepared, Sanity, SeedData, Task};
use crate::data::letor::{self, LetorPair, Queries};
use crate::data::Matrix;
use crate::error::{Error, Result};
use sodeep::loss::{LtrConfig, LtrKind, LtrLoss, NdcgConfig, NdcgLoss, QueryLoss};
use sodeep::metrics::{average_precision, ndcg_at_k_gain, reciprocal_rank, Gain};

/// The fraction of training queries held out as the test part when no test file is given.
const TEST_FRACTION: f64 = 0.2;

/// The analytic rankers whose NDCG losses the ltr task runs by default, beside the sorters.
pub const LTR_ANALYTIC_RANKERS: [&str; 3] = ["softrank", "neuralsort", "diffsort-bitonic"];

/// The ltr baselines the required target compares with (the pointwise, pairwise and list-wise
/// losses; LambdaRank and LightGBM are the goal's).
const LTR_REQUIRED_BASELINES: [&str; 4] = ["mse", "ranknet", "listnet", "listmle"];

/// The sanity floor: the mse baseline's test NDCG@10 (exponential gains) must clear it, well
/// above what random scores get on mslr-sample.
const LTR_SANITY_NDCG10: f64 = 0.30;

/// Learning to rank: documents scored per query, judged by NDCG@10.
#[derive(Debug, Clone, Copy)]
pub struct Ltr;

impl Task for Ltr {
    fn name(&self) -> &'static str {
        "ltr"
    }

    fn metric(&self) -> &'static str {
        "ndcg10"
    }

    fn default_data(&self) -> &'static str {
        "mslr-sample"
    }

    fn baselines(&self) -> &'static [&'static str] {
        &[
            "mse",
            "ranknet",
            "lambdarank",
            "listnet",
            "listmle",
            "approxndcg",
        ]
    }

    fn configure(&self, cfg: &mut ExperimentConfig) {
        cfg.epochs = 60;
        cfg.lrs = vec![1e-3, 3e-3, 1e-2];
        cfg.hidden = 64;
        cfg.sorters = vec!["best-100".to_string()];
        // batches are whole queries: one query per step
        cfg.batch = 1;
    }

    fn quick(&self, cfg: &mut ExperimentConfig) {
        cfg.epochs = 20;
        cfg.lrs = vec![3e-3];
    }

    fn prepare(&self, cfg: &ExperimentConfig) -> Result<Prepared> {
        prepare(cfg)
    }

    fn data_from_files(&self, files: &DataFiles) -> Result<DataSource> {
        match &files.train {
            Some(train) => Ok(DataSource::Letor {
                train: train.clone(),
                train_query: files.train_query.clone(),
                test: files.test.clone(),
                test_query: files.test_query.clone(),
            }),
            None => Err(Error::InvalidArgument(
                "--a/--b give paired rows for the retrieval task; use --train for ltr".into(),
            )),
        }
    }

    fn default_losses(&self, sorters: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self.baselines().iter().map(|s| s.to_string()).collect();
        out.extend(LTR_ANALYTIC_RANKERS.iter().map(|s| format!("ndcg:{s}")));
        out.extend(sorters.iter().map(|s| self.rank_loss_name(s)));
        out
    }

    fn rank_loss_name(&self, ranker: &str) -> String {
        format!("ndcg:{ranker}")
    }

    fn parse_loss(&self, name: &str) -> Result<LossKind> {
        if let Some(spec) = name.strip_prefix("ndcg:") {
            if !spec.trim().is_empty() {
                return Ok(LossKind::Ndcg(spec.trim().into()));
            }
        }
        LtrKind::from_name(name).map(LossKind::Ltr).map_err(|_| {
            Error::InvalidArgument(format!(
                "unknown loss '{name}' for the ltr task: use {} or ndcg:<ranker spec> (ndcg:softrank, ndcg:best-100, ...)",
                self.baselines().join(", ")
            ))
        })
    }

    fn accepts(&self, kind: &LossKind) -> bool {
        matches!(kind, LossKind::Ltr(_) | LossKind::Ndcg(_))
    }

    // a lone ltr query is a whole list
    fn min_batch(&self) -> usize {
        1
    }

    fn batch_unit(&self) -> &'static str {
        "queries"
    }

    fn has_reference(&self) -> bool {
        true
    }

    // the ltr data come from PyPI; without Python or the network the rest still runs
    fn skippable_without_data(&self) -> bool {
        true
    }

    fn metric_head(&self) -> String {
        "NDCG@10".into()
    }

    fn columns(&self) -> &'static [Column] {
        const fn col(key: &'static str, head: &'static str) -> Column {
            Column {
                key,
                head,
                decimals: 4,
            }
        }
        const COLUMNS: [Column; 6] = [
            col("ndcg1", "NDCG@1"),
            col("ndcg3", "NDCG@3"),
            col("ndcg5", "NDCG@5"),
            col("map", "MAP"),
            col("mrr", "MRR"),
            col("ndcg10_linear", "NDCG@10 linear gains"),
        ];
        &COLUMNS
    }

    fn sanity(&self) -> Option<Sanity> {
        Some(Sanity {
            loss: "mse",
            key: None,
            floor: LTR_SANITY_NDCG10,
            label: "test NDCG@10",
        })
    }

    /// The ltr targets: the best NDCG loss through a ranker against the best of mse, ranknet,
    /// listnet and listmle (required: not below it by more than its sd), then against
    /// lambdarank and lightgbm (goal: at or above).
    fn goal_lines(&self, result: &ExperimentResult) -> Vec<String> {
        let best = |keep: &dyn Fn(&str) -> bool| {
            result
                .results
                .iter()
                .filter(|(n, _)| keep(n))
                .max_by(|a, b| a.1.mean.total_cmp(&b.1.mean))
        };
        let Some((ours, r)) = best(&|n| n.starts_with("ndcg:")) else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        if let Some((base, b)) = best(&|n| LTR_REQUIRED_BASELINES.contains(&n)) {
            let met = r.mean >= b.mean - b.sd;
            lines.push(format!(
                "- required: the best NDCG loss through a ranker ({ours}: {:.4} ± {:.4}) against the best of {} ({base}: {:.4} ± {:.4}): difference {:+.4}, {}",
                r.mean,
                r.sd,
                LTR_REQUIRED_BASELINES.join(", "),
                b.mean,
                b.sd,
                r.mean - b.mean,
                if met { "met (not below by more than the baseline's sd)" } else { "NOT met (below by more than the baseline's sd)" }
            ));
        }
        for goal in ["lambdarank", "lightgbm"] {
            if let Some(g) = result.results.get(goal) {
                let within = (r.mean - g.mean).abs() <= r.sd.max(g.sd);
                lines.push(format!(
                    "- goal: {ours} ({:.4}) ≥ {goal} ({:.4} ± {:.4}): difference {:+.4}, {}{}",
                    r.mean,
                    g.mean,
                    g.sd,
                    r.mean - g.mean,
                    if r.mean >= g.mean { "met" } else { "NOT met" },
                    if within {
                        ", but the difference is inside the larger sd"
                    } else {
                        ""
                    }
                ));
            }
        }
        lines
    }
}

/// Loads the queries and splits them for every seed.
fn prepare(cfg: &ExperimentConfig) -> Result<Prepared> {
    let pair = match &cfg.data {
        DataSource::Builtin(name) if name == "mslr-sample" => {
            letor::mslr_sample(cfg.data_dir.as_deref())?
        }
        DataSource::Builtin(other) => {
            return Err(Error::InvalidArgument(format!(
                "unknown dataset '{other}' for the ltr task: use mslr-sample, or --train F [--test F] in SVMlight/LETOR format"
            )))
        }
        DataSource::Letor {
            train,
            train_query,
            test,
            test_query,
        } => letor::load_letor_pair(
            train,
            train_query.as_deref(),
            test.as_deref(),
            test_query.as_deref(),
        )?,
        DataSource::Csv { .. } | DataSource::Paired { .. } => {
            return Err(Error::InvalidArgument(
                "the ltr task takes --data mslr-sample or --train F [--test F] (SVMlight/LETOR files, or LightGBM's layout with --train-query F.query)".into(),
            ))
        }
    };
    let LetorPair {
        train,
        test,
        test_only_features,
    } = pair;
    check_trainable(&train)?;
    check_features(&train.name, &train.x)?;
    let mut warnings = Vec::new();
    if !test_only_features.is_empty() {
        warnings.push(test_only_warning(&test_only_features));
    }
    // every query without a relevant document is said, wherever it ends up
    let silent = queries_without_relevant(&train);
    if silent > 0 {
        warnings.push(format!(
            "{silent} of the {} training queries have no relevant document (label ≥ 1): the \
             losses get no ranking signal from them, and any of them held out for validation{} \
             is left out of that part's means",
            train.query_count(),
            if test.is_none() { " or testing" } else { "" }
        ));
    }
    if let Some(t) = &test {
        let silent = queries_without_relevant(t);
        if silent > 0 {
            warnings.push(format!(
                "{silent} of the {} test queries have no relevant document: they are left out of every test mean",
                t.query_count()
            ));
        }
    }
    let mut seeds: Vec<Box<dyn SeedData>> = Vec::new();
    // the linear baselines of the seeds run side by side, one per job thread
    let concurrent = rayon::current_num_threads().clamp(1, cfg.seeds.max(1));
    for s in 0..cfg.seeds as u64 {
        // the queries of `train` to train and validate on, and the test part
        let held_out;
        let (pool, test_part): (Vec<usize>, &Queries) = match &test {
            Some(t) => ((0..train.query_count()).collect(), t),
            None => {
                let (rest, held) = split(train.query_count(), TEST_FRACTION, 1000 + s);
                held_out = train.select_queries(&held);
                (rest, &held_out)
            }
        };
        let (tr, va) = split(pool.len(), cfg.val_fraction, 2000 + s);
        let pick = |part: &[usize]| {
            train.select_queries(&part.iter().map(|&i| pool[i]).collect::<Vec<_>>())
        };
        let (tr, va) = (pick(&tr), pick(&va));
        for (what, part) in [("training", &tr), ("validation", &va), ("test", test_part)] {
            check_part(&train.name, what, part)?;
        }
        // the baseline's cost is known now: refuse it before any model trains
        let plan = RidgePlan::new(tr.x.rows, tr.x.cols);
        plan.check(concurrent)?;
        seeds.push(Box::new(LtrSeed::new(&tr, &va, test_part, plan)?));
    }
    Ok(Prepared {
        name: train.name.clone(),
        seeds,
        warnings,
    })
}

/// The warning for features that only the test file has (their values were left out).
fn test_only_warning(indices: &[u32]) -> String {
    const SHOWN: usize = 10;
    let mut list: Vec<String> = indices.iter().take(SHOWN).map(u32::to_string).collect();
    if indices.len() > SHOWN {
        list.push("…".into());
    }
    format!(
        "{} feature{} of the test file never appear{} in the training file (index {}): the \
         model has no trained weight for them, so their test values are left out (read as 0, \
         as in every training row)",
        indices.len(),
        if indices.len() == 1 { "" } else { "s" },
        if indices.len() == 1 { "s" } else { "" },
        list.join(", ")
    )
}

/// A training set needs at least two queries of at least two documents each: a query of one
/// document has no order to learn, and one query leaves nothing to validate on.
fn check_trainable(train: &Queries) -> Result<()> {
    let usable = train
        .query_rows()
        .iter()
        .filter(|rows| rows.len() >= 2)
        .count();
    if usable < 2 {
        return Err(Error::Data(format!(
            "{}: {usable} of its {} queries have two or more documents; learning to rank needs at least two such queries",
            train.name,
            train.query_count()
        )));
    }
    Ok(())
}

fn queries_without_relevant(q: &Queries) -> usize {
    q.query_rows()
        .iter()
        .filter(|rows| rows.iter().all(|&r| q.relevance[r] <= 0.0))
        .count()
}

/// Every part needs a query with a relevant document, or its NDCG is undefined.
fn check_part(data: &str, what: &str, part: &Queries) -> Result<()> {
    if part.query_count() > queries_without_relevant(part) {
        return Ok(());
    }
    Err(Error::Data(format!(
        "{data}: the {what} part ({} queries) has no query with a relevant document (label ≥ 1), so its NDCG is undefined: use more queries{}",
        part.query_count(),
        if what == "validation" {
            " or a larger --val-fraction"
        } else {
            ""
        }
    )))
}

/// `sign(x)·ln(1 + |x|)`, elementwise.
fn log_transform(x: &Matrix) -> Result<Matrix> {
    let data = x
        .data
        .iter()
        .map(|&v| v.signum() * v.abs().ln_1p())
        .collect();
    Matrix::new(x.rows, x.cols, data)
}

/// One part of a seed's split, with its features transformed and standardised.
struct Part {
    /// `rows × features`, for the MLP.
    x: Tensor,
    /// The same values, for ridge regression and LightGBM.
    raw: Matrix,
    /// The label of every row.
    relevance: Vec<f32>,
    /// The rows of each query.
    queries: Vec<Vec<usize>>,
}

impl Part {
    /// The test figures of `scores`, one per row of this part.
    fn score(&self, scores: &[f32]) -> QueryMetrics {
        QueryMetrics::of(scores, &self.relevance, &self.queries)
    }

    fn split(&self) -> lightgbm::Split<'_> {
        lightgbm::Split {
            x: &self.raw,
            relevance: &self.relevance,
            queries: &self.queries,
        }
    }
}

/// The test figures of one set of scores, each the mean over the queries that have a relevant
/// document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryMetrics {
    /// NDCG@1, @3, @5, @10 with exponential gains.
    pub ndcg: [f64; 4],
    /// NDCG@10 with linear gains (scikit-learn's `ndcg_score`).
    pub ndcg10_linear: f64,
    /// Mean average precision (relevant: label ≥ 1).
    pub map: f64,
    /// Mean reciprocal rank of the first relevant document.
    pub mrr: f64,
}

/// The cut-offs of [`QueryMetrics::ndcg`].
pub const NDCG_CUTOFFS: [usize; 4] = [1, 3, 5, 10];

impl QueryMetrics {
    /// The metrics of `scores` on the queries `queries` (row lists) labelled `relevance`.
    pub fn of(scores: &[f32], relevance: &[f32], queries: &[Vec<usize>]) -> Self {
        let mut sums = [0f64; 7];
        let mut counted = 0usize;
        for rows in queries {
            let rel: Vec<f64> = rows.iter().map(|&r| relevance[r] as f64).collect();
            let s: Vec<f64> = rows.iter().map(|&r| scores[r] as f64).collect();
            let relevant: Vec<bool> = rel.iter().map(|&v| v >= 1.0).collect();
            let figures = NDCG_CUTOFFS
                .iter()
                .map(|&k| ndcg_at_k_gain(&rel, &s, Some(k), Gain::Exponential))
                .chain([
                    ndcg_at_k_gain(&rel, &s, Some(10), Gain::Linear),
                    average_precision(&s, &relevant),
                    reciprocal_rank(&s, &relevant),
                ])
                .collect::<Option<Vec<f64>>>();
            // no relevant document: no metric is defined (see the module docs)
            if let Some(f) = figures {
                for (sum, v) in sums.iter_mut().zip(f) {
                    *sum += v;
                }
                counted += 1;
            }
        }
        let n = counted.max(1) as f64;
        let m = |i: usize| sums[i] / n;
        Self {
            ndcg: [m(0), m(1), m(2), m(3)],
            ndcg10_linear: m(4),
            map: m(5),
            mrr: m(6),
        }
    }

    /// NDCG@10 with exponential gains.
    pub fn ndcg10(&self) -> f64 {
        self.ndcg[3]
    }

    /// The secondary figures, by the names of the results' `extra` map.
    pub fn extra(&self) -> BTreeMap<String, f64> {
        BTreeMap::from([
            ("ndcg1".into(), self.ndcg[0]),
            ("ndcg3".into(), self.ndcg[1]),
            ("ndcg5".into(), self.ndcg[2]),
            ("ndcg10_linear".into(), self.ndcg10_linear),
            ("map".into(), self.map),
            ("mrr".into(), self.mrr),
        ])
    }
}

/// One seed's parts.
pub struct LtrSeed {
    train: Part,
    val: Part,
    test: Part,
    /// The training labels as a tensor, for the losses.
    train_relevance: Tensor,
    /// How the ridge baseline is solved on the training part.
    plan: RidgePlan,
}

impl LtrSeed {
    fn new(train: &Queries, val: &Queries, test: &Queries, plan: RidgePlan) -> Result<Self> {
        let train_t = log_transform(&train.x)?;
        let (mean, std) = column_stats(&train_t);
        let make = |q: &Queries, t: Option<Matrix>| -> Result<Part> {
            let t = match t {
                Some(t) => t,
                None => log_transform(&q.x)?,
            };
            let x = standardized(&t, &mean, &std)?;
            let raw = Matrix::new(t.rows, t.cols, x.flatten_all()?.to_vec1()?)?;
            Ok(Part {
                x,
                raw,
                relevance: q.relevance.clone(),
                queries: q.query_rows(),
            })
        };
        let train_part = make(train, Some(train_t))?;
        let train_relevance = Tensor::from_slice(
            &train_part.relevance,
            train_part.relevance.len(),
            &Device::Cpu,
        )?;
        Ok(Self {
            val: make(val, None)?,
            test: make(test, None)?,
            train: train_part,
            train_relevance,
            plan,
        })
    }

    fn metrics(model: &Mlp, part: &Part) -> Result<QueryMetrics> {
        let scores: Vec<f32> = model.forward(&part.x)?.flatten_all()?.to_vec1()?;
        Ok(part.score(&scores))
    }
}

/// What one run minimises, with the ranker's fine-tuning handle for an NDCG loss.
struct Objective {
    loss: Box<dyn QueryLoss>,
    ranker: Option<RunRanker>,
}

impl Objective {
    fn new(loss: &LossKind, cfg: &ExperimentConfig, seed: u64) -> Result<Self> {
        match loss {
            LossKind::Ltr(kind) => Ok(Self {
                loss: Box::new(LtrLoss::new(
                    *kind,
                    LtrConfig {
                        seed,
                        ..Default::default()
                    },
                )),
                ranker: None,
            }),
            LossKind::Ndcg(spec) => {
                let ranker = RunRanker::build(spec, cfg.remedies, seed)?;
                let loss = NdcgLoss::new(
                    Arc::clone(&ranker.ranker),
                    NdcgConfig {
                        seed,
                        ..Default::default()
                    },
                );
                Ok(Self {
                    loss: Box::new(loss),
                    ranker: Some(ranker),
                })
            }
            other => Err(Error::InvalidArgument(format!(
                "loss {other:?} does not apply to the ltr task"
            ))),
        }
    }

    fn forward(&self, scores: &Tensor, relevance: &Tensor, lists: &[u32]) -> Result<Tensor> {
        Ok(self.loss.forward_lists(scores, relevance, lists)?)
    }

    fn end_epoch(&self) -> Result<()> {
        self.ranker.as_ref().map_or(Ok(()), RunRanker::end_epoch)
    }
}

impl SeedData for LtrSeed {
    fn run(
        &self,
        loss: &LossKind,
        lr: f64,
        cfg: &ExperimentConfig,
        seed: u64,
    ) -> Result<RunOutcome> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let model = Mlp::new(&[self.train.raw.cols, cfg.hidden, 1], &mut rng)?;
        let objective = Objective::new(loss, cfg, seed)?;
        let fitted = fit(
            &model.vars(),
            self.train.queries.len(),
            cfg.fit_config(lr, seed),
            |batch, _epoch| {
                let mut rows = Vec::new();
                let mut lists = Vec::new();
                for (k, &q) in batch.iter().enumerate() {
                    rows.extend_from_slice(&self.train.queries[q]);
                    lists.extend(std::iter::repeat_n(k as u32, self.train.queries[q].len()));
                }
                let idx = batch_index(&rows)?;
                let scores = model
                    .forward(&self.train.x.index_select(&idx, 0)?)?
                    .flatten_all()?;
                let relevance = self.train_relevance.index_select(&idx, 0)?;
                objective.forward(&scores, &relevance, &lists)
            },
            |_| objective.end_epoch(),
            || Ok(Self::metrics(&model, &self.val)?.ndcg10()),
        )?;
        let test = Self::metrics(&model, &self.test)?;
        Ok(RunOutcome::tested(fitted, test.ndcg10(), test.extra()))
    }

    fn linear_plan(&self) -> Option<RidgePlan> {
        Some(self.plan)
    }

    /// Ridge regression on the labels, its λ chosen by validation NDCG@10.
    fn linear(&self, _cfg: &ExperimentConfig, _seed: u64) -> Result<(String, f64, RunOutcome)> {
        let fitted = ridge_on_validation(&self.train.raw, &self.train.relevance, |w, b| {
            self.val
                .score(&linear_predict(&self.val.raw, w, b))
                .ndcg10()
        })?;
        let test = self
            .test
            .score(&linear_predict(&self.test.raw, &fitted.w, fitted.intercept));
        Ok((
            "ridge".into(),
            fitted.lambda,
            RunOutcome::untrained(fitted.val, test.ndcg10(), test.extra()),
        ))
    }

    /// LightGBM's `LGBMRanker` (lambdarank) on this seed's training part.
    fn reference(&self, python: &Path, seed: u64) -> Result<Option<(String, RunOutcome)>> {
        let scores = lightgbm::rank(python, self.train.split(), self.test.split(), seed)?;
        let test = self.test.score(&scores);
        // LightGBM runs at fixed settings: nothing was validated
        Ok(Some((
            "lightgbm".into(),
            RunOutcome::untrained(f64::NAN, test.ndcg10(), test.extra()),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_skip_queries_without_relevant_documents() {
        // query 0: the relevant document on top (every metric 1); query 1: nothing relevant
        let relevance = [2.0, 0.0, 0.0, 0.0];
        let scores = [0.9, 0.1, 0.5, 0.4];
        let q = QueryMetrics::of(&scores, &relevance, &[vec![0, 1], vec![2, 3]]);
        assert_eq!(q.ndcg, [1.0; 4]);
        assert_eq!((q.map, q.mrr, q.ndcg10_linear), (1.0, 1.0, 1.0));
        // the relevant document last: MRR 1/2, NDCG@1 0
        let q = QueryMetrics::of(&[0.1, 0.9], &[1.0, 0.0], &[vec![0, 1]]);
        assert_eq!(q.ndcg[0], 0.0);
        assert!((q.mrr - 0.5).abs() < 1e-12 && (q.map - 0.5).abs() < 1e-12);
        assert!((q.ndcg[1] - 1.0 / 3f64.log2()).abs() < 1e-12);
    }

    #[test]
    fn log_transform_keeps_sign_and_order() {
        let m = Matrix::new(1, 4, vec![-100.0, -1.0, 0.0, 1e6]).unwrap();
        let t = log_transform(&m).unwrap();
        assert!(t.data.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(t.data[2], 0.0);
        assert!((t.data[1] + 2f32.ln()).abs() < 1e-6);
    }
}
