"""livetag's Python side: everything that makes, checks or measures a livetag bundle.

Nothing here runs inside livetag; the Rust binary reads only what these modules write.

    common/     the cache rule, pinned wheel and crate fetches, reproducible WAVs, test clips
                and the one bundle.toml writer every converter and exporter uses
    convert/    released models (musicnn, silero VAD, YAMNet, BirdNET, CED) -> bundles
    export/     PyTorch architectures (PANNs, the DCASE seed systems) -> bundles, one module
                per architecture
    reference/  fixtures from the original frameworks, for livetag's parity tests
    bench/      the Python sides of tools/benchmarks.sh
    fixtures/   the small committed test models, clips and colour maps
    data/       label and key lists

Run a module from `tools/` (`python -m livetag_tools.export --arch Cnn14 ...`); docs/
ARCHITECTURE.md ("The Python side") says which command makes which bundle.
"""
