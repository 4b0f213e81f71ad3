//! Ranker specs: `NAME[:knob=value,...]` strings, as the command line and the experiments take
//! them, turned into [`Ranker`]s. This sits above every ranker: it knows them all, and none of
//! them knows it.
//!
//! ```
//! let r = sodeep::spec::parse("softrank:eps=0.1,reg=kl")?;
//! assert_eq!(r.name(), "softrank:eps=0.1,reg=kl");
//! assert!(r.fixed_len().is_none());
//! assert!(sodeep::spec::parse("softrank:epsilon=1").is_err()); // unknown knob
//! # Ok::<(), sodeep::Error>(())
//! ```

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::ranker::Ranker;
use crate::sorter::Sorter;

/// The analytic rankers [`parse`] knows, with their knobs, for docs and error messages.
pub const ANALYTIC: &[&str] = &[
    "softrank[:eps=E,reg=l2|kl]",
    "neuralsort[:tau=T]",
    "softsort-perm[:tau=T]",
    "sinkhorn[:eps=E,iters=N]",
    "diffsort-oddeven[:steepness=S,dist=logistic|logistic_phi|cauchy|reciprocal]",
    "diffsort-bitonic[:steepness=S,dist=logistic|logistic_phi|cauchy|reciprocal]",
    "blackbox[:lambda=L]",
    "handcrafted[:lambda=L]",
];

/// The knobs of one ranker spec (`NAME:k=v,k=v`), consumed one by one; whatever is left at
/// [`Knobs::finish`] is an unknown knob.
struct Knobs<'a> {
    spec: &'a str,
    kv: Vec<(&'a str, &'a str)>,
    known: Vec<&'static str>,
    /// Every knob's value once resolved (given or default), in the order they were read.
    resolved: Vec<(&'static str, String)>,
}

impl<'a> Knobs<'a> {
    fn parse(spec: &'a str) -> Result<(&'a str, Self)> {
        let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let mut kv = Vec::new();
        for item in rest.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = item.split_once('=').ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "ranker '{spec}': knobs are written key=value, got '{item}'"
                ))
            })?;
            let k = k.trim();
            if kv.iter().any(|(seen, _)| *seen == k) {
                return Err(Error::InvalidArgument(format!(
                    "ranker '{spec}': knob '{k}' is given twice"
                )));
            }
            kv.push((k, v.trim()));
        }
        Ok((
            name,
            Self {
                spec,
                kv,
                known: Vec::new(),
                resolved: Vec::new(),
            },
        ))
    }

    fn take(&mut self, key: &'static str) -> Option<&'a str> {
        self.known.push(key);
        let at = self.kv.iter().position(|(k, _)| *k == key)?;
        Some(self.kv.remove(at).1)
    }

    /// A numeric knob, or `default` when absent.
    fn num(&mut self, key: &'static str, default: f64) -> Result<f64> {
        let value = match self.take(key) {
            None => default,
            Some(v) => v.parse::<f64>().map_err(|_| {
                Error::InvalidArgument(format!("ranker '{}': {key}={v} is not a number", self.spec))
            })?,
        };
        self.resolved.push((key, format!("{value:?}")));
        Ok(value)
    }

    /// A knob that must be a positive integer, or `default` when absent.
    fn count(&mut self, key: &'static str, default: usize) -> Result<usize> {
        let value = match self.take(key) {
            None => default,
            Some(v) => match v.parse::<usize>() {
                Ok(c) if c > 0 => c,
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "ranker '{}': {key}={v}: {key} must be a positive integer (1, 2, 3, ...)",
                        self.spec
                    )))
                }
            },
        };
        self.resolved.push((key, value.to_string()));
        Ok(value)
    }

    /// A knob with a fixed set of values, or `default` when absent.
    fn choice(
        &mut self,
        key: &'static str,
        default: &'static str,
        allowed: &[&'static str],
    ) -> Result<&'a str> {
        let v = self.take(key).unwrap_or(default);
        if allowed.contains(&v) {
            self.resolved.push((key, v.to_string()));
            Ok(v)
        } else {
            Err(Error::InvalidArgument(format!(
                "ranker '{}': {key}={v}: use one of {}",
                self.spec,
                allowed.join(", ")
            )))
        }
    }

    fn finish(self) -> Result<()> {
        match self.kv.first() {
            None => Ok(()),
            Some((k, _)) => Err(Error::InvalidArgument(format!(
                "ranker '{}': unknown knob '{k}' (known: {})",
                self.spec,
                if self.known.is_empty() {
                    "none".to_string()
                } else {
                    self.known.join(", ")
                }
            ))),
        }
    }
}

/// What a spec resolves to, for re-implementations of the rankers elsewhere (the Python
/// package's torch ops): the ranker's family and every knob's value, defaults included.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// `softrank`, `neuralsort`, `softsort-perm`, `sinkhorn`, `diffsort-oddeven`,
    /// `diffsort-bitonic`, `blackbox`, `handcrafted`, or `sorter` for a learned sorter (by
    /// shipped name or folder; [`crate::registry`] and [`crate::checkpoint`] give its files).
    pub family: String,
    /// `(knob, value)` in the order the parser reads them; values as the parser read them
    /// (numbers in Rust's round-trip `{:?}` form).
    pub knobs: Vec<(String, String)>,
}

