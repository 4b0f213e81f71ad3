//! The sorter commands: `train-sorter`, `eval-sorter`, `eval-shipped`, `list-sorters`,
//! `export-sorter` and `import-torch`.

use std::path::{Path, PathBuf};

use sodeep::eval::{evaluate, evaluate_lengths, rank_sweep, EvalConfig, EvalReport, LengthsReport};
use sodeep::synthetic::Distribution;
use sodeep::train::{train_sorter as train, TrainConfig};
use sodeep::{Arch, Sorter, SorterConfig};

use super::output::print_json;
use super::progress;
use crate::error::{Error, Result};
use crate::report::plot_rank_sweep;

/// The table of one evaluation.
fn print_report_table(r: &EvalReport) {
    println!(
        "sorter: {}   d = {}   {} vectors (seed {}, {})",
        r.sorter, r.d, r.samples, r.seed, r.distribution
    );
    println!("  {:<22} {:>10}", "distribution", "L1");
    for (k, v) in &r.l1_by_distribution {
        println!("  {k:<22} {v:>10.5}");
    }
    println!("  {:<22} {:>10.5}", "all", r.l1);
    println!("  mean Spearman          {:>10.5}", r.spearman);
    println!("  time                   {:>9.2}s", r.seconds);
}

/// The table of an evaluation at several lengths: L1 per length, overall and per distribution.
fn print_lengths_table(r: &LengthsReport) {
    println!(
        "sorter: {}   {} vectors per length (seed {}, {})",
        r.sorter, r.samples, r.seed, r.distribution
    );
    let dists: Vec<&String> = r
        .by_len
        .values()
        .next()
        .map(|f| f.l1_by_distribution.keys().collect())
        .unwrap_or_default();
    let mut head = format!("  {:>6} {:>9}", "n", "L1");
    for d in &dists {
        head.push_str(&format!(" {:>10}", d.chars().take(10).collect::<String>()));
    }
    println!("{head}");
    for (n, f) in &r.by_len {
        let mut line = format!("  {n:>6} {:>9.5}", f.l1);
        for d in &dists {
            line.push_str(&format!(
                " {:>10.5}",
                f.l1_by_distribution.get(*d).unwrap_or(&f64::NAN)
            ));
        }
        println!("{line}");
    }
    println!("  {:>6} {:>9.5}  (mean over lengths)", "all", r.l1);
    for (n, why) in &r.skipped {
        println!("  {n:>6} {:>9}  ({why})", "—");
    }
}

/// `sodeep eval-sorter`: the paper's L1 evaluation of one sorter, per distribution, as a table or
/// JSON, and optionally the Fig. 5 rank sweep as a PNG. With `lens`, the same at each length.
#[allow(clippy::too_many_arguments)]
pub fn eval_sorter(
    spec: &str,
    len: Option<usize>,
    lens: Option<&[usize]>,
    samples: usize,
    seed: u64,
    distribution: Distribution,
    json: bool,
    plot: Option<&Path>,
    device: &str,
) -> Result<()> {
    let sorter = Sorter::load(spec)?.to_device(&parse_device(device)?)?;
    let d = len.or(sorter.d()).unwrap_or(100);
    let cfg = EvalConfig {
        samples,
        d,
        seed,
        distribution,
    };
    if let Some(lens) = lens {
        if plot.is_some() {
            return Err(Error::InvalidArgument(
                "--plot draws one length: give --len, not --lens".into(),
            ));
        }
        for w in lens.iter().filter_map(|&n| sorter.length_warning(n)) {
            eprintln!("warning: {w}");
        }
        let report = evaluate_lengths(&sorter, lens, &cfg)?;
        return match json {
            true => print_json(&report),
            false => {
                print_lengths_table(&report);
                Ok(())
            }
        };
    }
    if let Some(w) = sorter.length_warning(d) {
        eprintln!("warning: {w}");
    }
    let report = evaluate(&sorter, &cfg)?;
    if let Some(p) = plot {
        let sweep = rank_sweep(&sorter, d, seed)?;
        plot_rank_sweep(&sweep, &format!("{} (d = {d})", sorter.name()), p)?;
    }
    if json {
        print_json(&report)?;
    } else {
        print_report_table(&report);
        if let Some(p) = plot {
            println!("  plot                   {}", p.display());
        }
    }
    Ok(())
}

