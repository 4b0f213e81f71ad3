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

/// The limit in force, and where it comes from. A [`ENV`] that is not a size (or not UTF-8)
/// is an error that names it, never silently ignored.
pub fn limit() -> Result<(u64, String)> {
    limit_from(std::env::var_os(ENV).as_deref())
}

/// [`limit`] for a given value of [`ENV`] (`None`: unset).
fn limit_from(value: Option<&std::ffi::OsStr>) -> Result<(u64, String)> {
    if let Some(raw) = value {
        let bad = |shown: &str| {
            Error::InvalidArgument(format!(
                "{ENV}={shown} (or --max-memory): write a size such as 4G, 512M or 1073741824"
            ))
        };
        let Some(v) = raw.to_str() else {
            return Err(bad(&format!("{} (not valid UTF-8)", raw.to_string_lossy())));
        };
        return match parse_size(v) {
            Some(b) => Ok((b, format!("{ENV}={v}"))),
            None => Err(bad(v)),
        };
    }
    Ok(match physical_bytes() {
        Some(p) => (p / 2, "half of the physical memory".into()),
        None => (8 << 30, "the default of 8 GiB".into()),
    })
}

/// A size in the unit that shows it: `512 bytes`, `1.5 KiB`, `20.0 MiB`, `3.2 GiB`, `2.0 TiB`
/// (powers of 1024).
///
/// ```
/// use sodeep::memory::format_size;
/// assert_eq!(format_size(1), "1 byte");
/// assert_eq!(format_size(1536), "1.5 KiB");
/// assert_eq!(format_size(3 << 30), "3.0 GiB");
/// ```
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    if bytes == 1 {
        return "1 byte".into();
    }
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Refuses `what` when its estimated peak `bytes` exceed the limit.
pub fn check(what: &str, bytes: u64) -> Result<()> {
    let (limit, source) = limit()?;
    check_against(what, bytes, limit, &source)
}

/// [`check`] against a given limit.
fn check_against(what: &str, bytes: u64, limit: u64, source: &str) -> Result<()> {
    if bytes <= limit {
        return Ok(());
    }
    let (mut need, mut have) = (format_size(bytes), format_size(limit));
    // rounded alike, the two sizes would read as equal: exact byte counts tell them apart
    if need == have {
        (need, have) = (format!("{bytes} bytes"), format!("{limit} bytes"));
    }
    Err(Error::InvalidArgument(format!(
        "{what} needs about {need}, over the memory limit of {have} ({source}); make the \
         work smaller, or raise the limit with --max-memory SIZE (or {ENV}=SIZE)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_that_is_not_utf8_is_an_error_naming_the_variable() {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let raw = std::ffi::OsStr::from_bytes(b"4G\xff");
            let err = limit_from(Some(raw)).unwrap_err().to_string();
            assert!(err.contains(ENV) && err.contains("UTF-8"), "{err}");
        }
        let err = limit_from(Some("lots".as_ref())).unwrap_err().to_string();
        assert!(err.contains(ENV) && err.contains("lots"), "{err}");
        assert_eq!(limit_from(Some("2K".as_ref())).unwrap().0, 2048);
    }

    #[test]
    fn sizes_are_said_in_units_that_show_them() {
        let err = check_against("ranking", 1 << 20, 1, "--max-memory 1")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("1.0 MiB") && err.contains("limit of 1 byte"),
            "{err}"
        );
        let err = check_against("ranking", 60 << 30, 1 << 30, "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("60.0 GiB") && err.contains("1.0 GiB"), "{err}");
        // sizes that round alike are given in bytes
        let err = check_against("ranking", 1030, 1024, "x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("1030 bytes") && err.contains("1024 bytes"),
            "{err}"
        );
        assert_eq!(format_size(0), "0 bytes");
        assert_eq!(format_size(u64::MAX), "16777216.0 TiB");
        assert!(check_against("ranking", 5, 5, "x").is_ok());
    }
}
