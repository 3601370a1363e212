//! Throughput of the log classifier: a 100 MB generated job log fed in 64 KiB chunks (target
//! ≥ 1 GB/s) and a 2,000-line job log classified whole (target < 1 ms). Prints figures; run
//! with `cargo bench -p pipewright-core --bench classify`. Besides wall time it prints the
//! thread's on-CPU time (Linux `/proc/thread-self/schedstat`): on a shared machine the wall
//! time counts the time other processes held the cores, the CPU time does not.

use pipewright_core::heal::{Classifier, ClassifierOptions, FailureClass};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Lines typical of a long build: compiler progress, downloads, test output, coloured
/// runner lines, a `\r` progress bar. None of them is an error.
const BODY: &[&str] = &[
    "\x1b[1m\x1b[92m   Compiling\x1b[0m serde_derive v1.0.215",
    "[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/org/slf4j/slf4j-api/2.0.16/slf4j-api-2.0.16.jar (69 kB at 1.2 MB/s)",
    "test pricing::tests::total_without_tax ... ok",
    "  Downloading fastapi-0.115.4-py3-none-any.whl.metadata (27 kB)",
    "\x1b[32;1m$ npm ci --no-audit --no-fund\x1b[0;m",
    "added 1294 packages in 41s",
    "PASS src/cart.test.ts (4.12 s)",
    "ok  \texample.com/orders/internal/store\t0.412s",
    "Downloading 10%\rDownloading 55%\rDownloading 100%",
    "INFO[0042] RUN npm run build                            ",
    "webpack 5.95.0 compiled successfully in 8123 ms",
    "    Finished `release` profile [optimized] target(s) in 2m 11s",
];

const TAIL: &str = "\x1b[1m\x1b[91merror[E0425]\x1b[0m\x1b[1m: cannot find value `ordr` in this scope\x1b[0m\n\
\x1b[1m\x1b[91merror\x1b[0m\x1b[1m:\x1b[0m could not compile `orders` (bin \"orders\") due to 1 previous error\n\
\x1b[31;1mERROR: Job failed: exit code 101\n\x1b[0;m\n";

fn generated_log(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 1024);
    let mut i = 0;
    while out.len() < bytes {
        out.extend_from_slice(BODY[i % BODY.len()].as_bytes());
        out.push(b'\n');
        i += 1;
    }
    out.extend_from_slice(TAIL.as_bytes());
    out
}

fn classify_chunks(log: &[u8], chunk: usize) -> FailureClass {
    classify_with(log, chunk, ClassifierOptions::default())
}

fn classify_with(log: &[u8], chunk: usize, options: ClassifierOptions) -> FailureClass {
    let mut c = Classifier::new(options);
    for part in log.chunks(chunk) {
        c.feed(part);
    }
    c.finish().class
}

/// Time this thread has spent on a CPU, when the kernel tells.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Wall and on-CPU time of one call of `f`.
fn timed(f: &mut impl FnMut()) -> (Duration, Option<Duration>) {
    let cpu = thread_cpu();
    let t = Instant::now();
    f();
    let wall = t.elapsed();
    let cpu = cpu.zip(thread_cpu()).map(|(a, b)| b.saturating_sub(a));
    (wall, cpu)
}

/// The best wall and the best on-CPU time of `runs` calls.
fn best_of(runs: usize, mut f: impl FnMut()) -> (Duration, Option<Duration>) {
    let all: Vec<_> = (0..runs).map(|_| timed(&mut f)).collect();
    let wall = all.iter().map(|t| t.0).min().unwrap_or_default();
    let cpu = all.iter().filter_map(|t| t.1).min();
    (wall, cpu)
}

fn rate(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / t.as_secs_f64() / 1e9
}

fn main() {
    let big = generated_log(100 * 1000 * 1000);
    assert_eq!(classify_chunks(&big, 64 * 1024), FailureClass::BuildFailure);
    let (wall, cpu) = best_of(5, || {
        black_box(classify_chunks(black_box(&big), 64 * 1024));
    });
    println!(
        "classify 100 MB log ({} bytes, 64 KiB chunks): best of 5 {:.1} ms wall = {:.2} GB/s{} (target >= 1 GB/s)",
        big.len(),
        wall.as_secs_f64() * 1e3,
        rate(big.len(), wall),
        cpu.map(|c| format!("; {:.1} ms on CPU = {:.2} GB/s", c.as_secs_f64() * 1e3, rate(big.len(), c)))
            .unwrap_or_default()
    );

    // The same without the kept tail: what the scan alone costs.
    let (wall, cpu) = best_of(5, || {
        let options = ClassifierOptions {
            tail_bytes: 0,
            ..ClassifierOptions::default()
        };
        black_box(classify_with(black_box(&big), 64 * 1024, options));
    });
    println!(
        "  the same without keeping the 1 MiB tail: {:.1} ms wall = {:.2} GB/s{}",
        wall.as_secs_f64() * 1e3,
        rate(big.len(), wall),
        cpu.map(|c| format!(
            "; {:.1} ms on CPU = {:.2} GB/s",
            c.as_secs_f64() * 1e3,
            rate(big.len(), c)
        ))
        .unwrap_or_default()
    );

    let lines_2000: Vec<u8> = {
        let mut out = Vec::new();
        for i in 0..1997 {
            out.extend_from_slice(BODY[i % BODY.len()].as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(TAIL.as_bytes());
        out
    };
    let lines = lines_2000.iter().filter(|b| **b == b'\n').count();
    assert_eq!(
        classify_chunks(&lines_2000, lines_2000.len()),
        FailureClass::BuildFailure
    );
    let runs = 200;
    let mut once = || {
        black_box(classify_chunks(black_box(&lines_2000), lines_2000.len()));
    };
    let (wall, cpu) = timed(&mut || {
        for _ in 0..runs {
            once();
        }
    });
    let mut walls: Vec<Duration> = (0..runs).map(|_| timed(&mut once).0).collect();
    walls.sort();
    println!(
        "classify a {lines}-line job log ({} bytes): {:.1} µs wall each (mean of {runs}; median {:.1} µs, worst {:.1} µs){} (target < 1 ms)",
        lines_2000.len(),
        (wall / runs).as_secs_f64() * 1e6,
        walls[walls.len() / 2].as_secs_f64() * 1e6,
        walls[walls.len() - 1].as_secs_f64() * 1e6,
        cpu.map(|c| format!("; {:.1} µs on CPU each", (c / runs).as_secs_f64() * 1e6))
            .unwrap_or_default()
    );
}
