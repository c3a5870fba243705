//! Sound devices through cpal: listing inputs, opening a microphone, and the default output
//! for demo mode.

use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{
    BufferSize, FromSample, SampleFormat, SizedSample, StreamConfig, SupportedBufferSize,
    SupportedStreamConfig,
};

use std::sync::Arc;

use super::ring::{capture_ring, CaptureReader, CaptureWriter};
use super::CaptureCounters;
use super::{
    checked_audio_callback, CaptureError, LiveSource, SourceControl, SourceInfo, SourceKind,
    RING_SECONDS,
};

/// About 10 ms per callback. A host's default buffer took 1-2 s to start through
/// PulseAudio; a fixed one starts in ~15 ms.
const CALLBACK_SECONDS: f64 = 0.01;

/// An input device as the user picks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDeviceInfo {
    /// Stable id, `host:device` (cpal's `DeviceId`).
    pub id: String,
    pub name: String,
    pub host: String,
    pub is_default: bool,
}

/// Every input device of every host, default devices first.
pub fn list_inputs() -> Vec<InputDeviceInfo> {
    let mut found = Vec::new();
    for host_id in cpal::available_hosts() {
        let Ok(host) = cpal::host_from_id(host_id) else {
            continue;
        };
        let default_id = host.default_input_device().and_then(|d| d.id().ok());
        let Ok(devices) = host.input_devices() else {
            continue;
        };
        for device in devices {
            let Ok(id) = device.id() else { continue };
            let name = device
                .description()
                .map(|d| d.name().to_string())
                .unwrap_or_else(|_| id.id().to_string());
            found.push(InputDeviceInfo {
                is_default: default_id.as_ref() == Some(&id),
                id: id.to_string(),
                name,
                host: host_id.to_string(),
            });
        }
    }
    found.sort_by_key(|d| !d.is_default);
    found
}

/// The devices `query` names, best first: an exact id, else every device whose id or name
/// contains it (case-insensitive). `None` means each host's default input, in host order:
/// a host's default can exist and still fail to open (ALSA's with no card, say).
fn find_inputs(query: Option<&str>) -> Result<Vec<InputDeviceInfo>, CaptureError> {
    let known = list_inputs();
    let picked: Vec<InputDeviceInfo> = match query {
        None => known.iter().filter(|d| d.is_default).cloned().collect(),
        Some(query) => {
            let wanted = query.to_lowercase();
            match known.iter().find(|d| d.id == query) {
                Some(exact) => vec![exact.clone()],
                None => known
                    .iter()
                    .filter(|d| {
                        d.id.to_lowercase().contains(&wanted)
                            || d.name.to_lowercase().contains(&wanted)
                    })
                    .cloned()
                    .collect(),
            }
        }
    };
    match (picked.is_empty(), query) {
        (false, _) => Ok(picked),
        (true, None) => Err(CaptureError::NoInputDevice),
        (true, Some(query)) => Err(CaptureError::DeviceNotFound {
            query: query.to_string(),
            known: known.into_iter().map(|d| d.id).collect(),
        }),
    }
}

fn resolve(info: &InputDeviceInfo) -> Result<cpal::Device, cpal::Error> {
    let id: cpal::DeviceId = info.id.parse()?;
    let host = cpal::host_from_id(id.host())?;
    // Listed a moment ago, gone now (unplugged between listing and opening).
    host.device_by_id(&id).ok_or_else(|| {
        cpal::Error::with_message(
            cpal::ErrorKind::DeviceNotAvailable,
            "the device is no longer listed by its host",
        )
    })
}

/// A small fixed buffer when the device allows one.
pub(super) fn stream_config(supported: &SupportedStreamConfig) -> StreamConfig {
    let wanted = (supported.sample_rate() as f64 * CALLBACK_SECONDS).round() as u32;
    let buffer_size = match supported.buffer_size() {
        SupportedBufferSize::Range { min, max } => BufferSize::Fixed(wanted.clamp(*min, *max)),
        SupportedBufferSize::Unknown => BufferSize::Fixed(wanted),
    };
    StreamConfig {
        channels: supported.channels(),
        sample_rate: supported.sample_rate(),
        buffer_size,
    }
}

