//! `sodeep meta-train-sorter`: a pairwise sorter trained for its job in a loss
//! ([`sodeep::train::meta`]).

use std::path::PathBuf;

use sodeep::train::meta::{meta_train, MetaConfig, StudentConfig, TaskRanges};
use sodeep::Sorter;

use super::progress;
use super::sorters::parse_range;
use crate::error::{Error, Result};

/// Meta-train a pairwise sorter on synthetic downstream tasks: students trained through it
/// for a few steps, the sorter's parameters moved (evolution strategies) to raise their true
/// Spearman correlation. The card records `training.objective = downstream-spearman`.
#[derive(Debug, Clone, clap::Args)]
pub struct MetaTrainSorterArgs {
    /// The pairwise sorter to start from: a shipped name or a folder.
    #[arg(long, default_value = "any")]
    pub init: String,
    /// Output folder (a sorter folder: sorter.json and sorter.safetensors). It must not exist.
    #[arg(long)]
    pub out: PathBuf,
    /// Iterations of evolution strategies.
    #[arg(long, default_value_t = 40)]
    pub iterations: usize,
    /// Antithetic pairs of candidates per iteration.
    #[arg(long, default_value_t = 8)]
    pub population: usize,
    /// Synthetic tasks per candidate and iteration (the same tasks for every candidate).
    #[arg(long, default_value_t = 16)]
    pub tasks: usize,
    /// Validation tasks, which pick the iteration whose parameters are saved.
    #[arg(long, default_value_t = 64)]
    pub val_tasks: usize,
    /// Validate every K iterations (and after the last).
    #[arg(long, default_value_t = 5)]
    pub validate_every: usize,
    /// Perturbation scale of the parameters (log-sharpness, mixing logits, length exponent,
    /// ln Λ).
    #[arg(long, default_value_t = 0.25)]
    pub sigma: f64,
    /// Adam step on the parameters.
    #[arg(long, default_value_t = 0.05)]
    pub lr: f64,
    /// Student training steps per task.
    #[arg(long, default_value_t = 30)]
    pub inner_steps: usize,
    /// The students' Adam learning rate.
    #[arg(long, default_value_t = 0.05)]
    pub student_lr: f64,
    /// Rows per student step, in sets of the task's length.
    #[arg(long, default_value_t = 128)]
    pub rows_per_step: usize,
    /// Hidden ReLU units of the students (0: linear students).
    #[arg(long, default_value_t = 0)]
    pub student_hidden: usize,
    /// Evaluations along each student's training; with more than one, a fifth of the task's
    /// training rows is held out and picks the one whose test Spearman counts (early stopping).
    #[arg(long, default_value_t = 1)]
    pub checkpoints: usize,
    /// Comparators of the trained sorter (default: the initial sorter's); extra ones start as
    /// copies at spread sharpness.
    #[arg(long)]
    pub comparators: Option<usize>,
    /// Lengths of the ranked sets, MIN..MAX, drawn log-uniformly per task (at most 512, the
    /// training rows of a task).
    #[arg(long, default_value = "3..128")]
    pub set_len: String,
    /// Feature counts of the tasks, MIN..MAX.
    #[arg(long, default_value = "2..16")]
    pub features: String,
    /// Seed of the perturbations and the tasks.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A ranker whose fitness on the validation tasks is recorded beside the sorter's, for
    /// reference (repeatable; default softrank and any-sharp).
    #[arg(long = "reference")]
    pub references: Vec<String>,
}

impl MetaTrainSorterArgs {
    /// Runs the command.
    pub fn run(&self) -> Result<()> {
        if self.out.exists() {
            return Err(Error::InvalidArgument(format!(
                "{} exists: meta-training writes a new sorter folder and never replaces one; \
                 give another --out",
                self.out.display()
            )));
        }
        let refs: Vec<String> = match self.references.is_empty() {
            true => vec!["softrank".into(), "any-sharp".into()],
            false => self.references.clone(),
        };
        let references = refs
            .iter()
            .map(|s| Ok((s.clone(), sodeep::spec::parse(s)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut cfg = MetaConfig::new(Sorter::load(&self.init)?, &self.out);
        cfg.iterations = self.iterations;
        cfg.population = self.population;
        cfg.tasks = self.tasks;
        cfg.val_tasks = self.val_tasks;
        cfg.validate_every = self.validate_every;
        cfg.sigma = self.sigma;
        cfg.lr = self.lr;
        cfg.student = StudentConfig {
            steps: self.inner_steps,
            lr: self.student_lr,
            rows_per_step: self.rows_per_step,
            hidden: self.student_hidden,
            checkpoints: self.checkpoints,
        };
        cfg.comparators = self.comparators;
        cfg.seed = self.seed;
        cfg.references = references;
        cfg.ranges = TaskRanges {
            set_len: parse_range("--set-len", "3..128", &self.set_len)?,
            features: parse_range("--features", "2..16", &self.features)?,
            ..TaskRanges::default()
        };
        let pb = progress::bar(self.iterations as u64);
        let summary = meta_train(&cfg, |p| {
            pb.set_position(p.iteration as u64);
            pb.set_message(format!("fitness {:.4}", p.fitness));
            let val = p.val_fitness.map_or("-".into(), |v| format!("{v:.4}"));
            progress::line(
                &pb,
                &format!(
                    "iteration {} fitness {:.4} validation {val} best {:.4} ({:.0} s)",
                    p.iteration, p.fitness, p.best_val_fitness, p.seconds
                ),
            );
        })?;
        pb.finish_and_clear();
        let meta = summary
            .card
            .training
            .as_ref()
            .and_then(|t| t.meta.as_ref())
            .expect("meta-training records its run");
        println!(
            "validation fitness (mean student Spearman on {} synthetic tasks): {} {:.4} → {:.4} \
             (iteration {})",
            meta.val_tasks,
            meta.init,
            meta.init_val_fitness,
            meta.best_val_fitness,
            meta.best_iteration
        );
        for (name, f) in &meta.references {
            println!("  reference {name}: {f:.4}");
        }
        println!("saved: {}", summary.out.display());
        Ok(())
    }
}
