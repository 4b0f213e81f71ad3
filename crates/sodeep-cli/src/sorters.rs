//! The sorter commands: `train-sorter`, `eval-sorter`, `eval-shipped`, `list-sorters`,
//! `export-sorter` and `import-torch`.

use std::path::PathBuf;

use anyhow::Result;
use sodeep::synthetic::Distribution;
use sodeep_lab::commands::sorters;

/// Evaluate the shipped sorters and the handcrafted one.
#[derive(clap::Args)]
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
    pub fn run(self) -> Result<()> {
        Ok(sorters::eval_shipped(self.samples, self.seed, self.json)?)
    }
}

/// Train a sorter on synthetic data.
#[derive(clap::Args)]
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
    pub fn run(self, threads: usize) -> Result<()> {
        let request = sorters::TrainRequest {
            arch: self.arch,
            len: self.len,
            len_range: self.len_range,
            max_sharpness: self.max_sharpness,
            hidden: self.hidden,
            layers: self.layers,
            standardize: self.standardize,
            device: self.device,
            head: self.head,
            steps: self.steps,
            batch: self.batch,
            lr: self.lr,
            lr_halve_every: self.lr_halve_every,
            save_every: self.save_every,
            seed: self.seed,
            val_samples: self.val_samples,
            distribution: self.distribution,
            out: self.out,
            resume: self.resume,
        };
        Ok(sorters::train_sorter(&request, threads)?)
    }
}

/// Evaluate a sorter: L1 to the exact ranks, per distribution, and Spearman.
#[derive(clap::Args)]
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
    pub fn run(self) -> Result<()> {
        let distribution = Distribution::from_name(&self.distribution)?;
        Ok(sorters::eval_sorter(
            &self.sorter,
            self.len,
            self.lens.as_deref(),
            self.samples,
            self.seed,
            distribution,
            self.json,
            self.plot.as_deref(),
            &self.device,
        )?)
    }
}

/// List the shipped sorters with their model cards.
#[derive(clap::Args)]
pub struct ListSortersArgs {
    /// Print the full model cards as JSON.
    #[arg(long)]
    pub json: bool,
}

impl ListSortersArgs {
    pub fn run(self) -> Result<()> {
        Ok(sorters::list_sorters(self.json)?)
    }
}

/// Make a shippable sorter folder from a training checkpoint, with a measured model card.
#[derive(clap::Args)]
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
    pub fn run(self) -> Result<()> {
        Ok(sorters::export_sorter(
            &self.from,
            &self.out,
            self.half,
            self.samples,
            self.notes,
        )?)
    }
}

/// Convert a PyTorch checkpoint of the reference implementation into a sorter folder.
#[derive(clap::Args)]
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
    pub fn run(self) -> Result<()> {
        Ok(sorters::import_torch(
            &self.checkpoint,
            &self.arch,
            self.len,
            self.hidden,
            self.layers,
            &self.out,
            self.force,
        )?)
    }
}
