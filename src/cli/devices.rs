use std::process::ExitCode;

/// Prints every input device, default first, as `id<TAB>name`.
pub fn run() -> anyhow::Result<ExitCode> {
    let devices = livetag::capture::list_inputs();
    if devices.is_empty() {
        eprintln!("no input devices found (is a sound server running?)");
        return Ok(ExitCode::FAILURE);
    }
    for device in devices {
        let mark = if device.is_default { " (default)" } else { "" };
        println!("{}\t{}{mark}", device.id, device.name);
    }
    Ok(ExitCode::SUCCESS)
}
