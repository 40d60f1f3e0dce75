#!/usr/bin/env bash
# A sweep run as a job array on a real SLURM: a single-node cluster on localhost (munged,
# slurmctld, slurmd) started here and stopped at the end, whatever happens.
#
#   1. an 8-point sweep file, submitted with the script `sweep --emit-sbatch` writes, one point
#      per array task; one task cancelled with `scancel` mid-training (it checkpoints on the
#      SIGTERM), then requeued (it resumes from the checkpoint: its log says so);
#   2. the same sweep packed three points per array task;
#   3. the same sweep in one process (`sweep` without --task-id);
#   then `--gather` on 1 and 2, and sweep.csv, sweep.npz and sweep.json of all three compared
#   byte for byte. Prints the overhead of each task beyond its training (start, load, write).
#
# Needs root and Debian's slurmctld, slurmd, slurm-client and munge (installed with apt-get if
# missing). Where it cannot install or start them, it says why and exits 0 (SKIPPED), so the
# rest of the suite still runs; everything else that fails is a failure.
# Configuration (checked on this kind of machine): SlurmUser=root, ProctrackType=
# proctrack/linuxproc and TaskPlugin=task/none (no cgroups to manage here).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
target="${CARGO_TARGET_DIR:-$root/target}"

skip() {
    echo "SLURM test SKIPPED: $*"
    exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root to install and start munged, slurmctld and slurmd"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || skip "SLURM is not installed and there is no apt-get"
    echo "installing slurmctld, slurmd, slurm-client and munge (apt-get)"
    if ! (DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            slurmctld slurmd slurm-client munge >/dev/null); then
        skip "apt-get could not install slurmctld, slurmd, slurm-client and munge"
    fi
fi

# The program under test: the debug build of `cargo test --workspace` (scripts/test.sh).
xtask="$target/debug/xtask"
if [ ! -x "$xtask" ]; then
    cargo build --workspace --all-targets --quiet
fi

work="$target/slurm-test"
rm -rf "$work"
mkdir -p "$work"/{etc,state,spool,log,run,munge}
export SLURM_CONF="$work/etc/slurm.conf"
host="$(hostname -s)"
cpus="$(nproc)"
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))

started=()
cleanup() {
    set +e
    if [ -f "$work/run/slurmctld.pid" ]; then
        scancel --quiet --full --user=root 2>/dev/null
    fi
    for pidfile in "$work/run/slurmd.pid" "$work/run/slurmctld.pid" "$work/munge/munged.pid"; do
        if [ -f "$pidfile" ]; then
            pid="$(cat "$pidfile")"
            kill "$pid" 2>/dev/null
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null
        fi
    done
    # Job steps left behind by a failure (slurmstepd and what it ran).
    pkill -f "slurmstepd" 2>/dev/null
    echo "SLURM daemons stopped"
}
trap cleanup EXIT

# munge: a key of our own and a socket of our own, so an installed munged is left alone.
key="$work/munge/munge.key"
dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
chmod 400 "$key"
socket="$work/munge/munge.socket"
munged --force --key-file="$key" --socket="$socket" --pid-file="$work/munge/munged.pid" \
    --log-file="$work/log/munged.log" --seed-file="$work/munge/munged.seed" \
    || skip "munged does not start ($(tail -n 3 "$work/log/munged.log" 2>/dev/null | tr '\n' ' '))"

cat >"$SLURM_CONF" <<EOF
ClusterName=ebntest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
JobRequeue=1
ReturnToService=2
KillWait=30
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/run/slurmctld.pid
SlurmdPidFile=$work/run/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

slurmctld -c || skip "slurmctld does not start ($(tail -n 3 "$work/log/slurmctld.log" | tr '\n' ' '))"
slurmd || skip "slurmd does not start ($(tail -n 3 "$work/log/slurmd.log" | tr '\n' ' '))"
for _ in $(seq 100); do
    state="$(sinfo -h -o %T 2>/dev/null || true)"
    [ "$state" = idle ] && break
    sleep 0.2
done
[ "$state" = idle ] || skip "the node did not become idle (state '$state'; $(tail -n 3 "$work/log/slurmd.log" | tr '\n' ' '))"
echo "SLURM $(sinfo --version | awk '{print $2}') up: node $host, $cpus CPUs, ${mem_mb} MB"

fail() {
    echo "SLURM test FAILED: $*"
    for f in "$work"/log/slurmctld.log "$work"/log/slurmd.log; do
        echo "--- last lines of $f"; tail -n 20 "$f"
    done
    exit 1
}

# The sweep: 8 points (2 x 2 x 2 replicates). Points 2 and 3 train long enough to be
# cancelled in the middle.
exp="$work/experiment.toml"
cat >"$exp" <<'EOF'
seed = 3
[target]
kind = "damped_oscillator"
[network]
n = 24
dim = 2
mu = 1.6e-3
nu = 3.2e-5
feedback_gain = 5.0
rule = { kind = "local", eta = 10.0 }
[training]
trials = 20
trial_duration = 0.5
command = { kind = "filtered_noise", amplitude = [600.0, 0.0] }
[[test]]
name = "driven"
duration = 1.0
command = { kind = "filtered_noise", amplitude = [600.0, 0.0] }
EOF
sweepfile="$work/sweep.toml"
cat >"$sweepfile" <<'EOF'
[sweep]
experiment = "experiment.toml"
replicates = 2
seed = 17
[[sweep.axis]]
param = "network.sigma_v"
values = [0.0, 1e-3]
[[sweep.axis]]
params = ["network.n", "training.trials"]
values = [[24, 20], [32, 2000]]
EOF
"$xtask" sweep "$sweepfile" --dry-run