/// `sodeep eval-shipped`: every shipped sorter and the handcrafted one on the same vectors.
pub fn eval_shipped(samples: usize, seed: u64, json: bool) -> Result<()> {
    let mut specs = vec!["handcrafted".to_string()];
    specs.extend(sodeep::registry::list().iter().map(|l| l.name.to_string()));
    let mut reports = Vec::new();
    for spec in &specs {
        let sorter = Sorter::load(spec)?;
        let d = sorter.d().unwrap_or(100);
        let cfg = EvalConfig {
            samples,
            d,
            seed,
            distribution: Distribution::All,
        };
        reports.push(evaluate(&sorter, &cfg)?);
    }
    if json {
        print_json(&reports)?;
        return Ok(());
    }
    println!("Shipped sorters on {samples} synthetic vectors (seed {seed}); L1 = mean |predicted − exact SoDeep rank|");
    println!(
        "{:<16} {:>5} {:>9} {:>10} {:>8}",
        "sorter", "d", "L1", "Spearman", "time"
    );
    for r in &reports {
        println!(
            "{:<16} {:>5} {:>9.5} {:>10.5} {:>7.2}s",
            r.sorter, r.d, r.l1, r.spearman, r.seconds
        );
    }
    Ok(())
}

/// `sodeep export-sorter`: a shippable sorter folder with a measured model card.
pub fn export_sorter(
    from: &Path,
    out: &Path,
    half: bool,
    samples: usize,
    notes: Option<String>,
) -> Result<()> {
    let cfg = sodeep::export::ExportConfig {
        half,
        samples,
        notes,
    };
    let r = sodeep::export::export_sorter(from, out, &cfg)?;
    println!(
        "exported {} to {}: L1 {:.5} stored ({}), {:.5} with f32 weights, on {samples} vectors",
        from.display(),
        out.display(),
        r.stored.l1,
        r.card.dtype,
        r.f32.l1
    );
    Ok(())
}

/// `sodeep list-sorters`: the shipped sorters and their model cards.
pub fn list_sorters(json: bool) -> Result<()> {
    let list = sodeep::registry::list();
    if json {
        let cards: Vec<serde_json::Value> = list
            .iter()
            .map(|l| {
                serde_json::json!({
                    "name": l.name,
                    "aliases": l.aliases,
                    "bytes": l.weight_bytes,
                    // the parsed card, so that fields with defaults (the objective) show on
                    // every card; the raw text when it does not parse
                    "card": l.card.as_ref().and_then(|c| serde_json::to_value(c).ok())
                        .or_else(|| serde_json::from_str(l.card_json).ok())
                        .unwrap_or(serde_json::Value::Null),
                })
            })
            .collect();
        print_json(&cards)?;
        return Ok(());
    }
    if list.is_empty() {
        println!("no shipped sorters in this build (handcrafted[:LAMBDA] is always available)");
    }
    for l in &list {
        let alias = if l.aliases.is_empty() {
            String::new()
        } else {
            format!(" (alias: {})", l.aliases.join(", "))
        };
        println!("{}{alias}", l.name);
        match &l.card {
            Some(c) => {
                println!(
                    "  arch {}  d {}  hidden {}  layers {}  parameters {}  stored {} ({:.1} MB)",
                    c.config.arch.name(),
                    c.config.d,
                    c.config.hidden,
                    c.config.layers,
                    c.parameters,
                    c.dtype,
                    l.weight_bytes as f64 / 1e6
                );
                if let Some(t) = &c.training {
                    println!("  objective {}", t.objective.name());
                    if let Some(m) = &t.meta {
                        println!(
                            "  meta-trained from {}: {} iterations, validation fitness {:.4} → {:.4} on {} synthetic tasks",
                            m.init, m.iterations, m.init_val_fitness, m.best_val_fitness, m.val_tasks
                        );
                    }
                    println!(
                        "  trained {} steps, batch {}, lr {} (halved every {}), {:.0} s on {}, {:.0} vectors/s",
                        t.step, t.batch, t.lr, t.lr_halve_every, t.wall_seconds, t.machine, t.vectors_per_second
                    );
                    println!("  validation L1 {:.5}", t.val_l1);
                    for (k, v) in &t.val_l1_by_distribution {
                        println!("    {k:<22} {v:.5}");
                    }
                }
                if let Some(e) = &c.evaluation {
                    println!("  evaluation {e}");
                }
                if let Some(n) = &c.notes {
                    println!("  notes: {n}");
                }
            }
            None => println!("  (model card unreadable)"),
        }
    }
    println!(
        "handcrafted[:LAMBDA]\n  pairwise sigmoids, no weights, any length (λ = 10 by default)"
    );
    Ok(())
}

