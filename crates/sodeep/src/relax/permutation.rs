//! SoDeep ranks read off a relaxed permutation matrix, and the VJP of that reading.

/// SoDeep ranks from a relaxed permutation `p` (`n × n`, row k: the weights of the input
/// positions for the k-th largest score): `r_i = Σ_k (k+1)·p[k,i] / n`.
pub fn ranks_from_permutation(p: &[f64], n: usize) -> Vec<f64> {
    let mut r = vec![0.0; n];
    for (k, row) in p.chunks(n).enumerate() {
        let w = (k + 1) as f64 / n as f64;
        for (ri, pi) in r.iter_mut().zip(row) {
            *ri += w * pi;
        }
    }
    r
}

/// The VJP of [`ranks_from_permutation`]: `∂(Σ_i g_i r_i)/∂p[k,i] = g_i·(k+1)/n`.
pub fn ranks_from_permutation_vjp(g: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for (k, row) in out.chunks_mut(n).enumerate() {
        let w = (k + 1) as f64 / n as f64;
        for (o, gi) in row.iter_mut().zip(g) {
            *o = w * gi;
        }
    }
    out
}
