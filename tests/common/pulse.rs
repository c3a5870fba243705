//! A private PulseAudio daemon with a virtual microphone, and a player that feeds it: the
//! real sound server the virtual-microphone and sound-server-loss tests run livetag against.
//!
//! The daemon lives in its own runtime dir, so it never touches a desktop's server: every
//! client (livetag, pactl, paplay) finds it through XDG_RUNTIME_DIR. A null sink at
//! [`SINK_RATE_HZ`] takes what the player plays; a remap of its monitor, [`SOURCE`], is the
//! microphone and the default source.
//!
//! Needs `pulseaudio`, `pactl` and `paplay` (Debian: pulseaudio pulseaudio-utils
//! libasound2-plugins).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const TOOLS: [&str; 3] = ["pulseaudio", "pactl", "paplay"];
pub const SINK: &str = "virtmic_sink";
pub const SOURCE: &str = "virtmic";
pub const SINK_RATE_HZ: u32 = 48_000;
/// Asks for the tests to fail, rather than skip, when the tools are missing.
pub const REQUIRED_ENV: &str = "LIVETAG_VIRTUAL_MIC";

pub fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `test` can run: true when the PulseAudio tools are installed. Without them it
/// says loudly that `test` is skipped, or fails when LIVETAG_VIRTUAL_MIC=1 asks for them
/// (CI sets it once it has installed them, so that a broken install fails instead of
/// skipping).
pub fn tools_present(test: &str) -> bool {
    let required = std::env::var(REQUIRED_ENV).is_ok_and(|v| v == "1");
    let missing: Vec<&str> = TOOLS.into_iter().filter(|t| !installed(t)).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        !required,
        "{REQUIRED_ENV}=1 but {missing:?} not found \
         (apt-get install pulseaudio pulseaudio-utils libasound2-plugins)"
    );
    eprintln!(
        "skipped: {test}: {missing:?} not installed (set {REQUIRED_ENV}=1 to make this a failure)"
    );
    false
}

/// `program`, talking to the daemon of `runtime_dir` only.
fn client_command(runtime_dir: &Path, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    configure_client(runtime_dir, &mut command);
    command
}

fn configure_client(runtime_dir: &Path, command: &mut Command) {
    command
        .env("XDG_RUNTIME_DIR", runtime_dir)
        // Without a daemon, libpulse clients (paplay, pactl, ALSA's pulse plugin) may start
        // one themselves (autospawn; off for root, on for everyone else). One spawned
        // while a test has killed the server would be a bare daemon without the virtual
        // microphone, and would make the test's own restart fail.
        .env("PULSE_CLIENTCONFIG", runtime_dir.join("client.conf"))
        .env_remove("PULSE_SERVER")
        .env_remove("PULSE_RUNTIME_PATH");
}

/// A process that has exited counts as gone even while it waits to be reaped: the
/// daemonized server is the child of init, which may reap it only a second or two later.
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) S ...": the state follows the command name, which may hold spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

/// A private PulseAudio daemon. Dropping it kills the daemon, also when an assertion
/// fails: a stray daemon would outlive the test run.
pub struct PulseServer {
    runtime_dir: tempfile::TempDir,
}

