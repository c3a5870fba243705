//! File audio input: decode common formats to mono `f32` and resample offline.
//!
//! The pipeline is `decode_file` (symphonia: wav, flac, ogg/vorbis, mp3) which mixes
//! every channel down to mono, followed by `resample` (rubato's FFT synchronous
//! resampler) to the model's rate. `load_mono` does both.
//!
//! `load_mono` is whole-file, for callers that want the samples in memory. Files of any
//! length go through [`MonoReader`] instead: the same decoding, mix and resampling, chunk by
//! chunk ([`FileDecoder`], [`FileResampler`]), in bounded memory and with exactly the
//! samples `load_mono` would give.

mod decode;
mod resample;

use std::io;
use std::path::{Path, PathBuf};

pub use decode::{decode_file, FileDecoder};
pub use resample::{resample, FileResampler, StreamResampler, MAX_RATE_HZ, MIN_RATE_HZ};

/// Everything that can go wrong while loading or resampling audio.
///
/// Variants that concern a file carry its path so that the `Display` message alone
/// tells a user which file to look at.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened (missing, permissions, a directory...).
    #[error("cannot open audio file {}", path.display())]
    Open {
        /// The file that was asked for.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },

    /// An I/O error other than a premature end of file happened while reading.
    #[error("cannot read audio file {}", path.display())]
    Read {
        /// The file being read.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },

    /// The container or codec is not one this build can decode.
    #[error("unsupported audio file {}", path.display())]
    Unsupported {
        /// The file being decoded.
        path: PathBuf,
        /// What was not supported: the decoder's error, or livetag's own rule.
        source: DecodeProblem,
    },

    /// The file is recognised but its contents are malformed.
    #[error("corrupt audio file {}", path.display())]
    Corrupt {
        /// The file being decoded.
        path: PathBuf,
        /// What was wrong: the decoder's error, or livetag's own finding.
        source: DecodeProblem,
    },

    /// The container holds no audio track at all.
    #[error("no audio track in {}", path.display())]
    NoAudioTrack {
        /// The file being decoded.
        path: PathBuf,
    },

    /// The path is not a regular file (a named pipe, a device, a socket). Refused before
    /// it is opened for reading: opening a pipe nobody writes to would wait forever, and a
    /// device such as `/dev/zero` never ends. (A directory is [`AudioError::Open`] with
    /// `io::ErrorKind::IsADirectory`.)
    #[error("cannot open audio file {}: not a regular file ({kind})", path.display())]
    NotRegularFile {
        /// The path that was asked for.
        path: PathBuf,
        /// What it is instead, e.g. "a named pipe".
        kind: &'static str,
    },

    /// The decoded audio contains NaN or infinite samples (possible in float wavs).
    #[error(
        "bad audio in {}: {count} non-finite (NaN or infinite) samples, the first at {first_secs:.3} s",
        path.display()
    )]
    NonFinite {
        /// The file being decoded.
        path: PathBuf,
        /// How many source samples (counted per channel) were not finite.
        count: usize,
        /// Time of the first one, in seconds from the start.
        first_secs: f64,
    },

    /// The decoded audio holds samples far outside the nominal `[-1, 1]`
    /// (beyond [`MAX_SAMPLE_MAGNITUDE`]): garbage, not sound.
    #[error(
        "bad audio in {}: {count} samples beyond ±{MAX_SAMPLE_MAGNITUDE} (full scale is 1), the first at {first_secs:.3} s ({first_value:e})",
        path.display()
    )]
    OutOfRange {
        /// The file being decoded.
        path: PathBuf,
        /// How many source samples (counted per channel) were out of range.
        count: usize,
        /// Time of the first one, in seconds from the start.
        first_secs: f64,
        /// Its value.
        first_value: f32,
    },

    /// The file is zero bytes long or decodes to zero samples.
    #[error("no audio samples in {}", path.display())]
    Empty {
        /// The file being decoded.
        path: PathBuf,
    },

    /// Resampling could not be set up or failed.
    #[error(
        "cannot resample{}",
        path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default()
    )]
    Resample {
        /// The file whose audio was being resampled, when there is one.
        path: Option<PathBuf>,
        /// Why resampling failed.
        source: ResampleProblem,
    },
}