/// Opens a microphone (`query` as in [`find_inputs`]) and starts capturing. Candidates
/// are tried in order; the error names the last failure.
pub fn open_input(query: Option<&str>) -> Result<LiveSource, CaptureError> {
    let mut last_error = CaptureError::NoInputDevice;
    for info in find_inputs(query)? {
        match resolve(&info).and_then(|device| start_input(&device)) {
            Ok((stream, reader, counters, config)) => {
                return Ok(LiveSource {
                    reader,
                    counters,
                    info: SourceInfo {
                        kind: SourceKind::Microphone,
                        label: info.id,
                        sample_rate_hz: config.sample_rate,
                        channels: config.channels,
                    },
                    control: SourceControl::Device(stream),
                })
            }
            Err(source) => {
                last_error = CaptureError::Open {
                    device: info.id,
                    source,
                }
            }
        }
    }
    Err(last_error)
}

type StartedInput = (
    cpal::Stream,
    CaptureReader,
    Arc<CaptureCounters>,
    StreamConfig,
);

fn start_input(device: &cpal::Device) -> Result<StartedInput, cpal::Error> {
    let supported = device.default_input_config()?;
    let fixed = stream_config(&supported);
    let format = supported.sample_format();
    let attempt = |config: StreamConfig| {
        let (writer, reader) = capture_ring(config.sample_rate, RING_SECONDS);
        let counters = writer.counters().clone();
        build_input(device, config, format, writer).map(|stream| (stream, reader, counters, config))
    };
    // Some hosts refuse a fixed size they advertised; their default buffer is slower to
    // start but works.
    let started = attempt(fixed).or_else(|_| {
        attempt(StreamConfig {
            buffer_size: BufferSize::Default,
            ..fixed
        })
    })?;
    started.0.play()?;
    Ok(started)
}

fn build_input(
    device: &cpal::Device,
    config: StreamConfig,
    format: SampleFormat,
    writer: CaptureWriter,
) -> Result<cpal::Stream, cpal::Error> {
    match format {
        SampleFormat::F32 => build_typed_input::<f32>(device, config, writer),
        SampleFormat::I16 => build_typed_input::<i16>(device, config, writer),
        SampleFormat::I32 => build_typed_input::<i32>(device, config, writer),
        SampleFormat::U16 => build_typed_input::<u16>(device, config, writer),
        SampleFormat::U8 => build_typed_input::<u8>(device, config, writer),
        SampleFormat::F64 => build_typed_input::<f64>(device, config, writer),
        other => Err(unsupported_format(other)),
    }
}

/// A sample format cpal knows and livetag does not convert (I24, U32, ...).
pub(super) fn unsupported_format(format: SampleFormat) -> cpal::Error {
    cpal::Error::with_message(
        cpal::ErrorKind::UnsupportedConfig,
        format!("sample format {format} is not supported"),
    )
}

fn build_typed_input<T>(
    device: &cpal::Device,
    config: StreamConfig,
    writer: CaptureWriter,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + Send + 'static,
    f32: FromSample<T>,
{
    let counters = writer.counters().clone();
    device.build_input_stream::<T, _, _>(
        config,
        input_callback::<T>(writer, config.channels as usize),
        super::stream_error_callback(counters),
        None,
    )
}

/// The data callback of an input stream of `channels` interleaved channels, exactly as
/// cpal gets it. Public only so that `tests/realtime.rs` can run this very closure under
/// the allocation check with the buffers a host delivers.
#[doc(hidden)]
pub fn input_callback<T>(
    mut writer: CaptureWriter,
    channels: usize,
) -> impl FnMut(&[T], &cpal::InputCallbackInfo) + Send + 'static
where
    T: SizedSample + Send + 'static,
    f32: FromSample<T>,
{
    let counters = writer.counters().clone();
    move |data: &[T], info: &cpal::InputCallbackInfo| {
        checked_audio_callback(&counters, || {
            let stamp = info.timestamp();
            let latency = stamp.callback.duration_since(stamp.capture);
            writer.write_interleaved(data, channels, latency, Duration::ZERO);
        })
    }
}

/// The default output device and its preferred configuration, if there is one.
pub(super) fn default_output() -> Option<(cpal::Device, SupportedStreamConfig)> {
    let device = cpal::default_host().default_output_device()?;
    let config = device.default_output_config().ok()?;
    Some((device, config))
}
