//! The sorting networks: odd-even transposition and bitonic, compiled into layers of comparators.

use crate::error::{Error, Result};

/// Marks a wire that holds a `+∞` pad while a bitonic network is compiled.
pub(super) const PAD: u32 = u32::MAX;

/// The sorting network's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// Odd-even transposition sort: `n` layers; layer `l` compares `(i, i+1)` for
    /// `i = l mod 2, l mod 2 + 2, …`.
    OddEven,
    /// Batcher's bitonic sort on the next power of two, padded with `+∞` at the end.
    Bitonic,
}

impl Network {
    /// `"oddeven"` or `"bitonic"`, as in the ranker names.
    pub fn name(self) -> &'static str {
        match self {
            Network::OddEven => "oddeven",
            Network::Bitonic => "bitonic",
        }
    }

    /// Number of layers for `n` inputs (a bitonic layer may be empty once pads are resolved).
    pub fn layers(self, n: usize) -> usize {
        match self {
            Network::OddEven => n,
            Network::Bitonic => {
                let k = n.max(1).next_power_of_two().trailing_zeros() as usize;
                k * (k + 1) / 2
            }
        }
    }

    /// An upper bound of the comparator count for `n` inputs: a layer holds at most `⌊n/2⌋`
    /// comparators between real values.
    pub fn max_comparators(self, n: usize) -> u64 {
        self.layers(n) as u64 * (n / 2) as u64
    }

    /// Compiles the network for `n` inputs into slot-form comparators (see the module docs).
    pub fn compile(self, n: usize) -> Result<Comparators> {
        if n == 0 {
            return Err(Error::Empty(
                "diffsort: a network needs at least one input".into(),
            ));
        }
        if n >= PAD as usize {
            return Err(Error::InvalidArgument(format!(
                "diffsort: n = {n} inputs is more than a sorting network here indexes (< {PAD})"
            )));
        }
        let bound = usize::try_from(self.max_comparators(n)).unwrap_or(usize::MAX);
        let mut pairs: Vec<[u32; 2]> = Vec::new();
        pairs
            .try_reserve_exact(bound)
            .map_err(|_| too_big(n, bound, 8))?;
        let mut layer_ends = Vec::with_capacity(self.layers(n));
        let out_slot = match self {
            Network::OddEven => {
                for l in 0..n {
                    // `i + 1 < n`: a value without a partner passes through unchanged
                    for i in (l % 2..n.saturating_sub(1)).step_by(2) {
                        pairs.push([i as u32, i as u32 + 1]);
                    }
                    layer_ends.push(pairs.len());
                }
                (0..n as u32).collect()
            }
            Network::Bitonic => {
                let wires = n.next_power_of_two();
                let k = wires.trailing_zeros() as usize;
                // the slot each wire holds; wires n.. start as +∞ pads
                let mut slot: Vec<u32> = (0..wires as u32)
                    .map(|w| if (w as usize) < n { w } else { PAD })
                    .collect();
                for block in 0..k {
                    for layer in 0..=block {
                        let m = 1usize << (block - layer);
                        for i in (0..wires).step_by(2 * m) {
                            for a in i..i + m {
                                let b = a + m;
                                // the direction alternates between blocks of 2^(block+1) wires
                                let (to_min, to_max) = if (a >> (block + 1)) & 1 == 1 {
                                    (b, a)
                                } else {
                                    (a, b)
                                };
                                match (slot[to_min] == PAD, slot[to_max] == PAD) {
                                    (false, false) => pairs.push([slot[to_min], slot[to_max]]),
                                    // real vs pad: the real value is the min, exactly
                                    (true, false) => {
                                        slot[to_min] = slot[to_max];
                                        slot[to_max] = PAD;
                                    }
                                    (false, true) | (true, true) => {}
                                }
                            }
                        }
                        layer_ends.push(pairs.len());
                    }
                }
                // the pads end on the last wires (the network sorts +∞ last); the real slots
                // in wire order are the ascending output
                slot.into_iter().filter(|&s| s != PAD).collect()
            }
        };
        pairs.shrink_to_fit();
        Ok(Comparators {
            network: self,
            n,
            pairs,
            layer_ends,
            out_slot,
        })
    }
}

pub(super) fn too_big(n: usize, count: usize, bytes_each: usize) -> Error {
    Error::InvalidArgument(format!(
        "diffsort: n = {n} needs {} MiB of scratch memory ({count} × {bytes_each} bytes), more \
         than can be allocated; use the bitonic network or a smaller n",
        (count as u128 * bytes_each as u128) >> 20
    ))
}

/// A zero-filled buffer, or a typed error instead of an abort when it cannot be allocated.
pub(super) fn zeros(len: usize, n: usize) -> Result<Vec<f64>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| too_big(n, len, 8))?;
    v.resize(len, 0.0);
    Ok(v)
}

/// A network compiled for one `n`: comparators in slot form, in execution order.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparators {
    pub(super) network: Network,
    pub(super) n: usize,
    /// `[lo, hi]`: the soft min goes to slot `lo`, the soft max to slot `hi`.
    pub(super) pairs: Vec<[u32; 2]>,
    /// `pairs[layer_ends[l-1]..layer_ends[l]]` is layer l (disjoint slots within a layer).
    pub(super) layer_ends: Vec<usize>,
    /// The slot that holds the k-th smallest value at the end.
    pub(super) out_slot: Vec<u32>,
}

impl Comparators {
    /// The network this was compiled from.
    pub fn network(&self) -> Network {
        self.network
    }

    /// Number of inputs.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of comparators between real values.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there is no comparator (n = 1).
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Number of layers.
    pub fn layers(&self) -> usize {
        self.layer_ends.len()
    }

    /// The comparators of layer `l` as `[lo, hi]` slot pairs (empty past the last layer).
    pub fn layer(&self, l: usize) -> &[[u32; 2]] {
        let Some(&end) = self.layer_ends.get(l) else {
            return &[];
        };
        let start = if l == 0 { 0 } else { self.layer_ends[l - 1] };
        &self.pairs[start..end]
    }
}
