//! Decoding with symphonia, mixed down to mono: chunk by chunk ([`FileDecoder`]) or the
//! whole file at once ([`decode_file`], built on it).

use std::fs::File;
use std::io;
use std::path::Path;

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions, CODEC_ID_NULL_AUDIO};
use symphonia::core::codecs::CodecParameters;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use super::{AudioError, DecodeProblem, DecodedAudio, MAX_SAMPLE_MAGNITUDE};

/// How many undecodable packets are tolerated per file. A handful of damaged mp3 frames
/// should not lose a whole recording, but a file that keeps failing is not audio we trust.
const MAX_BAD_PACKETS: usize = 16;

/// Upper bound on the up-front allocation taken from the container's frame count, which
/// comes from the file header and so cannot be trusted (about 10 minutes at 48 kHz).
const MAX_PREALLOCATED_FRAMES: u64 = 1 << 25;

/// Decodes the first decodable audio track of `path` and mixes it down to mono.
///
/// Supported: wav (integer and float PCM), flac, ogg/vorbis and mp3. The container is
/// detected from the content; the file extension is only a hint.
///
/// Gapless information is honoured: encoder delay and padding are trimmed when the file
/// records them (flac, vorbis, mp3 with a LAME/Xing header), so the length matches the
/// original. An mp3 without such a header keeps the decoder's leading delay and the
/// padding of its last frame.
///
/// A file that ends early (for example a wav whose header announces more data than the
/// file holds) is decoded up to the last complete packet; only a file that yields no audio
/// at all is an error. Up to 16 malformed packets are skipped (see `MAX_BAD_PACKETS`).
///
/// # Errors
/// [`AudioError::Open`] / [`AudioError::Read`] for I/O failures, [`AudioError::Empty`] for a
/// zero-length file or one without samples, [`AudioError::Unsupported`] for an unknown
/// format or codec, [`AudioError::NoAudioTrack`], [`AudioError::Corrupt`] for malformed
/// data, [`AudioError::NotRegularFile`] for a named pipe, device or socket (refused before
/// it is opened), [`AudioError::NonFinite`] when any decoded sample is NaN or infinite and
/// [`AudioError::OutOfRange`] when one lies beyond ±[`MAX_SAMPLE_MAGNITUDE`].
pub fn decode_file(path: &Path) -> Result<DecodedAudio, AudioError> {
    let mut decoder = FileDecoder::open(path)?;
    let capacity = decoder
        .frames_hint()
        .unwrap_or(0)
        .min(MAX_PREALLOCATED_FRAMES);
    let mut samples = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    // Bad samples are counted over the whole file and reported once, at the end.
    while let Some(chunk) = decoder.next_chunk(WHOLE_FILE_CHUNK_FRAMES)? {
        samples.extend_from_slice(chunk);
    }
    decoder.check_samples()?;
    let (Some(sample_rate_hz), Some(channels)) = (decoder.sample_rate_hz(), decoder.channels())
    else {
        return Err(AudioError::Empty {
            path: path.to_path_buf(),
        });
    };
    if samples.is_empty() || sample_rate_hz == 0 {
        return Err(AudioError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(DecodedAudio {
        samples,
        sample_rate_hz,
        channels,
    })
}

/// Frames per chunk when [`decode_file`] collects a whole file.
const WHOLE_FILE_CHUNK_FRAMES: usize = 1 << 16;

/// A file being decoded chunk by chunk, mixed down to mono: what [`decode_file`] does, in
/// bounded memory. Each chunk holds whole packets, at least the frames asked for unless
/// the file ends. Bad samples (NaN, infinite, beyond ±[`MAX_SAMPLE_MAGNITUDE`]) are counted
/// as they are decoded; [`FileDecoder::check_samples`] turns them into the same errors as
/// [`decode_file`]'s, with the count so far and the first one's time.
pub struct FileDecoder {
    path: std::path::PathBuf,
    format: Box<dyn FormatReader>,
    track: OpenTrack,
    mix: MonoMix,
    bad_packets: usize,
    /// The last packet's decoding error, kept as the source of the error if decoding
    /// gives up.
    last_bad: Option<SymphoniaError>,
    truncated: bool,
    ended: bool,
}

impl FileDecoder {
    /// Opens `path` and picks its first decodable audio track; errors as [`decode_file`].
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        // Checked before opening: opening a named pipe for reading waits for a writer,
        // forever if none comes. Checked again on the opened file, in case the path
        // changed between.
        let before = std::fs::metadata(path).map_err(|source| AudioError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        require_regular(path, before.file_type())?;
        let file = File::open(path).map_err(|source| AudioError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let metadata = file.metadata().map_err(|source| AudioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        require_regular(path, metadata.file_type())?;
        // Checked here because symphonia swallows this read failure while probing and
        // reports "no suitable format reader", which would hide the much simpler truth.
        if metadata.len() == 0 {
            return Err(AudioError::Empty {
                path: path.to_path_buf(),
            });
        }
        let (format, track) = guard(path, || {
            let format = probe(path, Box::new(file)).map_err(|err| map_stream_error(path, err))?;
            let track = open_first_audio_track(path, format.as_ref())?;
            Ok((format, track))
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            format,
            track,
            mix: MonoMix {
                samples: Vec::new(),
                interleaved: Vec::new(),
                frames_before: 0,
                sample_rate_hz: None,
                channels: None,
                non_finite: BadSamples::default(),
                out_of_range: BadSamples::default(),
            },
            bad_packets: 0,
            last_bad: None,
            truncated: false,
            ended: false,
        })
    }

    /// Frames the container header announces: a hint only (progress, preallocation).
    pub fn frames_hint(&self) -> Option<u64> {
        self.track.frames_hint
    }

    /// Sample rate of the decoded audio, known from the first chunk on.
    pub fn sample_rate_hz(&self) -> Option<u32> {
        self.mix.sample_rate_hz
    }

    /// The header's sample rate, before anything is decoded: a hint only.
    pub fn rate_hint(&self) -> Option<u32> {
        self.track.rate_hint
    }

    /// Source channels, known from the first chunk on.
    pub fn channels(&self) -> Option<u16> {
        self.mix.channels
    }

    /// The chunk the last [`next_chunk`](Self::next_chunk) returned (empty at the end).
    pub fn chunk(&self) -> &[f32] {
        &self.mix.samples
    }

    /// Mono frames handed out so far.
    pub fn frames_decoded(&self) -> u64 {
        (self.mix.frames_before + self.mix.samples.len()) as u64
    }

    /// The next mono chunk (at least `min_frames` unless the file ends), or `None` at the
    /// end of the file. A file that yields no audio at all is an error here, as in
    /// [`decode_file`].
    pub fn next_chunk(&mut self, min_frames: usize) -> Result<Option<&[f32]>, AudioError> {
        self.mix.frames_before += self.mix.samples.len();
        self.mix.samples.clear();
        if self.ended {
            return Ok(None);
        }
        let path = self.path.clone();
        // symphonia 0.6 panics on some malformed headers (tests/fuzz.rs found a wave chunk
        // whose size underflows in symphonia-format-riff); a hostile file is an error
        // naming it, never a crash of the app.
        guard(&path, || self.decode_until(min_frames))?;
        if self.mix.samples.is_empty() {
            self.ended = true;
            self.at_end()?;
            return Ok(None);
        }
        Ok(Some(&self.mix.samples))
    }

    /// The bad samples decoded so far as an error, if there are any.
    pub fn check_samples(&self) -> Result<(), AudioError> {
        let rate_hz = self.mix.sample_rate_hz.unwrap_or(1);
        if self.mix.non_finite.count > 0 {
            return Err(AudioError::NonFinite {
                path: self.path.clone(),
                count: self.mix.non_finite.count,
                first_secs: self.mix.non_finite.first_secs(rate_hz),
            });
        }
        if let Some((_, first_value)) = self.mix.out_of_range.first {
            return Err(AudioError::OutOfRange {
                path: self.path.clone(),
                count: self.mix.out_of_range.count,
                first_secs: self.mix.out_of_range.first_secs(rate_hz),
                first_value,
            });
        }
        Ok(())
    }

    fn decode_until(&mut self, min_frames: usize) -> Result<(), AudioError> {
        let path = self.path.as_path();
        let track = &mut self.track;
        while self.mix.samples.len() < min_frames {
            let packet = match self.format.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => break,
                // A truncated file: keep what was decoded before the cut.
                Err(SymphoniaError::IoError(err)) if err.kind() == io::ErrorKind::UnexpectedEof => {
                    self.truncated = true;
                    break;
                }
                Err(err) => return Err(map_stream_error(path, err)),
            };
            if packet.track_id != track.id {
                continue;
            }
            match track.decoder.decode(&packet) {
                Ok(buffer) => {
                    if buffer.frames() == 0 {
                        continue;
                    }
                    let rate_hz = buffer.spec().rate();
                    let channel_count = buffer.spec().channels().count();
                    buffer.copy_to_vec_interleaved(&mut self.mix.interleaved);
                    self.mix.push(path, rate_hz, channel_count)?;
                }
                // Per the AudioDecoder contract these reject only this packet; decoding may
                // go on.
                Err(err @ (SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_))) => {
                    self.bad_packets += 1;
                    if self.bad_packets > MAX_BAD_PACKETS {
                        return Err(AudioError::Corrupt {
                            path: path.to_path_buf(),
                            source: DecodeProblem::TooManyBadPackets {
                                max: MAX_BAD_PACKETS,
                                last: err,
                            },
                        });
                    }
                    self.last_bad = Some(err);
                }
                Err(err) => return Err(map_stream_error(path, err)),
            }
        }
        Ok(())
    }

    /// At the end of the file: nothing decoded at all is an error.
    fn at_end(&mut self) -> Result<(), AudioError> {
        if self.mix.sample_rate_hz.is_some() && self.mix.channels.is_some() {
            return Ok(());
        }
        // Nothing decoded. If packets failed or the data was cut short, the file is damaged
        // rather than merely empty. Some demuxers (flac, mp3) end quietly on a partial first
        // frame, so a header that promised frames also counts as a cut.
        let path = self.path.to_path_buf();
        let promised_frames = self.track.frames_hint.is_some_and(|frames| frames > 0);
        Err(if let Some(last) = self.last_bad.take() {
            AudioError::Corrupt {
                path,
                source: DecodeProblem::NoPacketDecoded { last },
            }
        } else if self.truncated || promised_frames {
            AudioError::Corrupt {
                path,
                source: DecodeProblem::TruncatedBeforeAudio,
            }
        } else {
            AudioError::Empty { path }
        })
    }
}

/// Runs `work`, turning a decoder panic into [`AudioError::Corrupt`] naming `path`. The
/// panic hook stays quiet for it: the error says what happened, once, and a "thread
/// panicked" line on top would read as a crash of livetag.
fn guard<T>(path: &Path, work: impl FnOnce() -> Result<T, AudioError>) -> Result<T, AudioError> {
    install_quiet_hook();
    let outer = IN_GUARD.with(|flag| flag.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    IN_GUARD.with(|flag| flag.set(outer));
    result.unwrap_or_else(|_| {
        Err(AudioError::Corrupt {
            path: path.to_path_buf(),
            source: DecodeProblem::DecoderPanicked,
        })
    })
}

thread_local! {
    /// This thread is inside [`guard`], where a panic becomes an error.
    static IN_GUARD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Wraps the panic hook once: silent inside [`guard`], the previous hook everywhere else.
fn install_quiet_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_GUARD.with(|flag| flag.get()) {
                previous(info);
            }
        }));
    });
}

