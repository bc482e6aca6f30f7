#!/bin/sh
# The committed cpu-budget results (docs/results/cpu/): every cell of Tables 3, 4, 18, 17, the
# field table and Table 7 at `--budget cpu`, run in the background at the lowest priority,
# resumable.
#
#   sh benchmarks/reproduce_cpu.sh start    # launch (or resume) detached; log in $OUT.log
#   sh benchmarks/reproduce_cpu.sh status   # cells by status, and the log's last lines
#   sh benchmarks/reproduce_cpu.sh stop     # SIGTERM to the runner: the running epoch stops,
#                                           # checkpoint.pt keeps the last finished one
#   sh benchmarks/reproduce_cpu.sh report   # write the tables from the cells done so far
#   sh benchmarks/reproduce_cpu.sh figures  # Figure 8 of the seed-0 runs (after start), in the
#                                           # foreground: first trains the vanilla, AugMix, PixMix
#                                           # and IPMix runs a new machine lacks (the ledger keeps
#                                           # no weights)
#
# Run it from a checkout that stays unchanged while the runs go on (e.g. a `git worktree`):
# every run records the commit it was trained with. OUT, DATA and PYTHON can be overridden.
# The cells done on earlier machines are in the ledger, docs/results/cpu/cells.json: they are
# not run again, and `report` adds the cells done under OUT to it (commit it with the tables).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/work/runs/reproduce-cpu}
DATA=${DATA:-/work/shared/data}
PYTHON=${PYTHON:-/work/main/.venv/bin/python}
TABLES_OUT=${TABLES_OUT:-$ROOT/docs/results/cpu}
LEDGER=${LEDGER:-$TABLES_OUT/cells.json}
run() { env PYTHONPATH="$ROOT/src" IPMIX_DATA="$DATA" "$PYTHON" -u -m ipmix reproduce "$@" --ledger "$LEDGER"; }

case "${1:-}" in
start)
    mkdir -p "$OUT"
    # Tables 3/4/18/17 and the field table first (one seed of vanilla, AugMix, IPMix; the
    # other methods; the extra seeds; the JSD rows), then Table 7's ablations.
    nohup setsid nice -n 19 sh -c "
        echo \$\$ > '$OUT/runner.pid'
        $(command -v env) PYTHONPATH='$ROOT/src' IPMIX_DATA='$DATA' '$PYTHON' -u -m ipmix reproduce 3 4 18 17 field --budget cpu --out '$OUT' --ledger '$LEDGER' --no-progress
        code=\$?; case \$code in 130|143) exit \$code ;; esac  # stopped: no Table 7 after it
        $(command -v env) PYTHONPATH='$ROOT/src' IPMIX_DATA='$DATA' '$PYTHON' -u -m ipmix reproduce 7 --budget cpu --out '$OUT' --ledger '$LEDGER' --no-progress
    " >> "$OUT.log" 2>&1 < /dev/null &
    echo "started; log: $OUT.log" ;;
status)
    run 3 4 18 17 field 7 --budget cpu --out "$OUT" --dry-run | tail -n 25
    tail -n 3 "$OUT.log" ;;
stop)
    # the shell's child python processes: the runner is the one whose parent is the shell
    pkill -TERM -P "$(cat "$OUT/runner.pid")" -f "ipmix reproduce" && echo "stopping" ;;
report)
    run 3 4 18 17 field 7 --budget cpu --out "$OUT" --report-only --tables-out "$TABLES_OUT" --no-progress ;;
figures)
    RUNS=$OUT/runs/cifar10-small-e15
    ipmix() { env PYTHONPATH="$ROOT/src" IPMIX_DATA="$DATA" nice -n 19 "$PYTHON" -u -m ipmix "$@"; }
    # the cells' own `ipmix train` commands (`ipmix reproduce ... --dry-run --commands`)
    for cell in "none:" "augmix:--no-jsd" "pixmix:--no-jsd" "ipmix-batched:--batched --no-jsd"; do
        name=${cell%%:*}; flags=${cell#*:}
        [ -f "$RUNS/$name/seed0/final.pt" ] || ipmix train --dataset cifar10 --model small \
            --aug "${name%-batched}" --epochs 15 --seed 0 $flags --no-progress --out "$RUNS/$name/seed0"
    done
    ipmix figures "$RUNS/none/seed0" "$RUNS/augmix/seed0" "$RUNS/pixmix/seed0" "$RUNS/ipmix-batched/seed0" \
        "$RUNS/augmax-norm-dubin-jsd/seed0" "$RUNS/prime-batched/seed0" "$RUNS/layermix/seed0" \
        --labels Vanilla,AugMix,PixMix,IPMix,AugMax,PRIME,LayerMix --n 1000 --seed 0 \
        --out "$TABLES_OUT/figure8" ;;
*)
    sed -n 2,19p "$0"; exit 2 ;;
esac