/// A sorter configuration from the command line's names and sizes, validated.
pub fn sorter_config(
    arch: &str,
    len: usize,
    hidden: Option<usize>,
    layers: Option<usize>,
) -> Result<SorterConfig> {
    let arch = Arch::from_name(arch)?;
    let mut cfg = SorterConfig::new(arch, len);
    if let Some(h) = hidden {
        cfg.hidden = h;
    }
    if let Some(l) = layers {
        cfg.layers = l;
    }
    cfg.validate()?;
    Ok(cfg)
}

/// `sodeep import-torch`: a PyTorch checkpoint of the reference implementation as a sorter folder.
pub fn import_torch(
    pth: &Path,
    arch: &str,
    len: usize,
    hidden: Option<usize>,
    layers: Option<usize>,
    out: &Path,
    force: bool,
) -> Result<()> {
    let cfg = sorter_config(arch, len, hidden, layers)?;
    if out.join(sodeep::checkpoint::CARD_FILE).exists() && !force {
        return Err(Error::InvalidArgument(format!(
            "{} already holds a sorter; pass --force to replace it",
            out.display()
        )));
    }
    let sorter = sodeep::torch_import::import_torch(pth, cfg, out)?;
    println!(
        "imported {} ({} sorter, d = {}, {} parameters) into {}",
        pth.display(),
        sorter.card().config.arch.name(),
        sorter.card().config.d,
        sodeep::checkpoint::read_card(&out.join(sodeep::checkpoint::CARD_FILE))?.parameters,
        out.display()
    );
    Ok(())
}

/// The training lengths of a sorter of any length when `--len-range` is not given.
pub const DEFAULT_LEN_RANGE: [usize; 2] = [2, 512];

/// `--len-range MIN..MAX` (or `MIN..=MAX`: both ends are included either way).
pub fn parse_len_range(s: &str) -> Result<[usize; 2]> {
    parse_range("--len-range", "2..512", s)
}

/// The value `s` of the range option `flag` (`MIN..MAX` or `MIN..=MAX`, `1 ≤ MIN ≤ MAX`); the
/// error names the flag and shows `example`.
pub fn parse_range(flag: &str, example: &str, s: &str) -> Result<[usize; 2]> {
    let bad = || {
        Error::InvalidArgument(format!(
            "cannot read {flag} '{s}': write MIN..MAX with 1 ≤ MIN ≤ MAX, e.g. {example}"
        ))
    };
    let (lo, hi) = s.split_once("..").ok_or_else(bad)?;
    let hi = hi.strip_prefix('=').unwrap_or(hi);
    let lo: usize = lo.trim().parse().map_err(|_| bad())?;
    let hi: usize = hi.trim().parse().map_err(|_| bad())?;
    if lo == 0 || lo > hi {
        return Err(bad());
    }
    Ok([lo, hi])
}

