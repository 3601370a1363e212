//! Retrieval time with 100,000 stored records: top-5 with a language + framework filter, for
//! the embedded backend and, when `PIPEWRIGHT_TEST_CHROMA_URL` is set, for ChromaDB on the
//! same records in the same run. Prints insert and open times and p50/p95/max per backend.
//!
//! `cargo bench -p pipewright-adapters --bench store` (or `scripts/bench-store.sh`,
//! which starts ChromaDB). `PIPEWRIGHT_BENCH_RECORDS` changes the record count.

use pipewright_adapters::store::{ChromaConfig, ChromaStore, SqliteStore};
use pipewright_core::knowledge::{
    retrieve, BuiltinEmbedder, Collection, Embedder, Filter, KnowledgeStore, Query, Record,
    RecordSource, StackKey,
};
use pipewright_core::stack::{BuildTool, Database, Framework, Language, TestFramework};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Language, framework and the build tools seen with them: the spread of a large estate.
const STACKS: &[(Language, Option<Framework>, &[BuildTool])] = &[
    (
        Language::Python,
        Some(Framework::Django),
        &[BuildTool::Pip, BuildTool::Poetry, BuildTool::Uv],
    ),
    (
        Language::Python,
        Some(Framework::Flask),
        &[BuildTool::Pip, BuildTool::Poetry],
    ),
    (
        Language::Python,
        Some(Framework::FastApi),
        &[BuildTool::Pip, BuildTool::Poetry, BuildTool::Uv],
    ),
    (Language::Python, None, &[BuildTool::Pip]),
    (
        Language::Ruby,
        Some(Framework::Rails),
        &[BuildTool::Bundler],
    ),
    (
        Language::Ruby,
        Some(Framework::Sinatra),
        &[BuildTool::Bundler],
    ),
    (
        Language::JavaScript,
        Some(Framework::Express),
        &[BuildTool::Npm, BuildTool::Yarn, BuildTool::Pnpm],
    ),
    (
        Language::TypeScript,
        Some(Framework::NestJs),
        &[BuildTool::Npm, BuildTool::Pnpm],
    ),
    (
        Language::TypeScript,
        Some(Framework::NextJs),
        &[BuildTool::Npm, BuildTool::Pnpm, BuildTool::Yarn],
    ),
    (
        Language::TypeScript,
        Some(Framework::React),
        &[BuildTool::Npm, BuildTool::Yarn],
    ),
    (
        Language::Java,
        Some(Framework::SpringBoot),
        &[BuildTool::Maven, BuildTool::Gradle],
    ),
    (
        Language::Java,
        Some(Framework::Quarkus),
        &[BuildTool::Maven],
    ),
    (
        Language::Kotlin,
        Some(Framework::Ktor),
        &[BuildTool::Gradle],
    ),
    (Language::Go, Some(Framework::Gin), &[BuildTool::Go]),
    (Language::Go, Some(Framework::NetHttp), &[BuildTool::Go]),
    (Language::Go, None, &[BuildTool::Go]),
    (Language::Rust, Some(Framework::Axum), &[BuildTool::Cargo]),
    (
        Language::Rust,
        Some(Framework::ActixWeb),
        &[BuildTool::Cargo],
    ),
    (
        Language::Php,
        Some(Framework::Laravel),
        &[BuildTool::Composer],
    ),
    (
        Language::Php,
        Some(Framework::Symfony),
        &[BuildTool::Composer],
    ),
    (
        Language::CSharp,
        Some(Framework::AspNetCore),
        &[BuildTool::Dotnet],
    ),
    (
        Language::Elixir,
        Some(Framework::Phoenix),
        &[BuildTool::Mix],
    ),
];

const TESTS: &[Option<TestFramework>] = &[
    None,
    Some(TestFramework::Pytest),
    Some(TestFramework::Jest),
    Some(TestFramework::Junit),
];
const DATABASES: &[&[Database]] = &[
    &[],
    &[Database::Postgresql],
    &[Database::Redis],
    &[Database::Postgresql, Database::Redis],
    &[Database::Mysql],
];

/// xorshift64*: a fixed sequence, so every run stores the same records.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

fn stack(rng: &mut Rng) -> StackKey {
    let (language, framework, tools) = rng.pick(STACKS);
    let mut s = StackKey::new(*language)
        .with_framework(*framework)
        .with_build_tool(Some(*rng.pick(tools)))
        .with_databases(rng.pick(DATABASES).to_vec());
    s.test_framework = *rng.pick(TESTS);
    s.runtime_major = Some(1 + (rng.next() % 3) as u32);
    s
}

