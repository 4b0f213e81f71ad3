//! Fused CPU kernels, each a candle custom op with a hand-written backward pass. The plain
//! candle implementation of the same layer stays in `sorter/` as the reference that the tests
//! compare against.

pub mod lstm;

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
