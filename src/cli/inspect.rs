use std::path::PathBuf;
use std::process::ExitCode;

use super::ModelArgs;
use livetag::bundle::Bundle;
use livetag::dsp::input::InputKind;
use livetag::inference::profile::ModelCard;

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Bundle folder or installed bundle name.
    pub bundle: String,
    /// Run the bundle's reference audio through the whole pipeline and compare its scores.
    #[arg(long)]
    pub self_test: bool,
    /// ONNX Runtime execution provider for the self-test.
    #[arg(long, value_parser = super::limits::provider(), default_value_t = livetag::inference::DevicePreference::Auto)]
    pub provider: livetag::inference::DevicePreference,
}

pub fn run(args: &InspectArgs, ort_lib: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let path: PathBuf = livetag::bundle::catalog::resolve(Some(&args.bundle))?;
    let bundle = Bundle::load(&path)?;
    print_card(&bundle);
    let model_args = ModelArgs {
        model: Some(path.display().to_string()),
        provider: args.provider,
        threads: None,
    };
    // The compute figures need ONNX Runtime; without it the static card above still stands.
    let (bundle, mut runner) = match super::open_model(&model_args, ort_lib) {
        Ok(opened) => opened,
        Err(error) if !args.self_test => {
            println!(
                "  compute:     not measured: {}",
                livetag::error_chain(&*error)
            );
            return Ok(ExitCode::SUCCESS);
        }
        Err(error) => return Err(error),
    };
    let card = ModelCard::measure(
        &bundle,
        args.provider,
        runner.provider().to_string(),
        ort_lib,
    );
    // Parameters, precision and size are in the static card above, unless training counted
    // more parameters than the graph stores.
    let skip = if bundle.spec.model.trained_parameters.is_some() {
        0
    } else {
        3
    };
    for (field, value) in card.rows().into_iter().skip(skip) {
        println!("  {:<12} {value}", format!("{field}:"));
    }
    if !args.self_test {
        return Ok(ExitCode::SUCCESS);
    }
    let report = livetag::tagger::self_test(&bundle, &mut runner)?;
    let verdict = if report.passed() { "PASS" } else { "FAIL" };
    println!(
        "self-test: {verdict}: {} reference windows, max |score difference| {:.2e} (tolerance {:.0e}), provider {}",
        report.windows,
        report.max_abs_diff,
        report.tolerance,
        runner.provider()
    );
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_card(bundle: &Bundle) {
    let spec = &bundle.spec;
    let onnx = &bundle.onnx;
    let input = &bundle.input;
    println!("{} — {}", bundle.name(), spec.model.description);
    println!("  bundle:      {}", bundle.dir.display());
    println!(
        "  licence:     {} ({})",
        spec.model.licence, spec.model.licence_file
    );
    println!(
        "  model file:  {} ({:.2} MB), ONNX IR {}, opset {}, producer {}",
        spec.model.file,
        bundle.model_size_bytes as f64 / 1e6,
        onnx.ir_version,
        onnx.opset.map_or("?".to_string(), |v| v.to_string()),
        if onnx.producer.is_empty() {
            "?"
        } else {
            &onnx.producer
        },
    );
    let precision: Vec<String> = onnx
        .parameters_by_type
        .iter()
        .map(|(ty, n)| format!("{n} {ty}"))
        .collect();
    println!(
        "  parameters:  {} ({}), {} nodes",
        onnx.parameter_count,
        precision.join(", "),
        onnx.node_count
    );
    for (kind, tensors) in [("input: ", &onnx.inputs), ("output:", &onnx.outputs)] {
        for tensor in tensors {
            println!(
                "  {kind}      {} {} {}",
                tensor.name,
                tensor.element_type.name(),
                tensor.shape_string()
            );
        }
    }
    let unit = match &input.kind {
        InputKind::Features { n_bands, frontend } => {
            println!(
                "  front-end:   {} Hz, n_fft {}, hop {} samples, {} bands, steps: {}",
                input.sample_rate_hz,
                frontend.n_fft,
                frontend.hop_samples,
                n_bands,
                frontend
                    .steps
                    .iter()
                    .map(|step| step.op_name())
                    .collect::<Vec<_>>()
                    .join(" -> ")
            );
            "frames"
        }
        InputKind::Waveform { lead_in_samples } => {
            println!(
                "  waveform:    {} Hz, lead-in {lead_in_samples} samples",
                input.sample_rate_hz
            );
            "samples"
        }
    };
    let secs = |rows: usize| rows as f64 * input.seconds_per_row();
    println!(
        "  window:      {} {unit} ({:.3} s), hop {} ({:.3} s), minimum {} ({:.3} s), batch {}",
        input.window_rows,
        secs(input.window_rows),
        input.hop_rows,
        secs(input.hop_rows),
        input.min_rows,
        secs(input.min_rows),
        input.max_batch.map_or("any".to_string(), |b| b.to_string()),
    );
    let primary = bundle.primary_output();
    println!(
        "  scores:      `{}` ({:?}, {:?}, {:?})",
        primary.name, primary.kind, primary.values, primary.activation
    );
    let preview: Vec<&str> = bundle.labels.iter().take(8).map(String::as_str).collect();
    println!(
        "  labels:      {} ({}{})",
        bundle.labels.len(),
        preview.join(", "),
        if bundle.labels.len() > 8 { ", ..." } else { "" }
    );
    if spec.live.is_some() || input.max_rows > input.window_rows {
        let range = if input.min_rows < input.max_rows {
            format!(
                "; windows may be {:.3} to {:.3} s",
                secs(input.min_rows),
                secs(input.max_rows)
            )
        } else {
            String::new()
        };
        println!(
            "  live:        {:.3} s windows every {:.3} s by default{range}",
            secs(bundle.live_input(None).window_rows),
            bundle.live_hop_secs(None),
        );
    }
    if let Some(ontology) = bundle.hierarchy.ontology() {
        println!(
            "  ontology:    {} ({} classes; the labels' ids in {}); {}",
            ontology.name,
            ontology.nodes.len(),
            spec.ontology.as_ref().map_or("?", |o| o.ids.as_str()),
            ontology.attribution
        );
    }
    if !spec.state.is_empty() {
        let states: Vec<String> = spec
            .state
            .iter()
            .map(|s| format!("{} -> {} {:?}", s.output, s.input, s.shape))
            .collect();
        println!("  state:       {}", states.join("; "));
    }
    if let Some(reference) = &spec.reference {
        println!(
            "  reference:   {} -> {}",
            reference.audio, reference.expected
        );
    }
}
