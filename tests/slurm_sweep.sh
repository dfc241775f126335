#!/usr/bin/env bash
# A sweep through a real Slurm (docs/cluster.md): starts munged, slurmctld and slurmd on this machine from
# Debian's packages (slurm-wlm, munge; `scripts/setup --slurm` installs them) with a key, a slurm.conf and
# state folders generated in a temporary folder, runs a 4-point sweep through sbatch, resubmits it after
# losing one point (only that point runs again), collects it, and checks that its numbers equal a local
# sweep's with the same seeds. Stops the daemons on exit. Exits 77, which CTest reports as skipped, with the
# reason when Slurm is not installed or does not start here.
#   tests/slurm_sweep.sh GRADGRAD SOURCE_DIR
set -euo pipefail
gradgrad=$1
source_dir=$2

skip() { echo "Slurm test skipped: $*"; exit 77; }
for tool in munged munge slurmctld slurmd sbatch squeue sinfo; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/setup --slurm installs slurm-wlm and munge)"
done

work=$(mktemp -d /tmp/gg-slurm.XXXXXX)
chmod 700 "$work"
stop() {
  for daemon in slurmd slurmctld munged; do
    [[ -f $work/$daemon.pid ]] && kill "$(cat "$work/$daemon.pid")" 2>/dev/null || true
  done
  sleep 1
  rm -rf "$work"
}
trap stop EXIT

# munge authenticates Slurm's messages; this one has its own key and socket, apart from any system munged.
dd if=/dev/urandom of="$work/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge.key"
munged --force --key-file="$work/munge.key" --socket="$work/munge.sock" --pid-file="$work/munged.pid" \
  --log-file="$work/munged.log" --seed-file="$work/munge.seed" || skip "munged does not start: $(tail -n 3 "$work/munged.log")"

# One node: this machine as slurmd describes it, in one partition; no cgroups, accounting or MPI.
mkdir -p "$work/state" "$work/spool"
port=$((20000 + RANDOM % 20000))
cat > "$work/slurm.conf" <<CONF
ClusterName=gradgrad-test
SlurmctldHost=$(hostname)(127.0.0.1)
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge.sock
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
$(slurmd -C | head -n 1) NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$work/slurm.conf
slurmctld -c || skip "slurmctld does not start: $(tail -n 3 "$work/slurmctld.log" 2>/dev/null)"
slurmd || skip "slurmd does not start: $(tail -n 3 "$work/slurmd.log" 2>/dev/null)"
for _ in $(seq 60); do
  [[ $(sinfo -h -o %t 2>/dev/null) == idle ]] && break
  sleep 0.5
done
[[ $(sinfo -h -o %t 2>/dev/null) == idle ]] ||
  skip "the node did not come up: $(tail -n 3 "$work/slurmctld.log" "$work/slurmd.log" 2>/dev/null)"
echo "Slurm is up: $(sinfo -h -o '%P %D node(s) %c CPUs %t')"

# Waits for Slurm job $1 to leave the queue, for at most $2 seconds.
wait_for_job() {
  for _ in $(seq $(($2 * 2))); do
    [[ -z $(squeue -h -j "$1" 2>/dev/null) ]] && return 0
    sleep 0.5
  done
  echo "FAIL: job $1 still queued after $2 s"; squeue; exit 1
}
# Submits the sweep in folder $1 and prints sbatch's job id.
submit() {
  "$gradgrad" sweep --config "$source_dir/configs/two_moons/main.json" --out "$1" --set data.n=256 \
    --set data.test_n=128 --set training.epochs=2 --set training.batch_size=64 --k 1,2,3,4 --starts 16 \
    --max-iters 200 --slurm --cpus-per-task 1 --time 00:05:00 | tee /dev/stderr | sed -n 's/.*: job \([0-9]*\),.*/\1/p'
}

sweep=$work/slurm-sweep
job=$(submit "$sweep")
[[ -n $job ]] || { echo "FAIL: no job id from sweep --slurm"; exit 1; }
wait_for_job "$job" 300
for k in 1 2 3 4; do
  [[ -f $sweep/k_$k/sweep_point.json ]] || { echo "FAIL: point k=$k did not finish"; cat "$sweep"/slurm/*; exit 1; }
done
grep -q -- "--array=0,1,2,3" "$sweep/sweep.sbatch" || { echo "FAIL: the array is not every point"; exit 1; }

# A lost point is the only one a resubmission runs; a complete sweep submits nothing.
rm "$sweep/k_3/sweep_point.json"
job=$(submit "$sweep")
grep -q -- "--array=2$" "$sweep/sweep.sbatch" || { echo "FAIL: resubmitted more than the lost point"; exit 1; }
wait_for_job "$job" 300
again=$("$gradgrad" sweep --config "$source_dir/configs/two_moons/main.json" --out "$sweep" --set data.n=256 \
  --set data.test_n=128 --set training.epochs=2 --set training.batch_size=64 --k 1,2,3,4 --starts 16 \
  --max-iters 200 --slurm --cpus-per-task 1)
[[ $again == *"nothing to submit"* ]] || { echo "FAIL: a finished sweep was submitted again: $again"; exit 1; }

"$gradgrad" sweep --collect "$sweep"
"$gradgrad" --threads 1 sweep --config "$source_dir/configs/two_moons/main.json" --out "$work/local-sweep" \
  --set data.n=256 --set data.test_n=128 --set training.epochs=2 --set training.batch_size=64 --k 1,2,3,4 \
  --starts 16 --max-iters 200

# The same numbers, wall times aside.
python3 - "$sweep/sweep.csv" "$work/local-sweep/sweep.csv" <<'PY'
import csv, sys
def rows(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in csv.DictReader(f)]
slurm, local = rows(sys.argv[1]), rows(sys.argv[2])
assert len(slurm) == 4, f"{len(slurm)} rows in the Slurm sweep"
for a, b in zip(slurm, local):
    assert a == b, f"the Slurm sweep differs from the local one:\n{a}\n{b}"
print(f"the Slurm sweep's {len(slurm)} points equal the local sweep's ({len(slurm[0])} columns each)")
PY