fn records(n: usize) -> Vec<Record> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|i| {
            let s = stack(&mut rng);
            let stages = 5 + (rng.next() % 5) as usize;
            let names = ["compile", "build", "test", "sast", "quality", "security", "push", "notify", "learn"];
            let ci = format!(
                "# project {i}\nstages: [{}]\ncompile:\n  stage: compile\n  script: [\"{} build\"]\n",
                names[..stages].join(", "),
                s.build_tool.map(|b| b.as_str()).unwrap_or("make")
            );
            let docker = format!("FROM registry.example/{}:{}\nUSER app\n# {i}\n", s.language, s.runtime_major.unwrap_or(1));
            let mut r = Record::new(
                Collection::Successful,
                format!("bench_{i:06}"),
                s,
                Some(ci),
                Some(docker),
                RecordSource::Learned,
                1_770_000_000 + i as i64,
            );
            r.success_count = (rng.next() % 7) as u32;
            r
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Times `queries` top-5 filtered searches and a full retrieval for each.
async fn measure(name: &str, store: &dyn KnowledgeStore, queries: usize) {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut times = Vec::with_capacity(queries);
    let mut retrieval = Vec::with_capacity(queries);
    let mut found = 0usize;
    for _ in 0..queries {
        let s = stack(&mut rng);
        let q = Query {
            collection: Collection::Successful,
            filter: Filter::all().language(s.language).framework(s.framework),
            stack: s.clone(),
            limit: 5,
        };
        let t = Instant::now();
        let hits = store
            .query(&q)
            .await
            .unwrap_or_else(|e| panic!("{name}: query failed: {e}"));
        times.push(t.elapsed());
        found += hits.len();
        let t = Instant::now();
        let r = retrieve(store, &s).await;
        retrieval.push(t.elapsed());
        assert!(r.warnings.is_empty(), "{name}: {:?}", r.warnings);
    }
    times.sort();
    retrieval.sort();
    println!(
        "{name:<9} top-5 + language/framework filter, {queries} queries: p50 {}  p95 {}  max {}  ({:.1} hits/query)",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        ms(percentile(&times, 1.0)),
        found as f64 / queries as f64
    );
    println!(
        "{name:<9} full retrieval (rank 1: successful + feedback, ranked), p50 {}  p95 {}",
        ms(percentile(&retrieval, 0.5)),
        ms(percentile(&retrieval, 0.95)),
    );
}

async fn load(name: &str, store: &dyn KnowledgeStore, data: &[Record], batch: usize) {
    let t = Instant::now();
    for chunk in data.chunks(batch) {
        store
            .upsert(chunk)
            .await
            .unwrap_or_else(|e| panic!("{name}: insert failed: {e}"));
    }
    let took = t.elapsed();
    println!(
        "{name:<9} inserted {} records in batches of {batch}: {:.1} s ({:.0} records/s)",
        data.len(),
        took.as_secs_f64(),
        data.len() as f64 / took.as_secs_f64()
    );
}

fn main() {
    let n: usize = std::env::var("PIPEWRIGHT_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let embedder: Arc<dyn Embedder> = Arc::new(BuiltinEmbedder::default());
        let t = Instant::now();
        let data = records(n);
        println!(
            "generated {n} records over {} language/framework pairs in {:.1} s (embedder {})",
            STACKS.len(),
            t.elapsed().as_secs_f64(),
            embedder.name()
        );

        let dir = tempfile::tempdir().expect("a temporary folder");
        {
            let store = SqliteStore::open(dir.path(), Arc::clone(&embedder))
                .expect("open the embedded store");
            load("embedded", &store, &data, 1000).await;
        }
        let t = Instant::now();
        let store = SqliteStore::open(dir.path(), Arc::clone(&embedder))
            .expect("reopen the embedded store");
        println!(
            "embedded  reopened (schema check + {n} embeddings loaded) in {:.2} s",
            t.elapsed().as_secs_f64()
        );
        measure("embedded", &store, 1000).await;

        match std::env::var("PIPEWRIGHT_TEST_CHROMA_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(url) => {
                let mut config = ChromaConfig::new(url);
                let unique = std::process::id();
                config.tenant = format!("pw-bench-{unique}");
                config.database = format!("db-bench-{unique}");
                config.timeout = Duration::from_secs(300);
                let chroma =
                    ChromaStore::new(config, Arc::clone(&embedder)).expect("a ChromaDB client");
                load("chromadb", &chroma, &data, 500).await;
                measure("chromadb", &chroma, 200).await;
            }
            None => println!("chromadb  skipped: PIPEWRIGHT_TEST_CHROMA_URL is not set"),
        }
    });
}