/// Refuses anything but a regular file: a directory as [`AudioError::Open`] (symphonia
/// would report "no suitable format reader", hiding the simpler truth), anything else as
/// [`AudioError::NotRegularFile`].
fn require_regular(path: &Path, file_type: std::fs::FileType) -> Result<(), AudioError> {
    match super::irregular_file_kind(file_type) {
        None => Ok(()),
        Some(kind) if file_type.is_dir() => Err(AudioError::Open {
            path: path.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("not a regular file ({kind})"),
            ),
        }),
        Some(kind) => Err(AudioError::NotRegularFile {
            path: path.to_path_buf(),
            kind,
        }),
    }
}

/// Detects the container of `source`, using the file extension of `path` as a hint.
fn probe(
    path: &Path,
    source: Box<dyn MediaSource>,
) -> Result<Box<dyn FormatReader>, SymphoniaError> {
    let stream = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(extension) = path.extension().and_then(|ext| ext.to_str()) {
        hint.with_extension(extension);
    }
    symphonia::default::get_probe().probe(
        &hint,
        stream,
        FormatOptions::default(),
        MetadataOptions::default(),
    )
}

/// The track chosen for decoding.
struct OpenTrack {
    id: u32,
    decoder: Box<dyn AudioDecoder>,
    /// Frame count from the container header: a hint only, never trusted for correctness.
    frames_hint: Option<u64>,
    /// Sample rate from the container header: a hint only.
    rate_hint: Option<u32>,
}

