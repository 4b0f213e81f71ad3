//! Hostile input to the library: each case once gave a wrong answer, a hang or a silent
//! success, and must now give a clean error or a correct result.

use candle_core::{Device, Tensor};
use sodeep::card::{Arch, SorterConfig};
#[cfg(feature = "train")]
use sodeep::train::{train_sorter, TrainConfig};
use sodeep::Sorter;

/// One vector's ranks through the ranker of `spec`.
fn rank_row(spec: &str, v: &[f32]) -> Vec<f32> {
    let r = sodeep::spec::parse(spec).unwrap();
    let x = Tensor::new(v, &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    r.rank(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

#[test]
fn a_knob_given_twice_is_named_as_such() {
    let err = sodeep::spec::parse("softrank:eps=1,eps=2").err().unwrap();
    assert!(err.to_string().contains("'eps' is given twice"), "{err}");
}

#[test]
fn sinkhorn_iteration_counts_are_capped() {
    let err = sodeep::spec::parse("sinkhorn:iters=99999999999")
        .err()
        .unwrap();
    assert!(err.to_string().contains("100000"), "{err}");
    assert!(sodeep::spec::parse("sinkhorn:iters=100000").is_ok());
}

#[test]
fn a_sharpness_beyond_f32_is_refused_not_nan() {
    let err = Sorter::load("handcrafted:1e39").unwrap_err();
    assert!(err.to_string().contains("largest f32"), "{err}");
    // the largest accepted value gives finite ranks in [1/n, 1]
    let s = Sorter::load("handcrafted:3e38").unwrap();
    let x = Tensor::new(&[[0.5f32, -2.0, 0.5, 7.0]], &Device::Cpu).unwrap();
    let r: Vec<f32> = s
        .forward(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert!(
        r.iter().all(|v| v.is_finite() && *v >= 0.25 && *v <= 1.0),
        "{r:?}"
    );
}

#[cfg(feature = "train")]
#[test]
fn training_zero_steps_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TrainConfig::new(SorterConfig::new(Arch::Mlp, 4), dir.path());
    cfg.steps = 0;
    let err = train_sorter(&cfg, false, |_| {}).unwrap_err();
    assert!(err.to_string().contains("--steps"), "{err}");
    assert!(!dir.path().join("ckpt").exists());
}

#[test]
fn standardisation_does_not_overflow_on_huge_scores() {
    let huge = Tensor::new(&[[3e38f32, -3e38, 0.0, 1e38]], &Device::Cpu).unwrap();
    let plain = Tensor::new(&[[3f32, -3.0, 0.0, 1.0]], &Device::Cpu).unwrap();
    let a: Vec<f32> = sodeep::sorter::standardize_rows(&huge)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let b: Vec<f32> = sodeep::sorter::standardize_rows(&plain)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
    }
    // a standardised sorter ranks them, rather than seeing a constant vector
    let r: Vec<f32> = Sorter::load("any-sharp")
        .unwrap()
        .forward(&huge)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    assert!(r[0] < r[3] && r[3] < r[2] && r[2] < r[1], "{r:?}");
}

fn tiny_files() -> (
    sodeep::card::SorterCard,
    std::collections::HashMap<String, Tensor>,
) {
    let card = sodeep::card::SorterCard::new(SorterConfig::new(Arch::Mlp, 2), 1);
    let w = Tensor::new(&[1f32], &Device::Cpu).unwrap();
    (
        card,
        std::collections::HashMap::from([("w".to_string(), w)]),
    )
}

fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn only_sorter_folders_are_ever_replaced() {
    use sodeep::checkpoint::{save_sorter_dir, SorterFiles};
    let root = tempfile::tempdir().unwrap();
    let (card, weights) = tiny_files();
    let files = SorterFiles {
        card: &card,
        weights: &weights,
        optimizer: None,
    };
    // a folder of the user's files
    let notes = root.path().join("notes");
    std::fs::create_dir(&notes).unwrap();
    std::fs::write(notes.join("notes.txt"), "mine").unwrap();
    let err = save_sorter_dir(&notes, &files).unwrap_err();
    assert!(err.to_string().contains("not a sorter folder"), "{err}");
    assert_eq!(
        std::fs::read_to_string(notes.join("notes.txt")).unwrap(),
        "mine"
    );
    // a regular file
    let file = root.path().join("file");
    std::fs::write(&file, "keep").unwrap();
    assert!(save_sorter_dir(&file, &files).is_err());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
    // nothing left behind by the refusals
    assert_eq!(listing(root.path()), vec!["file", "notes"]);
    // a sorter folder is replaced, and new files get the same mode as the card
    let s = root.path().join("sorter");
    save_sorter_dir(&s, &files).unwrap();
    save_sorter_dir(&s, &files).unwrap();
    assert_eq!(listing(&s), vec!["sorter.json", "sorter.safetensors"]);
    // a write killed halfway leaves a temporary folder without its card: it is cleared
    let tmp = root.path().join(".sorter.tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::write(tmp.join("sorter.safetensors"), "half").unwrap();
    save_sorter_dir(&s, &files).unwrap();
    assert!(!tmp.exists());
    // killed while the safetensors writer had its own temporary file open beside the weights
    std::fs::create_dir(&tmp).unwrap();
    std::fs::write(tmp.join("optimizer.safetensors"), "whole").unwrap();
    std::fs::write(tmp.join(".tmpX3kq9Z"), "half").unwrap();
    save_sorter_dir(&s, &files).unwrap();
    assert!(!tmp.exists());
    // but a temporary name holding anything else is not ours
    std::fs::create_dir(&tmp).unwrap();
    std::fs::write(tmp.join("diary.txt"), "mine").unwrap();
    assert!(save_sorter_dir(&s, &files).is_err());
    assert_eq!(
        std::fs::read_to_string(tmp.join("diary.txt")).unwrap(),
        "mine"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |f: &str| std::fs::metadata(s.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("sorter.safetensors"), mode("sorter.json"));
    }
}

#[cfg(unix)]
#[test]
fn atomic_writes_never_replace_links_or_modes() {
    use sodeep::files::write_atomic;
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let target = root.path().join("target.csv");
    std::fs::write(&target, "old").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    // a symbolic link is written through: it stays a link, its target gets the bytes
    let link = root.path().join("link.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    write_atomic(&link, b"via link").unwrap();
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "via link");
    // a hard link keeps sharing its data
    let hard = root.path().join("hard.csv");
    std::fs::hard_link(&target, &hard).unwrap();
    write_atomic(&hard, b"via hard link").unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "via hard link");
    // a plain file is replaced whole, with its mode kept
    std::fs::remove_file(&hard).unwrap();
    write_atomic(&target, b"new").unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}

#[cfg(feature = "train")]
#[test]
fn a_run_folder_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TrainConfig::new(SorterConfig::new(Arch::Mlp, 4), dir.path());
    cfg.sorter.hidden = 4;
    (cfg.steps, cfg.batch, cfg.val_samples, cfg.save_every) = (2, 4, 4, 1);
    train_sorter(&cfg, false, |_| {}).unwrap();
    // another run holds the folder
    let held = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join(sodeep::train::LOCK_FILE))
        .unwrap();
    held.try_lock().unwrap();
    cfg.steps = 4;
    let err = train_sorter(&cfg, true, |_| {}).unwrap_err();
    assert!(err.to_string().contains("locked by another"), "{err}");
    drop(held);
    train_sorter(&cfg, true, |_| {}).unwrap();
    // a leftover of an interrupted swap: only .ckpt.old holds the checkpoint
    std::fs::rename(dir.path().join("ckpt"), dir.path().join(".ckpt.old")).unwrap();
    cfg.steps = 5;
    let s = train_sorter(&cfg, true, |_| {}).unwrap();
    assert_eq!(s.step, 5);
    assert!(dir.path().join("ckpt/sorter.json").is_file());
    assert!(!dir.path().join(".ckpt.old").exists());
}

