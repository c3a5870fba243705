"""PyTorch architectures -> livetag bundles, each checked against PyTorch (ONNX Runtime parity).

    python -m livetag_tools.export --list
    python -m livetag_tools.export --arch all --random-weights --reference --out ../target/exports

`__main__` is the runner, `registry` lists the architectures (one module each, under
`panns/` and `dcase/`), `common` is what every exporter shares (the registry interface,
provenance, ONNX export, parity, reference files).
"""