wait_for_job() { # job id, timeout (s)
    local waited=0
    while [ -n "$(squeue -h -j "$1" -o %i 2>/dev/null)" ]; do
        sleep 1
        waited=$((waited + 1))
        [ "$waited" -lt "$2" ] || fail "job $1 still running after $2 s: $(squeue -h -j "$1")"
    done
}

# 1. One point per task; task 2 cancelled mid-training, then requeued.
one="$work/one"
"$xtask" sweep "$sweepfile" --out "$one" --checkpoint-every 0 --emit-sbatch "$work/one.sbatch" \
    --sbatch-time 00:10:00 --sbatch-mem 500M --sbatch-cpus 1
t0=$(date +%s.%N)
job=$(sbatch --parsable "$work/one.sbatch")
echo "submitted job array $job (8 tasks)"
checkpoint="$one/points/000002.checkpoint.ebn"
for _ in $(seq 600); do
    [ -f "$checkpoint" ] && break
    sleep 0.1
done
[ -f "$checkpoint" ] || fail "task 2 wrote no checkpoint within 60 s"
# Its first checkpoint is written after its first trial; 2000 trials of 0.5 s at N = 32 take
# about 3.4 s on a Zen 4 core after the step kernels of 2026-12-04 (docs/PERFORMANCE.md; 600
# trials and a 1 s wait let it finish before the cancel there), so cancel soon after the first
# checkpoint.
sleep 0.3
scancel "${job}_2"
for _ in $(seq 300); do
    grep -q "interrupted by SIGTERM" "$one/logs/${job}_2.log" 2>/dev/null && break
    sleep 0.1
done
grep -q "interrupted by SIGTERM" "$one/logs/${job}_2.log" || fail "task 2 did not report the SIGTERM: $(cat "$one/logs/${job}_2.log")"
[ ! -f "$one/points/000002.json" ] || fail "task 2 finished before it was cancelled: train it longer"
for _ in $(seq 100); do
    st="$(squeue -h -j "${job}_2" -o %T 2>/dev/null || true)"
    [ -z "$st" ] && break
    sleep 0.2
done
echo "task 2 cancelled: $(grep "interrupted" "$one/logs/${job}_2.log")"
if ! scontrol requeue "${job}_2" 2>"$work/requeue.err"; then
    fail "scontrol requeue ${job}_2: $(cat "$work/requeue.err")"
fi
# A requeued job becomes eligible only after a delay (BeginTime = now + 2 min in this
# version); start it now, as an administrator would on a test cluster.
scontrol update JobId="${job}_2" StartTime=now || fail "could not move the requeued task's start time"
echo "task 2 requeued"
wait_for_job "$job" 600
t1=$(date +%s.%N)
grep -q "point 2: resuming from .* after trial [1-9]" "$one/logs/${job}_2.log" \
    || fail "the requeued task 2 did not resume from its checkpoint: $(cat "$one/logs/${job}_2.log")"
echo "task 2 after its requeue: $(grep "point 2: resuming" "$one/logs/${job}_2.log")"

# 2. Three points per task.
packed="$work/packed"
"$xtask" sweep "$sweepfile" --out "$packed" --tasks-per-job 3 --emit-sbatch "$work/packed.sbatch" \
    --sbatch-time 00:10:00 --sbatch-mem 500M --sbatch-cpus 1
job2=$(sbatch --parsable "$work/packed.sbatch")
echo "submitted job array $job2 (3 tasks of up to 3 points)"
wait_for_job "$job2" 600

# 3. One process.
local="$work/local"
t2=$(date +%s.%N)
"$xtask" sweep "$sweepfile" --out "$local" --jobs "$cpus" --quiet >/dev/null
t3=$(date +%s.%N)

"$xtask" sweep "$sweepfile" --out "$one" --gather >/dev/null || fail "gathering the one-point tasks"
"$xtask" sweep "$sweepfile" --out "$packed" --tasks-per-job 3 --gather >/dev/null || fail "gathering the packed tasks"
for f in sweep.csv sweep.npz sweep.json; do
    cmp "$one/$f" "$local/$f" || fail "$f: one point per task differs from one process"
    cmp "$packed/$f" "$local/$f" || fail "$f: three points per task differs from one process"
done
echo "gathered results identical byte for byte (sweep.csv, sweep.npz, sweep.json): 1 point per task (with a cancelled and requeued task), 3 per task, one process"

# Overhead per task: the task's wall time minus its training and tests, from its own log.
echo "overhead per task beyond training and tests (start, load, write), seconds:"
grep -ho "start, load and write [0-9.]* s" "$one"/logs/*.log "$packed"/logs/*.log \
    | awk '{print $5}' | sort -n | awk '{a[NR]=$1} END {printf "  %d tasks: min %s, median %s, max %s\n", NR, a[1], a[int((NR+1)/2)], a[NR]}'
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v n="$cpus" 'BEGIN {
    printf "wall: the array of 8 tasks with a cancel and a requeue %.1f s; one process on %d threads %.1f s\n", b - a, n, d - c }'
echo "SLURM test PASSED"
