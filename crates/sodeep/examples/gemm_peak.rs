//! Measured GEMM peak of this machine, for judging the kernels' efficiency: the `gemm` crate
//! (what the fused kernels call) on square matrices and on the shapes of the LSTM sorter's
//! recurrent step, single-threaded. Prints GFLOP/s.
//!
//! `cargo run --release --example gemm_peak` (compare with PyTorch: `python3 bench/gemm_peak.py`).

use std::time::Instant;

fn gflops(m: usize, n: usize, k: usize, reps: usize) -> f64 {
    let a = vec![0.5f32; m * k];
    let b = vec![0.25f32; k * n];
    let mut c = vec![0f32; m * n];
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t0 = Instant::now();
        // SAFETY: row-major buffers of the stated sizes.
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
                1,
                k as isize,
                b.as_ptr(),
                1,
                n as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
        best = best.min(t0.elapsed().as_secs_f64());
    }
    std::hint::black_box(&c);
    2.0 * (m * n * k) as f64 / best / 1e9
}

fn main() {
    for (what, m, n, k, reps) in [
        ("square 1024", 1024, 1024, 1024, 5),
        ("square 2048", 2048, 2048, 2048, 3),
        (
            "LSTM input projection (25600 x 512 x 256)",
            25600,
            512,
            256,
            3,
        ),
        ("LSTM recurrent step (256 x 512 x 128)", 256, 512, 128, 50),
        ("LSTM backward step (256 x 128 x 512)", 256, 128, 512, 50),
    ] {
        println!(
            "{what}: {:.1} GFLOP/s (best of {reps}, one thread)",
            gflops(m, n, k, reps)
        );
    }
}
