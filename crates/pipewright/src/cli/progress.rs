//! A spinner on standard error for steps that can take a while: a clone, a generation that may
//! call a model, each repository of `templates seed`. It is drawn only when standard error is
//! a terminal and `-q` was not given, appears only once a step has lasted [`DELAY`] (fast steps
//! never flash), shows the seconds so far, and is erased when the step ends, so the answer on
//! standard output and any log lines are never mixed with it.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a step runs before its spinner appears.
pub const DELAY: Duration = Duration::from_millis(300);
/// Time between two frames.
const TICK: Duration = Duration::from_millis(100);
const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/// Back to the start of the line and erase it.
const ERASE: &str = "\r\x1b[2K";

/// A running spinner; dropping it stops and erases it.
pub struct Spinner {
    running: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Spinner {
    /// A spinner for `label` on standard error, or nothing when that is not a terminal or `-q`
    /// was given.
    pub fn start(label: impl Into<String>) -> Spinner {
        let show = !super::output::quiet() && std::io::stderr().is_terminal();
        if !show {
            return Spinner { running: None };
        }
        Spinner::on(std::io::stderr(), label.into(), DELAY)
    }

    /// A spinner drawn on `out` after `delay`.
    fn on(mut out: impl Write + Send + 'static, label: String, delay: Duration) -> Spinner {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut drawn = false;
            let mut frame = 0;
            while !stopped.load(Ordering::Acquire) {
                let elapsed = started.elapsed();
                if elapsed >= delay {
                    let text = format!(
                        "{ERASE}{} {label} ({} s)",
                        FRAMES[frame % FRAMES.len()],
                        elapsed.as_secs()
                    );
                    // A terminal that went away is no reason to fail the step.
                    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
                    drawn = true;
                    frame += 1;
                }
                std::thread::park_timeout(TICK);
            }
            if drawn {
                let _ = out.write_all(ERASE.as_bytes()).and_then(|()| out.flush());
            }
        });
        Spinner {
            running: Some((stop, thread)),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            stop.store(true, Ordering::Release);
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// What a spinner wrote.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn a_long_step_shows_its_label_and_is_erased_at_the_end() {
        let sink = Sink::default();
        let spinner = Spinner::on(sink.clone(), "cloning repo".into(), Duration::ZERO);
        std::thread::sleep(Duration::from_millis(250));
        drop(spinner);
        let text = sink.text();
        assert!(text.contains("cloning repo (0 s)"), "{text:?}");
        assert!(text.ends_with(ERASE), "{text:?}");
    }

    #[test]
    fn a_step_shorter_than_the_delay_draws_nothing() {
        let sink = Sink::default();
        drop(Spinner::on(
            sink.clone(),
            "fast".into(),
            Duration::from_secs(5),
        ));
        assert_eq!(sink.text(), "");
    }
}