/// `cpu`, `cuda` or `cuda:N`.
pub fn parse_device(spec: &str) -> Result<candle_core::Device> {
    let ordinal = match spec {
        "cpu" => return Ok(candle_core::Device::Cpu),
        "cuda" => 0,
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => n,
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "unknown device '{spec}' (known: cpu, cuda, cuda:N)"
                )))
            }
        },
    };
    candle_core::Device::new_cuda(ordinal).map_err(|e| {
        Error::InvalidArgument(format!(
            "cannot use {spec}: this build needs --features cuda and a CUDA GPU ({e})"
        ))
    })
}

/// The pairwise sorter's bound from `--max-sharpness`: a positive number, or `inf` (none).
fn max_sharpness(m: f64) -> Result<Option<f64>> {
    if m.is_nan() || m <= 0.0 {
        return Err(Error::InvalidArgument(format!(
            "--max-sharpness must be a positive number or inf, got {m}"
        )));
    }
    Ok(m.is_finite().then_some(m))
}

/// `sodeep train-sorter`: trains (or resumes) a sorter with a progress bar and one log line per
/// validation.
pub fn train_sorter(a: &TrainSorterArgs, threads: usize) -> Result<()> {
    let mut cfg = if a.resume {
        // every setting comes from the checkpoint; a flag given replaces it here, and
        // `train` refuses one that differs, naming it (only the schedule, the batch size and
        // where and how long the run goes may change)
        let mut cfg = TrainConfig::from_checkpoint(&a.out)?;
        let s = &mut cfg.sorter;
        if let Some(arch) = &a.arch {
            s.arch = Arch::from_name(arch)?;
        }
        if let Some(len) = a.len {
            s.d = len;
        }
        if let Some(r) = &a.len_range {
            s.len_range = Some(parse_len_range(r)?);
        }
        if let Some(h) = a.hidden {
            s.hidden = h;
        }
        if let Some(l) = a.layers {
            s.layers = l;
        }
        if let Some(m) = a.max_sharpness {
            s.lambda = max_sharpness(m)?;
        }
        if a.standardize {
            s.standardize = true;
        }
        if let Some(h) = &a.head {
            s.head = sodeep::sorter::Head::from_name(h)?;
        }
        cfg
    } else {
        let arch = a.arch.as_deref().ok_or_else(|| {
            Error::InvalidArgument(
                "--arch is required (lstm, lstm-large, gru, cnn, mlp, pairwise)".into(),
            )
        })?;
        let any_length = Arch::from_name(arch)?.any_length();
        let len_range = a.len_range.as_deref().map(parse_len_range).transpose()?;
        let len = match (a.len, any_length) {
            (Some(len), false) => len,
            (None, false) => return Err(Error::InvalidArgument("--len is required".into())),
            (Some(_), true) => {
                return Err(Error::InvalidArgument(format!(
                    "a {arch} sorter takes any length: give --len-range MIN..MAX, not --len"
                )))
            }
            (None, true) => 0,
        };
        let mut sorter = sorter_config(arch, len, a.hidden, a.layers)?;
        sorter.len_range = match (len_range, any_length) {
            (None, true) => Some(DEFAULT_LEN_RANGE),
            (r, _) => r,
        };
        if let Some(m) = a.max_sharpness {
            if sorter.arch != Arch::Pairwise {
                return Err(Error::InvalidArgument(
                    "--max-sharpness applies to the pairwise sorter only".into(),
                ));
            }
            sorter.lambda = max_sharpness(m)?;
        }
        sorter.validate()?;
        sorter.standardize = a.standardize;
        if let Some(h) = &a.head {
            sorter.head = sodeep::sorter::Head::from_name(h)?;
            sorter.validate()?;
        }
        TrainConfig::new(sorter, &a.out)
    };
    cfg.steps = a.steps;
    cfg.threads = threads;
    cfg.device = parse_device(&a.device)?;
    if let Some(v) = a.batch {
        cfg.batch = v;
    }
    if let Some(v) = a.lr {
        cfg.lr = v;
    }
    if let Some(v) = a.lr_halve_every {
        cfg.lr_halve_every = v;
    }
    if let Some(v) = a.save_every {
        cfg.save_every = v;
    }
    if let Some(v) = a.seed {
        cfg.seed = v;
    }
    if let Some(v) = a.val_samples {
        cfg.val_samples = v;
    }
    if let Some(v) = &a.distribution {
        cfg.distribution = Distribution::from_name(v)?;
    }
    let pb = progress::bar(cfg.steps as u64);
    let mut last_logged_val = None;
    let summary = train(&cfg, a.resume, |p| {
        pb.set_position(p.step as u64);
        let val = p
            .val_l1
            .map(|v| format!("{v:.5}"))
            .unwrap_or_else(|| "-".into());
        pb.set_message(format!(
            "loss {:.5} val L1 {val} lr {:.2e} {:.0} vec/s",
            p.loss, p.lr, p.vectors_per_second
        ));
        if p.val_l1 != last_logged_val {
            last_logged_val = p.val_l1;
            let line = format!(
                "step {} loss {:.5} val L1 {val} best {} lr {:.3e} {:.0} vec/s",
                p.step,
                p.loss,
                p.best_val_l1
                    .map(|v| format!("{v:.5}"))
                    .unwrap_or_else(|| "-".into()),
                p.lr,
                p.vectors_per_second
            );
            progress::line(&pb, &line);
        }
    })?;
    pb.finish_and_clear();
    println!(
        "trained to step {}: validation L1 {:.5}, best {:.5} at step {} ({:.1} s, {:.0} vectors/s)\n  latest: {}\n  best:   {}",
        summary.step,
        summary.val_l1,
        summary.best_val_l1,
        summary.best_step,
        summary.seconds,
        summary.vectors_per_second,
        summary.ckpt.display(),
        summary.best.display()
    );
    Ok(())
}