/// Why a file cannot be decoded ([`AudioError::Unsupported`], [`AudioError::Corrupt`]):
/// what the decoder said, or what livetag found.
#[derive(Debug, thiserror::Error)]
pub enum DecodeProblem {
    /// The decoder's own error (probing, decoder creation, the stream).
    #[error(transparent)]
    Decoder(symphonia::core::errors::Error),
    #[error("file ends before its first complete audio packet")]
    TruncatedBeforeAudio,
    /// Too many packets failed to decode; the source is the last failure.
    #[error("more than {max} undecodable packets")]
    TooManyBadPackets {
        max: usize,
        #[source]
        last: symphonia::core::errors::Error,
    },
    /// Packets failed and none decoded; the source is the last failure.
    #[error("no packet could be decoded")]
    NoPacketDecoded {
        #[source]
        last: symphonia::core::errors::Error,
    },
    /// The decoder library panicked (on some malformed headers it does).
    #[error("the decoder failed on malformed data")]
    DecoderPanicked,
    #[error("audio track has an unknown codec")]
    UnknownCodec,
    #[error("unsupported channel count {0}")]
    ChannelCount(usize),
    #[error("sample rate or channel count changes mid-stream")]
    FormatChange,
    /// Chained streams (e.g. concatenated Ogg files) would need a new decoder part-way.
    #[error("stream layout changes mid-file (chained stream)")]
    ChainedStream,
}

/// Why audio cannot be resampled ([`AudioError::Resample`]).
#[derive(Debug, thiserror::Error)]
pub enum ResampleProblem {
    #[error("sample rate {0} Hz outside supported {MIN_RATE_HZ}..={MAX_RATE_HZ} Hz")]
    RateOutOfRange(u32),
    #[error("signal too long to resample")]
    TooLong,
    #[error("nothing to resample: both rates are {0} Hz")]
    SameRate(u32),
    #[error("resampler produced {produced} frames, expected {expected}")]
    ShortOutput { produced: usize, expected: usize },
    #[error(transparent)]
    Construction(#[from] rubato::ResamplerConstructionError),
    #[error(transparent)]
    Process(#[from] rubato::ResampleError),
    /// A buffer handed to rubato does not have the size it needs.
    #[error(transparent)]
    Buffer(#[from] rubato::audioadapter_buffers::SizeError),
}

/// The largest sample magnitude a decoded file may hold: 1000, 60 dB above full scale.
/// Float files may go past 1.0 (unclipped mixes), but no recording goes 60 dB over; much
/// larger values are garbage, and from about 1e19 up squaring them for a power spectrum
/// overflows `f32`, so they came out as "inference failed ... NaN" instead of bad audio.
pub const MAX_SAMPLE_MAGNITUDE: f32 = 1000.0;

/// What a path is when it is not a regular file, or `None` when it is one.
pub fn irregular_file_kind(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        return None;
    }
    if file_type.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Some("a named pipe");
        }
        if file_type.is_char_device() {
            return Some("a character device");
        }
        if file_type.is_block_device() {
            return Some("a block device");
        }
        if file_type.is_socket() {
            return Some("a socket");
        }
    }
    Some("neither a file nor a directory")
}

/// A decoded file, mixed down to mono.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedAudio {
    /// Mono samples, nominally in `[-1.0, 1.0]`, the average of all source channels.
    pub samples: Vec<f32>,
    /// Sample rate of `samples` (the file's own rate; nothing is resampled here).
    pub sample_rate_hz: u32,
    /// Number of channels in the source file before the mono mix.
    pub channels: u16,
}

impl DecodedAudio {
    /// Duration of the decoded audio in seconds.
    pub fn duration_s(&self) -> f64 {
        if self.sample_rate_hz == 0 {
            return 0.0;
        }
        self.samples.len() as f64 / f64::from(self.sample_rate_hz)
    }
}

