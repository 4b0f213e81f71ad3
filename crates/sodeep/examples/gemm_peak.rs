//! Measured GEMM rates on this machine, for judging the kernels' efficiency: the `gemm` crate (what
//! the fused kernels and candle's matmul call) on square matrices and on the products of the LSTM
//! sorters' training step (batch 256, d = 100, h = 128 and h = 512), single-threaded. Prints
//! GFLOP/s and the micro-kernel family in use.
//!
//! `cargo run --release --example gemm_peak` (compare with PyTorch: `python3 bench/gemm_peak.py`;
//! both take the shapes from `bench/gemm_shapes.txt`). Set `SODEEP_GEMM_THREADS=N` to time with
//! N threads instead of one.

use std::time::Instant;

/// One product `C (m × n) = op(A) · op(B)`; `ta`/`tb` read A or B transposed (as the weight and
/// input gradients do).
struct Shape {
    what: String,
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
    reps: usize,
}

fn shapes() -> Vec<Shape> {
    include_str!("../../../bench/gemm_shapes.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (what, dims) = l.split_once(':').expect("`what: m n k ta tb reps` lines");
            let v: Vec<usize> = dims
                .split_whitespace()
                .map(|x| x.parse().expect("integers"))
                .collect();
            Shape {
                what: what.trim().to_string(),
                m: v[0],
                n: v[1],
                k: v[2],
                ta: v[3] == 1,
                tb: v[4] == 1,
                reps: v[5],
            }
        })
        .collect()
}

fn gflops(s: &Shape, par: gemm::Parallelism) -> f64 {
    let (m, n, k) = (s.m, s.n, s.k);
    let a = vec![0.5f32; m * k];
    let b = vec![0.25f32; k * n];
    let mut c = vec![0f32; m * n];
    // row-major A (m × k) or its transpose stored k × m; likewise B
    let (a_cs, a_rs) = if s.ta {
        (m as isize, 1)
    } else {
        (1, k as isize)
    };
    let (b_cs, b_rs) = if s.tb {
        (k as isize, 1)
    } else {
        (1, n as isize)
    };
    let mut best = f64::INFINITY;
    for _ in 0..s.reps {
        let t0 = Instant::now();
        // SAFETY: buffers of the stated sizes, strides within them.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr(),
                a_cs,
                a_rs,
                b.as_ptr(),
                b_cs,
                b_rs,
                0.0,
                1.0,
                false,
                false,
                false,
                par,
            );
        }
        best = best.min(t0.elapsed().as_secs_f64());
    }
    std::hint::black_box(&c);
    2.0 * (m * n * k) as f64 / best / 1e9
}

fn main() {
    let threads: usize = std::env::var("SODEEP_GEMM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let par = if threads > 1 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .expect("first pool");
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    println!("host: {}", sodeep::host::Host::detect().summary());
    for s in shapes() {
        println!(
            "{}: {:.1} GFLOP/s (best of {}, {threads} thread(s))",
            s.what,
            gflops(&s, par),
            s.reps
        );
    }
}
