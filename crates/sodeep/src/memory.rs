//! The memory budget: work whose estimated peak exceeds it is refused before anything is
//! allocated, with an error that names the limit and how to raise it, rather than aborting in
//! the allocator or growing until the machine is exhausted.
//!
//! `limit = SODEEP_MAX_MEMORY` (bytes, or with a suffix `K`, `M`, `G`, `T`), else half of the
//! physical memory (`MemTotal` of `/proc/meminfo`; 8 GiB where that cannot be read). The
//! `sodeep` command line sets the variable from `--max-memory`.
//!
//! ```
//! use sodeep::memory::{check, parse_size};
//! assert_eq!(parse_size("1.5G"), Some(1_610_612_736));
//! assert!(check("a small job", 1 << 20).is_ok());
//! let err = check("ranking 1 vector of 2000000 scores with handcrafted", u64::MAX).unwrap_err();
//! assert!(err.to_string().contains("--max-memory"));
//! ```

use crate::error::{Error, Result};

/// The environment variable that sets the limit.
pub const ENV: &str = "SODEEP_MAX_MEMORY";

/// `123`, `64K`, `512M`, `1.5G` or `2T` (powers of 1024) → bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return None,
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v > 0.0).then(|| (v * mult as f64).min(u64::MAX as f64) as u64)
}

/// Physical memory in bytes, where `/proc/meminfo` tells it (read once per process: the
/// check runs for every batch that `rank` ranks).
pub fn physical_bytes() -> Option<u64> {
    static PHYSICAL: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *PHYSICAL.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/meminfo").ok()?;
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    })
}

/// The limit in force, and where it comes from.
pub fn limit() -> Result<(u64, String)> {
    if let Ok(v) = std::env::var(ENV) {
        return match parse_size(&v) {
            Some(b) => Ok((b, format!("{ENV}={v}"))),
            None => Err(Error::InvalidArgument(format!(
                "{ENV}={v} (or --max-memory): write a size such as 4G, 512M or 1073741824"
            ))),
        };
    }
    Ok(match physical_bytes() {
        Some(p) => (p / 2, "half of the physical memory".into()),
        None => (8 << 30, "the default of 8 GiB".into()),
    })
}

/// Refuses `what` when its estimated peak `bytes` exceed the limit.
pub fn check(what: &str, bytes: u64) -> Result<()> {
    let (limit, source) = limit()?;
    if bytes <= limit {
        return Ok(());
    }
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    Err(Error::InvalidArgument(format!(
        "{what} needs about {:.1} GiB, over the memory limit of {:.1} GiB ({source}); make the \
         work smaller, or raise the limit with --max-memory SIZE (or {ENV}=SIZE)",
        gib(bytes),
        gib(limit)
    )))
}