/// Builds a ranker from its spec `NAME[:knob=value,...]`: one of [`ANALYTIC`] (softrank,
/// neuralsort, softsort-perm, sinkhorn, diffsort-oddeven, diffsort-bitonic,
/// blackbox, handcrafted; `handcrafted:LAMBDA` is also accepted), a shipped sorter's name, or
/// a sorter folder. Unknown names and knobs, and knobs out of range, are errors that say what
/// is allowed.
pub fn parse(spec: &str) -> Result<Arc<dyn Ranker>> {
    Ok(parse_described(spec)?.0)
}

/// [`parse`], and the [`Description`] of what it built.
///
/// ```
/// let (_, d) = sodeep::spec::parse_described("neuralsort")?;
/// assert_eq!(d.family, "neuralsort");
/// assert_eq!(d.knobs, vec![("tau".to_string(), "1.0".to_string())]); // the default
/// # Ok::<(), sodeep::Error>(())
/// ```
pub fn parse_described(spec: &str) -> Result<(Arc<dyn Ranker>, Description)> {
    use crate::relax;
    // the sorter's own short form, handcrafted:LAMBDA, has no key
    if spec.starts_with("handcrafted:") && !spec.contains('=') {
        let sorter = Sorter::load(spec)?;
        let lambda = sorter
            .card()
            .config
            .lambda
            .unwrap_or(crate::sorter::DEFAULT_LAMBDA);
        let description = Description {
            family: "handcrafted".into(),
            knobs: vec![("lambda".into(), format!("{lambda:?}"))],
        };
        return Ok((Arc::new(sorter), description));
    }
    let (name, mut k) = Knobs::parse(spec)?;
    let ranker: Arc<dyn Ranker> = match name {
        "softsort" => {
            return Err(Error::InvalidArgument(
                "ranker 'softsort': the name is ambiguous and no longer accepted: use 'softrank' \
                 for Blondel et al.'s soft rank (torchsort's soft_rank; its soft sort is \
                 sodeep::soft_sort), or 'softsort-perm' for Prillo et al.'s SoftSort"
                    .into(),
            ))
        }
        "softrank" => {
            use relax::softrank::{Regularization, SoftRank};
            let eps = k.num("eps", 1.0)?;
            let reg = match k.choice("reg", "l2", &["l2", "kl"])? {
                "kl" => Regularization::Kl,
                _ => Regularization::L2,
            };
            Arc::new(SoftRank::new(eps, reg)?)
        }
        "diffsort-oddeven" | "diffsort-bitonic" => {
            use relax::diffsort::{DiffSort, Distribution, Network, DEFAULT_STEEPNESS};
            let network = if name == "diffsort-oddeven" {
                Network::OddEven
            } else {
                Network::Bitonic
            };
            let steepness = k.num("steepness", DEFAULT_STEEPNESS)?;
            let dist = k.choice("dist", "cauchy", &Distribution::NAMES)?;
            Arc::new(DiffSort::new(
                network,
                steepness,
                Distribution::from_name(dist)?,
            )?)
        }
        "neuralsort" => {
            let tau = k.num("tau", relax::neuralsort::DEFAULT_TAU)?;
            Arc::new(relax::neuralsort::NeuralSort::new(tau)?)
        }
        "softsort-perm" => {
            let tau = k.num("tau", relax::neuralsort::DEFAULT_TAU)?;
            Arc::new(relax::neuralsort::SoftSortPerm::new(tau)?)
        }
        "sinkhorn" => {
            use relax::sinkhorn::{Sinkhorn, DEFAULT_EPS, DEFAULT_ITERS};
            let eps = k.num("eps", DEFAULT_EPS)?;
            let iters = k.count("iters", DEFAULT_ITERS)?;
            Arc::new(Sinkhorn::new(eps, iters)?)
        }
        "blackbox" => {
            let lambda = k.num("lambda", relax::blackbox::DEFAULT_LAMBDA)?;
            Arc::new(relax::blackbox::Blackbox::new(lambda)?)
        }
        "handcrafted" => {
            let lambda = k.num("lambda", crate::sorter::DEFAULT_LAMBDA)?;
            Arc::new(Sorter::handcrafted(lambda)?)
        }
        _ => {
            return match Sorter::load(spec) {
                Ok(s) => Ok(Arc::new(s) as Arc<dyn Ranker>),
                Err(Error::UnknownSorter { name, known }) => Err(Error::InvalidArgument(format!(
                    "unknown ranker '{name}': known rankers are {}, and the sorters {known}",
                    ANALYTIC.join(", ")
                ))),
                Err(e) => Err(e),
            }
            .map(|s| {
                let description = Description {
                    family: "sorter".into(),
                    knobs: Vec::new(),
                };
                (s, description)
            })
        }
    };
    let knobs = k
        .resolved
        .iter()
        .map(|(key, v)| (key.to_string(), v.clone()))
        .collect();
    k.finish()?;
    let description = Description {
        family: name.to_string(),
        knobs,
    };
    Ok((ranker, description))
}
