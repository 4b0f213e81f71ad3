//! Work refused up front under a memory budget: every test of this binary runs under
//! `SODEEP_MAX_MEMORY=90M`, set once before any test reads it (a binary of its own, so that no
//! other test sees the small budget).

use std::path::Path;
use std::sync::Once;

use sodeep_lab::experiment::ltr::Ltr;
use sodeep_lab::experiment::{self, DataSource, ExperimentConfig};
use sodeep_lab::Error;

fn budget() {
    static SET: Once = Once::new();
    SET.call_once(|| std::env::set_var(sodeep::memory::ENV, "90M"));
}

/// A sparse file of 1 GiB: as large as that on disk to every reader, without the disk space.
fn huge_file(dir: &Path, name: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().set_len(1 << 30).unwrap();
    p
}

/// A regular file whose size, as read, exceeds the budget is refused before its first byte is
/// read, naming the file.
#[test]
fn files_beyond_the_budget_are_refused_before_reading() {
    budget();
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let csv = huge_file(dir.path(), "huge.csv");
    let letor = huge_file(dir.path(), "huge.txt");
    let rows = huge_file(dir.path(), "scores.csv");
    let errors = [
        sodeep_lab::data::csv::load_table(&csv).map(|_| ()),
        sodeep_lab::data::letor::load_letor(&letor, None).map(|_| ()),
        sodeep_lab::commands::rank::rank("softrank", "ranks", Some(&rows), None),
    ];
    for (e, p) in errors.into_iter().zip([&csv, &letor, &rows]) {
        let e = e
            .expect_err("a 1 GiB file under a 90 MiB budget")
            .to_string();
        assert!(e.contains(&p.display().to_string()), "{e}");
        assert!(
            e.contains("memory limit") && e.contains("1073741824 bytes"),
            "{e}"
        );
    }
    // nothing was read: refused at once
    assert!(started.elapsed().as_secs_f64() < 5.0);
}

/// The ridge baseline's memory is checked when the data is prepared, before any model trains:
/// a refusal costs no training run (it came after the MLP had run, by aborting).
#[test]
fn a_ridge_baseline_beyond_the_budget_is_refused_before_training() {
    budget();
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.txt");
    let mut text = String::new();
    for q in 0..25 {
        for d in 0..8 {
            let wide = if q == 0 && d == 0 { " 100000:1" } else { "" };
            text.push_str(&format!(
                "{} qid:{q} 1:{d} 2:{}{wide}\n",
                u32::from(d < 3),
                (q + d) % 5
            ));
        }
    }
    std::fs::write(&train, text).unwrap();
    let mut cfg = ExperimentConfig::new(&Ltr);
    cfg.data = DataSource::Letor {
        train,
        train_query: None,
        test: None,
        test_query: None,
    };
    cfg.seeds = 1;
    cfg.epochs = 1;
    cfg.lrs = vec![1e-2];
    cfg.hidden = 8;
    cfg.losses = Some(vec!["mse".into()]);
    let trained = std::sync::atomic::AtomicBool::new(false);
    let e = experiment::run(&cfg, &|line: &str| {
        if line.starts_with('[') {
            trained.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    })
    .expect_err("the ridge baseline exceeds 90 MiB");
    assert!(matches!(e, Error::Sodeep(_)), "{e:?}");
    let e = e.to_string();
    assert!(
        e.contains("the ridge baseline on 128 training rows × 100000 features (dual form"),
        "{e}"
    );
    assert!(e.contains("memory limit"), "{e}");
    assert!(!trained.into_inner(), "a model trained before the refusal");
}

/// Endless short lines from a stream count with their rows' own memory: `1\n` repeated is
/// refused after about 1.7 million lines (under 100 MiB), not at 64 MiB of text (1.7 GiB).
#[test]
fn a_stream_of_tiny_lines_is_refused_near_the_budget() {
    budget();
    struct Ones;
    impl std::io::Read for Ones {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = if i % 2 == 0 { b'1' } else { b'\n' };
            }
            Ok(buf.len() & !1)
        }
    }
    let e = sodeep_lab::commands::rank::parse_rows(Ones).unwrap_err();
    match &e {
        Error::InputBound { line, reason, .. } => {
            assert!(reason.contains("memory limit"), "{e}");
            assert!((1_000_000..2_000_000).contains(line), "{e}");
        }
        other => panic!("expected Error::InputBound, got {other:?}"),
    }
}