/// Decodes `path` to mono and resamples it to `target_rate_hz` when the file's rate differs.
///
/// The target rate is checked before decoding so a bad configuration fails fast instead of
/// after decoding a long file.
pub fn load_mono(path: &Path, target_rate_hz: u32) -> Result<Vec<f32>, AudioError> {
    resample::check_rate(target_rate_hz).map_err(|source| AudioError::Resample {
        path: Some(path.to_path_buf()),
        source,
    })?;
    let decoded = decode_file(path)?;
    if decoded.sample_rate_hz == target_rate_hz {
        return Ok(decoded.samples);
    }
    resample(&decoded.samples, decoded.sample_rate_hz, target_rate_hz).map_err(|err| match err {
        AudioError::Resample { path: None, source } => AudioError::Resample {
            path: Some(path.to_path_buf()),
            source,
        },
        other => other,
    })
}

/// Source frames decoded per chunk by [`MonoReader`] (about 1.4 s at 48 kHz).
const READER_CHUNK_FRAMES: usize = 1 << 16;

/// A file decoded, mixed to mono and resampled to a target rate chunk by chunk: the
/// samples [`load_mono`] gives, in pieces, in memory that does not grow with the file.
/// Bad samples are checked per chunk, so a file with NaN at 1:40:00 fails there, naming
/// the file and the time (the count is of the bad samples decoded so far).
pub struct MonoReader {
    path: PathBuf,
    decoder: FileDecoder,
    target_rate_hz: u32,
    resampler: Option<FileResampler>,
    out: Vec<f32>,
    finished: bool,
}

impl MonoReader {
    /// Opens `path`; the target rate is checked first, as in [`load_mono`].
    pub fn open(path: &Path, target_rate_hz: u32) -> Result<Self, AudioError> {
        resample::check_rate(target_rate_hz).map_err(|source| AudioError::Resample {
            path: Some(path.to_path_buf()),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            decoder: FileDecoder::open(path)?,
            target_rate_hz,
            resampler: None,
            out: Vec::new(),
            finished: false,
        })
    }

    /// Source frames the header announces (a hint, for progress), and the source rate
    /// it announces.
    pub fn frames_hint(&self) -> (Option<u64>, Option<u32>) {
        (self.decoder.frames_hint(), self.decoder.rate_hint())
    }

    /// Source frames decoded so far.
    pub fn frames_decoded(&self) -> u64 {
        self.decoder.frames_decoded()
    }

    /// The next samples at the target rate (possibly none), or `None` once the file is done.
    pub fn next_chunk(&mut self) -> Result<Option<&[f32]>, AudioError> {
        if self.finished {
            return Ok(None);
        }
        self.out.clear();
        let with_path = |err: AudioError, path: &Path| match err {
            AudioError::Resample { path: None, source } => AudioError::Resample {
                path: Some(path.to_path_buf()),
                source,
            },
            other => other,
        };
        let more = self.decoder.next_chunk(READER_CHUNK_FRAMES)?.is_some();
        if more {
            // Checked before the samples go on: bad audio fails at the chunk that has it.
            self.decoder.check_samples()?;
            let chunk = self.decoder.chunk();
            let source_rate_hz = self.decoder.sample_rate_hz().unwrap_or(0);
            if source_rate_hz == self.target_rate_hz {
                self.out.extend_from_slice(chunk);
            } else {
                if self.resampler.is_none() {
                    self.resampler = Some(
                        FileResampler::new(source_rate_hz, self.target_rate_hz)
                            .map_err(|err| with_path(err, &self.path))?,
                    );
                }
                if let Some(resampler) = &mut self.resampler {
                    resampler
                        .push(chunk, &mut self.out)
                        .map_err(|err| with_path(err, &self.path))?;
                }
            }
        } else {
            self.finished = true;
            if let Some(resampler) = &mut self.resampler {
                resampler
                    .finish(&mut self.out)
                    .map_err(|err| with_path(err, &self.path))?;
            }
            if self.out.is_empty() {
                return Ok(None);
            }
        }
        Ok(Some(&self.out))
    }
}
