#!/bin/sh
# callgrind_slope.sh - instructions per resolve of one workload, from a callgrind slope.
#
#   bench/callgrind_slope.sh BENCH_RESOLVE w1|w2 [N1 N2]
#
# Runs `BENCH_RESOLVE --only W --requests N` under valgrind's callgrind for N1 and N2
# resolves (default 2000 and 4000) and prints (I(N2) - I(N1)) / (N2 - N1): the set-up,
# the same in both runs, cancels. bench_resolve prints the same figure itself.
set -eu
bin=${1:?usage: callgrind_slope.sh BENCH_RESOLVE w1|w2 [N1 N2]}
which=${2:?usage: callgrind_slope.sh BENCH_RESOLVE w1|w2 [N1 N2]}
n1=${3:-2000}
n2=${4:-4000}
ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --only "$which" \
        --requests "$1" 2>&1 >/dev/null | sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
a=$(ir "$n1")
b=$(ir "$n2")
echo "$which: $(( (b - a) / (n2 - n1) )) instructions per resolve ($n1: $a, $n2: $b)"