#[cfg(feature = "train")]
#[test]
fn work_beyond_the_memory_limit_is_refused_up_front() {
    // one row of 2,000,000 scores through an O(n²) ranker: about 10^5 GiB
    let row = vec![vec![1f64; 2_000_000]];
    let hand = sodeep::spec::parse("handcrafted").unwrap();
    let err = sodeep::ranker::apply_to_rows(hand.as_ref(), &row, sodeep::ranker::RowOutput::Ranks)
        .unwrap_err();
    assert!(err.to_string().contains("--max-memory"), "{err}");
    // the same row through an O(n) ranker is fine
    let soft = sodeep::spec::parse("softrank").unwrap();
    assert!(
        sodeep::ranker::apply_to_rows(soft.as_ref(), &row, sodeep::ranker::RowOutput::Ranks)
            .is_ok()
    );
    // a sorter whose mixing head alone holds d² · 2h weights
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig::new(SorterConfig::new(Arch::Lstm, 100_000), dir.path());
    let err = train_sorter(&cfg, false, |_| {}).unwrap_err();
    assert!(err.to_string().contains("memory limit"), "{err}");
    assert!(!dir.path().join("ckpt").exists());
    assert!(sodeep::memory::parse_size("12x").is_none());
    assert_eq!(sodeep::memory::parse_size("512M"), Some(512 << 20));
}

