module canary.dev/bench/target

go 1.26
