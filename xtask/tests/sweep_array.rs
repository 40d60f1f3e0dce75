//! A sweep run as the tasks of a job array, by separate processes with the scheduler's
//! environment (SLURM_ARRAY_TASK_ID, HQ_TASK_ID), one point per task and three per task, one
//! task stopped by SIGTERM mid-training and rerun: the gathered table equals a one-process
//! sweep of the same grid byte for byte. (scripts/slurm_test.sh does the same through a real
//! SLURM.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const EXPERIMENT: &str = ebn_network::presets::smoke_toml();

// Points 4-7 (the second row of the first axis) train for many trials, so that SIGTERM finds
// point 4 training.
const SWEEP: &str = r#"
[sweep]
experiment = "experiment.toml"
replicates = 2
seed = 5
[[sweep.axis]]
params = ["network.n", "training.trials"]
values = [[16, 4], [20, 4000], [24, 4]]
[[sweep.axis]]
param = "network.sigma_v"
values = [0.0, 1e-3]
"#;

fn xtask() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    for var in
        ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_STEP", "HQ_TASK_ID", "SLURM_CPUS_PER_TASK"]
    {
        cmd.env_remove(var);
    }
    cmd
}

fn ok(out: std::io::Result<Output>) -> Output {
    let out = out.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ebn-sweep-array-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sweep(dir: &Path, out: &str, args: &[&str]) -> Command {
    let mut cmd = xtask();
    cmd.arg("sweep").arg(dir.join("sweep.toml")).arg("--out").arg(dir.join(out)).args(args);
    cmd
}

fn tables(dir: &Path, out: &str) -> (Vec<u8>, Vec<u8>) {
    let d = dir.join(out);
    (std::fs::read(d.join("sweep.csv")).unwrap(), std::fs::read(d.join("sweep.npz")).unwrap())
}

#[test]
fn array_tasks_equal_one_process_bit_for_bit() {
    let dir = temp_dir("main");
    std::fs::write(dir.join("experiment.toml"), EXPERIMENT).unwrap();
    // Points 4-7 (n = 20) train 4000 trials: too long to wait for in a test, so a shorter
    // grid replaces them below. Here: the SIGTERM path on point 4, alone in task 4.
    std::fs::write(dir.join("sweep.toml"), SWEEP).unwrap();
    let plan = ok(sweep(&dir, "a", &["--dry-run"]).output()).stdout;
    let plan = String::from_utf8(plan).unwrap();
    assert!(plan.contains(": 12 points") && plan.contains("12 tasks of 1 point"), "{plan}");
    let task4 = sweep(&dir, "a", &["--task-id", "--checkpoint-every", "0"])
        .env("SLURM_ARRAY_TASK_ID", "4")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let checkpoint = dir.join("a/points/000004.checkpoint.ebn");
    let start = Instant::now();
    while !checkpoint.exists() {
        assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint of point 4");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(Command::new("kill").args(["-TERM", &task4.id().to_string()]).status().unwrap().success());
    let out = task4.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains("interrupted by SIGTERM") && stderr.contains("000004.checkpoint.ebn holds trial"),
        "{stderr}"
    );
    let trial: usize = stderr.split("holds trial ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(trial > 0 && trial < 4000, "{stderr}");
    assert!(checkpoint.is_file() && !dir.join("a/points/000004.json").exists());

    // The same sweep with short trainings everywhere (points 4-7 at 6 trials); the checkpoint
    // above belongs to another configuration now, so it starts in a directory of its own.
    std::fs::write(dir.join("sweep.toml"), SWEEP.replace("[20, 4000]", "[20, 6]")).unwrap();
    ok(sweep(&dir, "local", &["--jobs", "2", "--quiet"]).output());

    // One point per task, as SLURM array tasks 0-11 (1-based ids with MIN = 1, as
    // `--array=1-12` gives them), point 4 stopped after its first trials and rerun.
    let mut task4 = sweep(&dir, "one", &["--task-id", "--checkpoint-every", "0"])
        .env("SLURM_ARRAY_TASK_ID", "5")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint = dir.join("one/points/000004.checkpoint.ebn");
    let start = Instant::now();
    let mut stopped = false;
    while task4.try_wait().unwrap().is_none() {
        if checkpoint.exists() {
            let _ = Command::new("kill").args(["-TERM", &task4.id().to_string()]).status();
            stopped = true;
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(2));
    }
    let first = task4.wait_with_output().unwrap();
    for id in 1..=12 {
        let out = ok(sweep(&dir, "one", &["--task-id"])
            .env("SLURM_ARRAY_TASK_ID", id.to_string())
            .env("SLURM_ARRAY_TASK_MIN", "1")
            .output());
        let log = String::from_utf8_lossy(&out.stderr);
        if id == 5 && stopped && first.status.code() == Some(143) {
            assert!(log.contains("point 4: resuming from") && log.contains("after trial"), "{log}");
        }
    }
    // Three points per task, as HyperQueue tasks 0-3, each run twice (the rerun skips).
    for id in 0..4 {
        for _ in 0..2 {
            ok(sweep(&dir, "packed", &["--task-id", "--tasks-per-job", "3"])
                .env("HQ_TASK_ID", id.to_string())
                .output());
        }
    }
    let rerun = ok(sweep(&dir, "packed", &["--task-id", "3", "--tasks-per-job", "3"]).output());
    assert!(String::from_utf8_lossy(&rerun.stdout).contains("\"skipped\":[9,10,11]"));
    for out in ["one", "packed"] {
        ok(sweep(&dir, out, &["--gather"]).output());
        assert!(tables(&dir, out) == tables(&dir, "local"), "{out} differs from the one-process sweep");
    }
    let csv = String::from_utf8(tables(&dir, "local").0).unwrap();
    assert_eq!(csv.lines().count(), 13, "{csv}");

    // Gathering an incomplete sweep lists what is missing and fails.
    std::fs::remove_file(dir.join("one/points/000007.json")).unwrap();
    let out = sweep(&dir, "one", &["--gather"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("1 of 12 points missing (7)") && err.contains("--array=7"), "{err}");
    // A changed sweep file never mixes with the results of the old one.
    std::fs::write(dir.join("sweep.toml"), SWEEP.replace("[20, 4000]", "[20, 7]")).unwrap();
    let out = sweep(&dir, "one", &["--gather"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("another sweep"), "{err}");
    let out = sweep(&dir, "one", &["--task-id", "0"]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("another sweep"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn emitted_sbatch_script() {
    let dir = temp_dir("sbatch");
    std::fs::write(dir.join("experiment.toml"), EXPERIMENT).unwrap();
    std::fs::write(dir.join("sweep.toml"), SWEEP).unwrap();
    let script = dir.join("sweep.sbatch");
    let out = ok(sweep(&dir, "out", &["--tasks-per-job", "5", "--emit-sbatch"])
        .arg(&script)
        .args([
            "--sbatch-time",
            "00:20:00",
            "--sbatch-mem",
            "500M",
            "--sbatch-cpus",
            "2",
            "--sbatch-option=--qos=short",
        ])
        .output());
    assert!(String::from_utf8_lossy(&out.stdout).contains("12 points in 3 array tasks"));
    let text = std::fs::read_to_string(&script).unwrap();
    for line in [
        "#SBATCH --array=0-2",
        "#SBATCH --time=00:20:00",
        "#SBATCH --mem=500M",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --qos=short",
        "#SBATCH --signal=B:TERM@60",
        "--tasks-per-job 5",
        "--task-id \"$SLURM_ARRAY_TASK_ID\"",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    assert!(dir.join("out/logs").is_dir());
    // The script's command runs as written (bash, with the array variable set).
    let out = ok(Command::new("bash")
        .arg(&script)
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env_remove("SLURM_CPUS_PER_TASK")
        .current_dir(&dir)
        .output());
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("\"task\":2") && report.contains("\"done\":[10,11]"), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `run` on SIGTERM: the checkpoint of the last finished trial, exit 143, and the rerun
/// resumes from it (and says so).
#[test]
fn run_checkpoints_on_sigterm_and_resumes() {
    let dir = temp_dir("run");
    let file = dir.join("long.toml");
    std::fs::write(&file, EXPERIMENT.replace("trials = 3", "trials = 100000")).unwrap();
    let out = dir.join("out");
    let child = xtask()
        .args(["run", "--checkpoint-every", "0", "--out"])
        .arg(&out)
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let checkpoint = out.join("checkpoint.ebn");
    let start = Instant::now();
    while !checkpoint.exists() {
        assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM") && stderr.contains("holds trial"), "{stderr}");
    let trial: usize = stderr.split("holds trial ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(trial > 0 && trial < 100_000, "{stderr}");
    let cp = ebn_network::Checkpoint::from_bytes(&std::fs::read(&checkpoint).unwrap()).unwrap();
    assert_eq!(cp.state.trials_done, trial);
    // The rerun resumes from that trial (stopped again at once: SIGINT this time).
    let child = xtask()
        .args(["run", "--checkpoint-every", "0", "--out"])
        .arg(&out)
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once it has written a checkpoint of its own, its handlers are installed.
    let written = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let before = written(&checkpoint);
    let start = Instant::now();
    while written(&checkpoint) == before {
        assert!(start.elapsed() < Duration::from_secs(120), "the rerun wrote no checkpoint");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(stderr.contains(&format!("after trial {trial}")), "{stderr}");
    assert_eq!(done.status.code(), Some(130), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