/// Evaluate the shipped sorters and the handcrafted one.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalShippedArgs {
    /// Test vectors per sorter.
    #[arg(long, default_value_t = 10_000)]
    pub samples: usize,
    /// Seed of the test vectors.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl EvalShippedArgs {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        eval_shipped(self.samples, self.seed, self.json)
    }
}

/// Train a sorter on synthetic data.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainSorterArgs {
    /// Architecture: lstm, lstm-large, gru, cnn, mlp, pairwise (any length).
    #[arg(long)]
    pub arch: Option<String>,
    /// Vector length d (fixed-length sorters).
    #[arg(long)]
    pub len: Option<usize>,
    /// Training lengths MIN..MAX of a sorter of any length (pairwise; default 2..512): each
    /// step draws one length log-uniformly.
    #[arg(long)]
    pub len_range: Option<String>,
    /// Bound on the pairwise sorter's comparator sharpness, in standard deviations of each
    /// vector (default 20; "inf": unbounded, which L1 training turns into gradient-free steps).
    #[arg(long)]
    pub max_sharpness: Option<f64>,
    /// Hidden size / channels / width (default: the architecture's).
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Recurrent layers (default: the architecture's).
    #[arg(long)]
    pub layers: Option<usize>,
    /// Standardise each vector before the network (rank-preserving; not in the paper).
    #[arg(long)]
    pub standardize: bool,
    /// Device: cpu, or cuda / cuda:N (needs a build with --features cuda; the fused CPU kernels
    /// then fall back to plain candle ops).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Output head of the lstm sorters: mixing (the paper's d×d×2h affine) or position
    /// (one 2h → 1 affine shared by all positions).
    #[arg(long)]
    pub head: Option<String>,
    /// Total steps; a resumed run continues up to this count.
    #[arg(long, default_value_t = 1000)]
    pub steps: usize,
    /// Vectors per step.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Base learning rate of Adam.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Halve the learning rate every K steps (0: never).
    #[arg(long)]
    pub lr_halve_every: Option<usize>,
    /// Validate and write checkpoints every S steps.
    #[arg(long)]
    pub save_every: Option<usize>,
    /// Seed of the initial weights and the batches.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Validation vectors.
    #[arg(long)]
    pub val_samples: Option<usize>,
    /// Training distribution (default: all).
    #[arg(long)]
    pub distribution: Option<String>,
    /// Output folder (ckpt/ and best/ are written there).
    #[arg(long)]
    pub out: PathBuf,
    /// Continue from OUT/ckpt: step, weights, optimiser state and every setting of the
    /// checkpoint. A flag that disagrees with it is an error, except --steps, --save-every,
    /// --threads and --device, and --lr, --lr-halve-every and --batch, whose changes the card
    /// records (training.changes: step, setting, from, to).
    #[arg(long)]
    pub resume: bool,
}

