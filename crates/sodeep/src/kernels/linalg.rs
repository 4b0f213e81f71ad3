//! Dense linear algebra for the fused kernels: row-major matrix views, the `gemm` crate's
//! product on them, output buffers that the product fills, and column sums.

use super::simd;

/// A row-major matrix view for [`gemm`]: data pointer, row stride, column stride.
#[derive(Clone, Copy)]
pub(crate) struct Mat {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

impl Mat {
    /// A row-major matrix with `cols` contiguous columns.
    pub fn rows(data: &[f32], cols: usize) -> Self {
        Self {
            ptr: data.as_ptr(),
            rs: cols as isize,
            cs: 1,
        }
    }

    /// The transpose of this view.
    pub fn t(self) -> Self {
        Self {
            ptr: self.ptr,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// The view starting `n` elements further.
    pub fn offset(self, n: usize) -> Self {
        Self {
            // SAFETY: callers only offset within the matrix they describe.
            ptr: unsafe { self.ptr.add(n) },
            ..self
        }
    }
}

/// `dst (m × n, row-major with row stride dst.1) (+)= lhs (m × k) · rhs (k × n)`,
/// single-threaded.
///
/// # Safety
/// The views must describe valid matrices of the given sizes, and `dst` must not alias them.
pub(crate) unsafe fn gemm(
    m: usize,
    n: usize,
    k: usize,
    (dst, dst_rs): (*mut f32, usize),
    accumulate: bool,
    lhs: Mat,
    rhs: Mat,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                std::ptr::write_bytes(dst.add(r * dst_rs), 0, n);
            }
        }
        return;
    }
    ::gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        dst_rs as isize,
        accumulate,
        lhs.ptr,
        lhs.cs,
        lhs.rs,
        rhs.ptr,
        rhs.cs,
        rhs.rs,
        1.0,
        1.0,
        false,
        false,
        false,
        ::gemm::Parallelism::None,
    );
}

/// A vector of `n` values, every one of which `fill` writes through the pointer it is given:
/// the GEMM outputs that overwrite their destination need no zeroing first.
///
/// # Safety
/// `fill` must write all `n` values, and nothing past them.
pub(crate) unsafe fn written_by(n: usize, fill: impl FnOnce(*mut f32)) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(n);
    fill(v.as_mut_ptr());
    // SAFETY: the caller's contract: all n values were written.
    unsafe { v.set_len(n) };
    v
}

/// A strided `rows × cols` view copied into a contiguous row-major matrix. The GEMMs read a
/// contiguous right-hand side faster than a transposed one (the recurrent step's `h · W_hhᵀ`), and
/// the copy is paid once per layer, not once per step.
pub(crate) fn contiguous(m: Mat, rows: usize, cols: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        // SAFETY: the view describes a rows × cols matrix inside its buffer.
        out.extend(
            (0..cols).map(|c| unsafe { *m.ptr.offset(r as isize * m.rs + c as isize * m.cs) }),
        );
    }
    out
}

/// The sums of the columns of a row-major matrix with `cols` columns (a bias gradient).
pub(crate) fn column_sums(m: &[f32], cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; cols];
    add_column_sums(m, &mut out);
    out
}

#[inline(always)]
fn add_column_sums_body(m: &[f32], out: &mut [f32]) {
    let cols = out.len();
    for row in m.chunks_exact(cols) {
        for (a, v) in out.iter_mut().zip(&row[..cols]) {
            *a += v;
        }
    }
}

simd::vectorized!(
    /// `out[j] += Σ_rows m[row, j]` for a row-major `m` with `out.len()` columns.
    fn add_column_sums = add_column_sums_body(m: &[f32], out: &mut [f32])
);