impl PulseServer {
    pub fn start() -> Self {
        let runtime_dir = tempfile::Builder::new()
            .prefix("livetag-pulse-")
            .tempdir()
            .expect("temp dir");
        // PulseAudio refuses a runtime dir that others can read.
        std::fs::set_permissions(runtime_dir.path(), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        std::fs::write(runtime_dir.path().join("client.conf"), "autospawn = no\n").unwrap();
        // The guard exists before the daemon does, so a half-finished start-up is cleaned
        // up too.
        let server = Self { runtime_dir };
        server.boot();
        server
    }

    /// Starts the daemon in this runtime dir and sets up the virtual microphone. Returns
    /// once clients can record from it.
    fn boot(&self) {
        self.run_ok("pulseaudio", &["--daemonize=yes", "--exit-idle-time=-1"]);
        let ready_by = Instant::now() + Duration::from_secs(10);
        while !self
            .command("pactl")
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            assert!(Instant::now() < ready_by, "PulseAudio did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.run_ok(
            "pactl",
            &[
                "load-module",
                "module-null-sink",
                &format!("sink_name={SINK}"),
                &format!("rate={SINK_RATE_HZ}"),
                "channels=1",
            ],
        );
        self.run_ok(
            "pactl",
            &[
                "load-module",
                "module-remap-source",
                &format!("master={SINK}.monitor"),
                &format!("source_name={SOURCE}"),
            ],
        );
        self.run_ok("pactl", &["set-default-source", SOURCE]);
    }

    /// Crashes the daemon: SIGKILL, so that its clients get no goodbye and find the socket
    /// dead, as after a real crash (`pulseaudio --kill` would shut down in order). Returns
    /// once the process is gone.
    pub fn kill(&self) {
        let pid = self.daemon_pid().expect("no PulseAudio pid file");
        assert!(alive(pid), "PulseAudio ({pid}) is not running");
        // The shell's `kill` builtin: there is always a shell, not always a kill binary.
        let status = Command::new("sh")
            .args(["-c", "kill -KILL \"$1\"", "sh", &pid.to_string()])
            .status()
            .expect("run sh");
        assert!(status.success(), "kill -KILL {pid}: {status}");
        let gone_by = Instant::now() + Duration::from_secs(5);
        while alive(pid) {
            assert!(
                Instant::now() < gone_by,
                "PulseAudio ({pid}) still alive 5 s after SIGKILL"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// A new daemon in the same runtime dir, with the same sink, microphone and default
    /// source: to its clients the same server with the same device names comes back.
    pub fn restart(&self) {
        if let Some(pid) = self.daemon_pid() {
            assert!(!alive(pid), "PulseAudio ({pid}) is still running");
        }
        self.boot();
    }

    /// `program` talking to this daemon only: every client finds the server through
    /// XDG_RUNTIME_DIR, and the variables that would point elsewhere are removed.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        client_command(self.runtime_dir.path(), program)
    }

    pub fn configure(&self, command: &mut Command) {
        configure_client(self.runtime_dir.path(), command);
    }

    pub fn run_ok(&self, program: &str, args: &[&str]) {
        self.output_ok(program, args);
    }

    /// What `program args` printed on stdout; panics with its stderr if it failed.
    pub fn output_ok(&self, program: &str, args: &[&str]) -> String {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The application names of the recording streams that clients opened (not the remap
    /// module's own), from `pactl list source-outputs`.
    pub fn client_recordings(&self) -> Vec<String> {
        let listing = self.output_ok("pactl", &["list", "source-outputs"]);
        listing
            .split("Source Output #")
            .filter(|block| block.contains("Driver: protocol-native.c"))
            .map(|block| {
                block
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("application.name = "))
                    .unwrap_or("(no name)")
                    .trim_matches('"')
                    .to_string()
            })
            .collect()
    }

    fn daemon_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.runtime_dir.path().join("pulse/pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for PulseServer {
    fn drop(&mut self) {
        // A daemon a test killed and did not restart leaves a stale pid file: nothing to stop.
        let Some(pid) = self.daemon_pid().filter(|&pid| alive(pid)) else {
            return;
        };
        let killed = self
            .command("pulseaudio")
            .arg("--kill")
            .status()
            .is_ok_and(|s| s.success());
        if !killed {
            eprintln!(
                "warning: `pulseaudio --kill` failed for {}",
                self.runtime_dir.path().display()
            );
        }
        // Let it exit before its runtime dir is removed under it.
        let gone_by = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < gone_by {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One playback of the clip, as wall-clock instants around the `paplay` process.
#[derive(Debug, Clone, Copy)]
pub struct Play {
    pub started: Instant,
    pub ended: Instant,
    /// `paplay` finished successfully, or was still playing when it was stopped.
    pub ok: bool,
}

/// Plays a file into the sink several times in a row on its own thread. Dropping it
/// stops the current `paplay`, so a failing test does not leave one behind.
pub struct Player {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<Play>>>,
}

impl Player {
    pub fn start(server: &PulseServer, clip: &Path, plays: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let runtime_dir = server.runtime_dir.path().to_path_buf();
        let clip: PathBuf = clip.to_path_buf();
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut played = Vec::new();
            for _ in 0..plays {
                if thread_stop.load(Ordering::Relaxed) {
                    break;
                }
                let started = Instant::now();
                let mut child = client_command(&runtime_dir, "paplay")
                    .arg("--latency-msec=20")
                    .arg(format!("--device={SINK}"))
                    .arg(&clip)
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .expect("run paplay");
                let ok = loop {
                    if let Some(status) = child.try_wait().expect("wait for paplay") {
                        break status.success();
                    }
                    if thread_stop.load(Ordering::Relaxed) {
                        let _ = child.kill();
                        let _ = child.wait();
                        break true;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                };
                played.push(Play {
                    started,
                    ended: Instant::now(),
                    ok,
                });
                if !ok {
                    // No server: do not spin on paplays that fail at once.
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            played
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Plays the clip over and over until stopped.
    pub fn looping(server: &PulseServer, clip: &Path) -> Self {
        Self::start(server, clip, usize::MAX)
    }

    /// Stops playing (the clip is still on when livetag is done) and returns the plays.
    pub fn stop(mut self) -> Vec<Play> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().expect("player thread")
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
    }
}

/// Kills the child on drop unless it was waited for.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