/// Picks the first audio track that has a codec this build can decode; an audio track in
/// a codec without a compiled-in decoder is passed over in favour of a later one.
fn open_first_audio_track(path: &Path, format: &dyn FormatReader) -> Result<OpenTrack, AudioError> {
    // Gapless trimming is what makes lossy files come out at their true length.
    let options = AudioDecoderOptions::default().gapless(true);
    let mut last_error: Option<SymphoniaError> = None;
    let mut saw_audio_track = false;
    for track in format.tracks() {
        let Some(CodecParameters::Audio(params)) = &track.codec_params else {
            continue;
        };
        saw_audio_track = true;
        if params.codec == CODEC_ID_NULL_AUDIO {
            continue;
        }
        match symphonia::default::get_codecs().make_audio_decoder(params, &options) {
            Ok(decoder) => {
                return Ok(OpenTrack {
                    id: track.id,
                    decoder,
                    frames_hint: track.num_frames,
                    rate_hint: params.sample_rate,
                })
            }
            Err(err) => last_error = Some(err),
        }
    }
    match (saw_audio_track, last_error) {
        (false, _) => Err(AudioError::NoAudioTrack {
            path: path.to_path_buf(),
        }),
        (true, Some(err)) => Err(map_stream_error(path, err)),
        (true, None) => Err(AudioError::Unsupported {
            path: path.to_path_buf(),
            source: DecodeProblem::UnknownCodec,
        }),
    }
}

