//! Bad command lines and bad files: the CLI exits with a non-zero status and one line on
//! stderr that names the culprit (the option or field, and the value), never a backtrace.
//! docs/HARDENING.md ("Bad input everywhere", rows "CLI options" and "CLI files") lists these cases.

use std::process::Command;

fn xtask(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).env("RUST_BACKTRACE", "1").output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn rejects(args: &[&str], must_contain: &[&str]) {
    let (code, err) = xtask(args);
    assert_ne!(code, 0, "{args:?} succeeded");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: not one line:\n{err}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{args:?}: {err}");
    for s in must_contain {
        assert!(err.contains(s), "{args:?}: `{s}` missing from: {err}");
    }
}

#[test]
fn bad_options() {
    rejects(&["figures", "--jobs", "x"], &["--jobs", "'x'"]);
    rejects(&["figures", "--scale", "huge"], &["--scale", "huge", "paper, smoke"]);
    rejects(&["figures", "--only", "nope", "--scale", "smoke", "--quiet"], &["nope", "available"]);
    rejects(&["figure", "nope"], &["nope", "coding"]);
    rejects(&["figures", "--seed", "-1"], &["-1"]);
    rejects(&["sweep", "examples/linear.toml", "--seeds", "5-1"], &["5-1"]);
    rejects(&["sweep", "examples/linear.toml", "--seeds", "a"], &["'a'"]);
    rejects(&["sweep", "examples/linear.toml", "--jobs", "0"], &["--jobs", "0"]);
    rejects(&["sweep", "examples/linear.toml", "--param", "network.n"], &["--values"]);
    rejects(&["bench", "--cases", "nope"], &["nope", "fixed100"]);
    rejects(&["longrun", "examples/linear.toml", "--seconds", "0"], &["--seconds", "0"]);
    rejects(&["longrun", "examples/linear.toml", "--window", "abc"], &["--window", "abc"]);
    rejects(&["run", "examples/linear.toml", "--checkpoint-every", "nan"], &["--checkpoint-every", "nan"]);
    rejects(&["coding", "--duration", "x"], &["--duration"]);
    rejects(&["nonsense"], &["nonsense"]);
}

#[test]
fn bad_files() {
    let dir = std::env::temp_dir().join(format!("ebn-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).display().to_string();
    rejects(&["run", &path("missing.toml")], &["missing.toml"]);
    let base = std::fs::read_to_string("../examples/linear.toml").unwrap();
    for (name, from, to, expect) in [
        ("n0.toml", "n = 64", "n = 0", vec!["network.n", "0"]),
        ("mu.toml", "mu = 1.0173e-4", "mu = -1.0", vec!["network.mu", "-1"]),
        ("nan.toml", "feedback_gain = 5.0", "feedback_gain = nan", vec!["network.feedback_gain", "NaN"]),
        ("key.toml", "feedback_gain = 5.0", "feedback_gain = 5.0\nfeedbak = 1", vec!["line 17", "feedbak"]),
        ("kind.toml", "kind = \"damped_oscillator\"", "kind = \"nope\"", vec!["line", "nope"]),
        ("dur.toml", "duration = 3.0", "duration = 1e12", vec!["test[0].duration", "1e12"]),
        ("huge.toml", "n = 64", "n = 100000000000", vec!["network.n", "100000000000"]),
    ] {
        assert!(base.contains(from), "{from}");
        std::fs::write(dir.join(name), base.replacen(from, to, 1)).unwrap();
        rejects(&["check", &path(name)], &expect);
        rejects(&["run", &path(name), "--out", &path("out")], &expect);
    }
    // A damaged trained network.
    std::fs::write(dir.join("bad.toml"), "not toml [").unwrap();
    rejects(&["robustness", &path("bad.toml"), "--out", &path("rob")], &["bad.toml"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A network pinned at the one-spike-per-step limit is reported: eta = 10^12 on the linear
/// example fires in ~97 % of the steps; the run warns in one line per run part and lists the
/// warnings in summary.json, while the shipped example (~20 % of its steps) stays quiet.
#[test]
fn a_network_pinned_at_the_spike_cap_is_reported() {
    let dir = std::env::temp_dir().join(format!("ebn-capped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/linear.toml")).unwrap();
    let edit = |eta: &str| {
        example
            .lines()
            .map(|l| {
                if l.starts_with("rule =") {
                    format!("rule = {{ kind = \"local\", eta = {eta} }}")
                } else if l.starts_with("trials =") {
                    "trials = 3".to_string()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (eta, pinned) in [("1e12", true), ("10.0", false)] {
        let file = dir.join(format!("eta{eta}.toml"));
        std::fs::write(&file, edit(eta)).unwrap();
        let out_dir = dir.join(format!("out{eta}"));
        let (code, err) =
            xtask(&["run", file.to_str().unwrap(), "--out", out_dir.to_str().unwrap(), "--fresh", "--quiet"]);
        assert_eq!(code, 0, "{err}");
        let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap()).unwrap();
        let capped = summary["tests"]["driven"]["capped_fraction"].as_f64().unwrap();
        let listed = summary["warnings"].as_array().unwrap().len();
        if pinned {
            assert!(capped > 0.9, "capped fraction {capped}");
            assert_eq!(warnings.len(), 2, "training and test: {err}");
            assert!(warnings.iter().all(|w| w.contains("spike cap")), "{err}");
            assert_eq!(listed, 2);
        } else {
            assert!(capped < 0.5, "capped fraction {capped}");
            assert!(warnings.is_empty() && listed == 0, "{err}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
