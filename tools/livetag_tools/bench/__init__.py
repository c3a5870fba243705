"""The Python sides of tools/benchmarks.sh: what livetag is measured against, and the
tools that say where its time goes."""