/// Running state of the mono mix, shared across packets.
struct MonoMix {
    /// The current chunk.
    samples: Vec<f32>,
    /// Frames in the chunks before this one.
    frames_before: usize,
    /// Reused per packet so interleaved conversion does not allocate in the loop.
    interleaved: Vec<f32>,
    sample_rate_hz: Option<u32>,
    channels: Option<u16>,
    non_finite: BadSamples,
    out_of_range: BadSamples,
}

/// Samples of one kind of bad value: how many, and where the first is.
#[derive(Default)]
struct BadSamples {
    count: usize,
    /// Frame index and value of the first.
    first: Option<(usize, f32)>,
}

impl BadSamples {
    fn note(&mut self, frame: usize, value: f32) {
        self.count += 1;
        self.first.get_or_insert((frame, value));
    }

    /// The first one's time in seconds.
    fn first_secs(&self, rate_hz: u32) -> f64 {
        self.first
            .map_or(0.0, |(frame, _)| frame as f64 / f64::from(rate_hz.max(1)))
    }
}

impl MonoMix {
    /// Appends one decoded packet. Fails when the stream changes rate or channel count,
    /// since a single mono signal cannot represent that faithfully.
    fn push(&mut self, path: &Path, rate_hz: u32, channel_count: usize) -> Result<(), AudioError> {
        let channels = u16::try_from(channel_count)
            .ok()
            .filter(|&count| count > 0)
            .ok_or_else(|| AudioError::Unsupported {
                path: path.to_path_buf(),
                source: DecodeProblem::ChannelCount(channel_count),
            })?;
        match (self.sample_rate_hz, self.channels) {
            (None, None) => {
                self.sample_rate_hz = Some(rate_hz);
                self.channels = Some(channels);
            }
            (Some(known_rate), Some(known_channels))
                if known_rate == rate_hz && known_channels == channels => {}
            _ => {
                return Err(AudioError::Unsupported {
                    path: path.to_path_buf(),
                    source: DecodeProblem::FormatChange,
                })
            }
        }

        // One pass, no work per sample beyond a compare for good audio.
        let first_frame = self.frames_before + self.samples.len();
        for (i, &value) in self.interleaved.iter().enumerate() {
            if value.abs() <= MAX_SAMPLE_MAGNITUDE {
                continue;
            }
            let frame = first_frame + i / channel_count;
            if value.is_finite() {
                self.out_of_range.note(frame, value);
            } else {
                self.non_finite.note(frame, value);
            }
        }
        if channels == 1 {
            self.samples.extend_from_slice(&self.interleaved);
        } else {
            let scale = 1.0 / f32::from(channels);
            self.samples.extend(
                self.interleaved
                    .chunks_exact(channel_count)
                    .map(|frame| frame.iter().sum::<f32>() * scale),
            );
        }
        Ok(())
    }
}

/// Maps symphonia errors raised outside the packet loop (probing, decoder creation). The
/// packet loop handles end-of-file and per-packet errors itself.
fn map_stream_error(path: &Path, err: SymphoniaError) -> AudioError {
    let path = path.to_path_buf();
    match err {
        SymphoniaError::IoError(source) if source.kind() == io::ErrorKind::UnexpectedEof => {
            AudioError::Corrupt {
                path,
                source: DecodeProblem::TruncatedBeforeAudio,
            }
        }
        SymphoniaError::IoError(source) => AudioError::Read { path, source },
        // Also where random bytes end up: the probe finds no container it knows.
        err @ SymphoniaError::Unsupported(_) => AudioError::Unsupported {
            path,
            source: DecodeProblem::Decoder(err),
        },
        // Refusing a chained stream is clearer than silently returning only its first part.
        SymphoniaError::ResetRequired => AudioError::Unsupported {
            path,
            source: DecodeProblem::ChainedStream,
        },
        // Malformed data, a decoder limit, anything else the decoder reports.
        other => AudioError::Corrupt {
            path,
            source: DecodeProblem::Decoder(other),
        },
    }
}