#[test]
fn cards_and_weights_that_disagree_are_refused() {
    use sodeep::checkpoint::{save_sorter_dir, SorterFiles};
    let root = tempfile::tempdir().unwrap();
    // a 2-layer GRU's weights under a card that says 1 layer
    let mut cfg = SorterConfig::new(Arch::Gru, 5);
    (cfg.hidden, cfg.layers) = (3, 2);
    let (varmap, _) = sodeep::sorter::init_sorter(&cfg, 1).unwrap();
    let weights: std::collections::HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().detach()))
        .collect();
    let mut one = cfg.clone();
    one.layers = 1;
    let write = |name: &str,
                 card: &sodeep::card::SorterCard,
                 w: &std::collections::HashMap<String, Tensor>| {
        let dir = root.path().join(name);
        let files = SorterFiles {
            card,
            weights: w,
            optimizer: None,
        };
        save_sorter_dir(&dir, &files).unwrap();
        dir
    };
    let dir = write(
        "fewer-layers",
        &sodeep::card::SorterCard::new(one, 0),
        &weights,
    );
    let err = Sorter::load_dir(&dir).unwrap_err();
    assert!(
        err.to_string().contains("not read by a gru sorter"),
        "{err}"
    );
    // the matching card loads
    let card = sodeep::card::SorterCard::new(cfg.clone(), 0);
    assert!(Sorter::load_dir(&write("good", &card, &weights)).is_ok());
    // a NaN weight
    let mut nan = weights.clone();
    let (k, t) = nan
        .iter()
        .next()
        .map(|(k, t)| (k.clone(), t.clone()))
        .unwrap();
    let poisoned = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mut poisoned = poisoned;
    poisoned[0] = f32::NAN;
    nan.insert(
        k.clone(),
        Tensor::from_vec(poisoned, t.shape(), &Device::Cpu).unwrap(),
    );
    let err = Sorter::load_dir(&write("nan", &card, &nan)).unwrap_err();
    assert!(err.to_string().contains("non-finite"), "{err}");
    // a card dtype that the file contradicts
    let mut half = card.clone();
    half.dtype = "f16".into();
    let err = Sorter::load_dir(&write("dtype", &half, &weights)).unwrap_err();
    assert!(err.to_string().contains("card's dtype is f16"), "{err}");
    // integer weights
    let ints: std::collections::HashMap<String, Tensor> = weights
        .iter()
        .map(|(k, t)| (k.clone(), t.to_dtype(candle_core::DType::I64).unwrap()))
        .collect();
    let err = Sorter::load_dir(&write("ints", &card, &ints)).unwrap_err();
    assert!(err.to_string().contains("I64"), "{err}");
}

#[test]
fn soft_rank_keeps_its_precision_at_large_offsets() {
    for v in [
        vec![1.7e18f32, 1.700_008_6e18, 1.700_017_3e18],
        vec![1e17, -1e17, 0.0],
        vec![1e15, -1e15, 0.0],
        vec![-3e38, 3e38, 0.0, 1.0],
    ] {
        let want = rank_row("blackbox", &v);
        for spec in ["softrank", "softrank:reg=kl", "softrank:eps=1e-30"] {
            let got = rank_row(spec, &v);
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() < 1e-5,
                    "{spec} on {v:?}: {got:?}, want {want:?}"
                );
            }
        }
    }
}

