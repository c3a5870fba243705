use std::process::ExitCode;

use crate::bundle::catalog;

pub fn run() -> anyhow::Result<ExitCode> {
    let found = catalog::list();
    if found.is_empty() {
        println!(
            "No model bundles found. Searched: {}",
            catalog::search_dirs()
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(ExitCode::SUCCESS);
    }
    for (path, loaded) in found {
        match loaded {
            Ok(bundle) => {
                let input = &bundle.input;
                let default = if bundle.name() == catalog::DEFAULT_MODEL {
                    " (default)"
                } else {
                    ""
                };
                println!(
                    "{}{default}\n  path: {}\n  {} classes, {} Hz, window {:.2} s, licence {}\n  {}",
                    bundle.name(),
                    path.display(),
                    bundle.labels.len(),
                    input.sample_rate_hz,
                    input.window_rows as f64 * input.seconds_per_row(),
                    bundle.spec.model.licence,
                    bundle.spec.model.description,
                );
            }
            Err(error) => println!("{} (broken)\n  {error}", path.display()),
        }
    }
    Ok(ExitCode::SUCCESS)
}
