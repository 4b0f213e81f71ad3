//! Reading candle tensors' CPU storage in place, for the custom ops.

use candle_core::{CpuStorage, DType, Layout, Result, Tensor};

/// Whether the fused ops take `x`: f32 tensors on the CPU. Elsewhere the sorters run their
/// plain candle reference implementations.
pub fn fused_applies(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32
}

/// The contiguous f32 data of a custom op's input.
pub(crate) fn slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        candle_core::bail!("fused RNN: {what} must be f32")
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("fused RNN: {what} must be contiguous"),
    }
}

/// The f32 data of a contiguous CPU tensor, read in place (a backward pass's inputs, which
/// `to_vec1` would copy).
pub(crate) struct CpuData<G> {
    /// candle's read guard of the tensor's storage.
    storage: G,
    range: (usize, usize),
}

impl<G: std::ops::Deref<Target = candle_core::Storage>> CpuData<G> {
    /// The data, in the tensor's row-major order.
    pub fn get(&self) -> &[f32] {
        match &*self.storage {
            candle_core::Storage::Cpu(CpuStorage::F32(v)) => &v[self.range.0..self.range.1],
            _ => unreachable!("read_f32 checked the storage"),
        }
    }
}

/// Reads `t` in place; it must be a contiguous f32 tensor on the CPU (call `contiguous()` first
/// when unsure: that is free for a tensor that already is).
pub(crate) fn read_f32(
    t: &Tensor,
) -> Result<CpuData<impl std::ops::Deref<Target = candle_core::Storage> + '_>> {
    let (storage, layout) = t.storage_and_layout();
    let range = match (&*storage, layout.contiguous_offsets()) {
        (candle_core::Storage::Cpu(CpuStorage::F32(_)), Some(range)) => range,
        _ => candle_core::bail!("fused op: expected a contiguous f32 CPU tensor"),
    };
    Ok(CpuData { storage, range })
}