#[test]
fn analytic_rankers_give_finite_ranks_in_range_on_hostile_input() {
    let specs = [
        "softrank",
        "softrank:reg=kl",
        "neuralsort",
        "softsort-perm",
        "sinkhorn",
        "diffsort-oddeven",
        "diffsort-bitonic",
        "blackbox",
        "handcrafted",
    ];
    let inputs: Vec<Vec<f32>> = vec![
        vec![1e-30, 2e-30, 3e-30],
        vec![1e30, -1e30, 0.0, 5.0],
        vec![7.0, 7.0, 7.0],
        vec![3e38, -3e38, 1.0, -1.0],
        vec![1e7 + 1.0, 1e7, 1e7 + 2.0],
        vec![f32::MIN_POSITIVE, -f32::MIN_POSITIVE, 0.0],
        vec![42.0],
    ];
    let mut failures = Vec::new();
    for spec in specs {
        for v in &inputs {
            let n = v.len() as f32;
            let got = rank_row(spec, v);
            let ok = got
                .iter()
                .all(|g| g.is_finite() && *g >= 1.0 / n - 1e-4 && *g <= 1.0 + 1e-4);
            if !ok {
                failures.push(format!("{spec} on {v:?}: {got:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn knobs_outside_their_precision_are_refused() {
    let err = sodeep::spec::parse("sinkhorn:eps=1e-30").err().unwrap();
    assert!(err.to_string().contains("1e-12"), "{err}");
    // at the smallest accepted ε the ranks are still right
    let r = sodeep::spec::parse("sinkhorn:eps=1e-12").unwrap();
    let x = Tensor::new(&[[3f32, 1.0, 2.0, 2.5, 0.1]], &Device::Cpu).unwrap();
    let got: Vec<f32> = r
        .rank(&x)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    for (g, w) in got.iter().zip([0.2f32, 0.8, 0.6, 0.4, 1.0]) {
        assert!((g - w).abs() < 2e-3, "{got:?}");
    }
}

#[cfg(feature = "train")]
#[test]
fn deeply_nested_pickles_are_refused_before_they_reach_the_stack() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.pth");
    // the layout of torch.save: a zip archive whose `archive/data.pkl` holds the pickle
    let mut pickle = vec![0x80u8, 2];
    pickle.extend(std::iter::repeat_n(b']', 200_000));
    pickle.extend(std::iter::repeat_n(b'a', 199_999));
    pickle.push(b'.');
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("archive/data.pkl", opts).unwrap();
    zip.write_all(&pickle).unwrap();
    zip.finish().unwrap();
    let err = sodeep::torch_import::read_torch_weights(&path).unwrap_err();
    assert!(err.to_string().contains("nests 200000 levels"), "{err}");
}

mod ranker_properties {
    use proptest::prelude::*;

    /// Scores of every scale: ordinary, huge, tiny and offset, with distinct values.
    fn scores() -> impl Strategy<Value = Vec<f32>> {
        let one = prop_oneof![
            -1e3f32..1e3,
            prop_oneof![1e20f32..1e30, -1e30f32..-1e20],
            prop_oneof![1e-30f32..1e-20, -1e-20f32..-1e-30],
            (0u32..1000).prop_map(|k| 1.0e7 + k as f32),
        ];
        proptest::collection::vec(one, 2..10).prop_filter("distinct scores", |v| {
            let mut s = v.clone();
            s.sort_by(f32::total_cmp);
            s.windows(2).all(|w| w[0] != w[1])
        })
    }

    use super::rank_row as ranks;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Finite, within [1/n, 1], and (sorting networks aside: their relaxed swaps depend on
        /// the input order by design) permutation-equivariant.
        ///
        /// This test found NeuralSort's ranks leaving [1/n, 1] when one score was 1e20 and the
        /// others hundreds; its logits now sum score gaps outward from each row's peak instead
        /// of subtracting `Σ_l |s_j − s_l|`.
        #[test]
        fn analytic_rankers_are_finite_in_range_and_equivariant(
            v in scores(),
            rot in 1usize..9,
        ) {
            let n = v.len();
            let perm: Vec<usize> = (0..n).map(|i| (i + rot) % n).collect();
            let pv: Vec<f32> = perm.iter().map(|&i| v[i]).collect();
            for spec in ["softrank", "softrank:reg=kl", "neuralsort", "softsort-perm", "sinkhorn",
                         "diffsort-oddeven", "diffsort-bitonic", "blackbox", "handcrafted"] {
                let r = ranks(spec, &v);
                for g in &r {
                    prop_assert!(g.is_finite(), "{spec} on {v:?}: {r:?}");
                    prop_assert!(*g >= 1.0 / n as f32 - 1e-4 && *g <= 1.0 + 1e-4,
                        "{spec} on {v:?}: {r:?}");
                }
                if !spec.starts_with("diffsort") {
                    let rp = ranks(spec, &pv);
                    for (k, &i) in perm.iter().enumerate() {
                        prop_assert!((rp[k] - r[i]).abs() < 1e-3, "{spec} on {v:?}: {r:?} vs {rp:?}");
                    }
                }
            }
        }

        /// Exact ranks depend on the order of the scores only.
        #[test]
        fn blackbox_ranks_ignore_increasing_maps(v in scores()) {
            let quarter: Vec<f32> = v.iter().map(|x| x * 0.25).collect();
            prop_assert_eq!(ranks("blackbox", &v), ranks("blackbox", &quarter));
        }
    }

    /// The documented tie rule: exact ranks break ties by index, the earlier first; the
    /// symmetric relaxations give tied scores equal ranks.
    #[test]
    fn ties_follow_the_documented_rule() {
        let exact = ranks("blackbox", &[5.0, 5.0, 5.0]);
        assert_eq!(exact, vec![1.0 / 3.0, 2.0 / 3.0, 1.0]);
        for spec in ["softrank", "neuralsort", "handcrafted", "any"] {
            let r = ranks(spec, &[2.0, 7.0, 2.0]);
            assert!((r[0] - r[2]).abs() < 1e-6, "{spec}: {r:?}");
        }
    }
}