impl TrainSorterArgs {
    /// Runs the command on `threads` CPU threads.
    pub fn run(&self, threads: usize) -> Result<()> {
        train_sorter(self, threads)
    }
}

/// Evaluate a sorter: L1 to the exact ranks, per distribution, and Spearman.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalSorterArgs {
    /// Sorter: a folder, a shipped name, or handcrafted[:LAMBDA].
    #[arg(long)]
    pub sorter: String,
    /// Vector length (default: the sorter's d, or 100 for sorters of any length).
    #[arg(long, conflicts_with = "lens")]
    pub len: Option<usize>,
    /// Several lengths, comma-separated (e.g. 3,5,10,32,100,256,1000): L1 per length, overall
    /// and per distribution (under "by_len" with --json). A fixed-length sorter reports only
    /// its own d.
    #[arg(long, value_delimiter = ',')]
    pub lens: Option<Vec<usize>>,
    /// Number of test vectors.
    #[arg(long, default_value_t = 10_000)]
    pub samples: usize,
    /// Seed of the test vectors.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Distribution of the test vectors (all, uniform, normal, linspace-increasing,
    /// linspace-decreasing, linspace-shuffled, split-mixture).
    #[arg(long, default_value = "all")]
    pub distribution: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also draw the paper's Fig. 5 (rank of y_1 as it sweeps [-1, 1]) to this PNG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Device the sorter computes on: cpu, or cuda / cuda:N (a build with --features cuda;
    /// the test vectors are the same on every device, so the L1 can be compared).
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

impl EvalSorterArgs {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        let distribution = Distribution::from_name(&self.distribution)?;
        eval_sorter(
            &self.sorter,
            self.len,
            self.lens.as_deref(),
            self.samples,
            self.seed,
            distribution,
            self.json,
            self.plot.as_deref(),
            &self.device,
        )
    }
}

/// List the shipped sorters with their model cards.
#[derive(Debug, Clone, clap::Args)]
pub struct ListSortersArgs {
    /// Print the full model cards as JSON.
    #[arg(long)]
    pub json: bool,
}

impl ListSortersArgs {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        list_sorters(self.json)
    }
}

/// Make a shippable sorter folder from a training checkpoint, with a measured model card.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportSorterArgs {
    /// The checkpoint folder (DIR/best or DIR/ckpt).
    #[arg(long)]
    pub from: PathBuf,
    /// Output folder (e.g. crates/sodeep-weights/weights/NAME).
    #[arg(long)]
    pub out: PathBuf,
    /// Store the weights in half precision.
    #[arg(long)]
    pub half: bool,
    /// Test vectors of the card's evaluation.
    #[arg(long, default_value_t = 10_000)]
    pub samples: usize,
    /// Remarks for the model card.
    #[arg(long)]
    pub notes: Option<String>,
}

impl ExportSorterArgs {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        export_sorter(&self.from, &self.out, self.half, self.samples, self.notes)
    }
}

/// Convert a PyTorch checkpoint of the reference implementation into a sorter folder.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportTorchArgs {
    /// The .pth file.
    pub checkpoint: PathBuf,
    /// Architecture.
    #[arg(long)]
    pub arch: String,
    /// Vector length d.
    #[arg(long)]
    pub len: usize,
    /// Hidden size (default: the architecture's).
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Recurrent layers (default: the architecture's).
    #[arg(long)]
    pub layers: Option<usize>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing sorter folder.
    #[arg(long)]
    pub force: bool,
}

impl ImportTorchArgs {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        import_torch(
            &self.checkpoint,
            &self.arch,
            self.len,
            self.hidden,
            self.layers,
            &self.out,
            self.force,
        )
    }
}
