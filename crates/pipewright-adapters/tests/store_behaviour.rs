//! One behavioural suite, run against both knowledge store backends: the embedded SQLite file
//! always, and a real ChromaDB server when `PIPEWRIGHT_TEST_CHROMA_URL` is set (see
//! `scripts/services/chroma.sh`). With `CI` set and no server, the ChromaDB tests fail rather
//! than skip, so a pipeline cannot go green without them. Each ChromaDB test works in a tenant
//! and database of its own, so tests run in parallel.

use pipewright_adapters::store::folder::{self, FolderError};
use pipewright_adapters::store::{ChromaConfig, ChromaStore, SqliteStore};
use pipewright_core::knowledge::{
    retrieve, stats, BuiltinEmbedder, Collection, EmbedError, EmbedInput, Embedder, Filter,
    KnowledgeStore, Origin, Query, RagPath, Record, RecordSource, RetrievalRank, StackKey,
    StoreError, MAX_FILE_BYTES,
};
use pipewright_core::stack::{BuildTool, Database, Framework, Language};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tempfile::TempDir;

/// Where a test's store lives; `open` gives a handle with any embedder.
enum Harness {
    Embedded(TempDir),
    Chroma(ChromaConfig),
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Harness {
    fn embedded() -> Harness {
        Harness::Embedded(tempfile::tempdir().expect("a temporary folder"))
    }

    /// A fresh tenant/database on the test server, or `None` (skip) outside CI.
    fn chroma(test: &str) -> Option<Harness> {
        let Some(url) = std::env::var("PIPEWRIGHT_TEST_CHROMA_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "CI is set but PIPEWRIGHT_TEST_CHROMA_URL is not: the ChromaDB tests must run in CI; \
                     source scripts/services/chroma.sh and call chroma_start first"
                );
            }
            eprintln!("skipped {test} on ChromaDB: PIPEWRIGHT_TEST_CHROMA_URL is not set");
            return None;
        };
        let unique = format!(
            "{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let mut config = ChromaConfig::new(url);
        config.tenant = format!("pw-{test}-{unique}");
        config.database = format!("db-{unique}");
        Some(Harness::Chroma(config))
    }

    fn open_with(&self, embedder: Arc<dyn Embedder>) -> Arc<dyn KnowledgeStore> {
        match self {
            Harness::Embedded(dir) => {
                Arc::new(SqliteStore::open(dir.path(), embedder).expect("open the embedded store"))
            }
            Harness::Chroma(config) => Arc::new(
                ChromaStore::new(config.clone(), embedder).expect("set up the ChromaDB client"),
            ),
        }
    }

    fn open(&self) -> Arc<dyn KnowledgeStore> {
        self.open_with(Arc::new(BuiltinEmbedder::default()))
    }
}

/// Generates one test per behaviour and backend.
macro_rules! behaviours {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Harness::embedded()).await;
                }
            )*
        }
        mod chromadb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(h) = super::Harness::chroma(stringify!($name)) {
                        super::$name(h).await;
                    }
                }
            )*
        }
    };
}

behaviours!(
    stores_and_reads_back_every_field,
    retrieves_in_the_seeds_priority_order,
    a_partial_pick_takes_the_reference_path,
    the_most_similar_stack_ranks_first,
    among_equal_stacks_manual_then_stages_then_successes,
    learning_the_same_pair_twice_raises_the_success_count,
    filters_select_by_language_framework_build_tool_and_source,
    feedback_for_the_same_stack_ranks_with_successful_pipelines,
    deleted_records_are_gone_from_reads_and_search,
    a_different_embedding_dimension_is_a_clear_error,
    a_different_embedder_of_the_same_dimension_is_refused,
    a_batch_with_an_invalid_record_writes_nothing,
    import_refuses_invalid_folders_and_stores_nothing,
    export_then_import_gives_the_same_records,
    stats_count_by_collection_language_and_source,
);

// ---------------------------------------------------------------- fixtures

const NOW: i64 = 1_770_645_780;

fn django(tool: BuildTool) -> StackKey {
    StackKey::new(Language::Python)
        .with_framework(Some(Framework::Django))
        .with_build_tool(Some(tool))
}

fn pipeline(stages: usize, tag: &str) -> String {
    let names: Vec<String> = (0..stages).map(|i| format!("s{i}")).collect();
    format!("# {tag}\nstages: [{}]\n", names.join(", "))
}

fn dockerfile(tag: &str) -> String {
    format!("FROM python:3.12-slim\n# {tag}\n")
}

fn template(id: &str, stack: StackKey, stages: usize) -> Record {
    Record::new(
        Collection::Templates,
        id,
        stack,
        Some(pipeline(stages, id)),
        Some(dockerfile(id)),
        RecordSource::Imported,
        NOW,
    )
}

fn successful(id: &str, stack: StackKey, stages: usize, successes: u32) -> Record {
    let mut r = Record::new(
        Collection::Successful,
        id,
        stack,
        Some(pipeline(stages, id)),
        Some(dockerfile(id)),
        RecordSource::Imported,
        NOW,
    );
    r.success_count = successes;
    r
}

fn ids(records: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    v.sort();
    v
}

async fn pick_id(store: &dyn KnowledgeStore, stack: &StackKey) -> (RetrievalRank, Option<String>) {
    let r = retrieve(store, stack).await;
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    (r.rank, r.pick.map(|p| p.id))
}

// ---------------------------------------------------------------- behaviours

async fn stores_and_reads_back_every_field(h: Harness) {
    let store = h.open();
    let mut stack =
        django(BuildTool::Poetry).with_databases(vec![Database::Redis, Database::Postgresql]);
    stack.runtime_major = Some(3);
    let mut r = Record::learned(
        stack,
        pipeline(9, "full"),
        dockerfile("full"),
        Origin {
            project: Some("platform/billing".into()),
            pipeline: Some("4711".into()),
        },
        NOW,
    );
    r.description = Some("billing service".into());
    store.upsert(std::slice::from_ref(&r)).await.unwrap();
    let back = store.get(Collection::Successful, &r.id).await.unwrap();
    assert_eq!(back.as_ref(), Some(&r));
    assert_eq!(store.get(Collection::Templates, &r.id).await.unwrap(), None);
    assert_eq!(
        store.get(Collection::Successful, "missing").await.unwrap(),
        None
    );

    let only_docker = Record::new(
        Collection::Templates,
        "docker-only",
        StackKey::new(Language::Go),
        None,
        Some("FROM golang:1.22\n".into()),
        RecordSource::BuiltIn,
        NOW,
    );
    store
        .upsert(std::slice::from_ref(&only_docker))
        .await
        .unwrap();
    let back = store
        .get(Collection::Templates, "docker-only")
        .await
        .unwrap();
    assert_eq!(back, Some(only_docker));
}

async fn retrieves_in_the_seeds_priority_order(h: Harness) {
    let store = h.open();
    let wanted = django(BuildTool::Poetry);
    assert_eq!(
        pick_id(store.as_ref(), &wanted).await,
        (RetrievalRank::BuiltIn, None)
    );

    store
        .upsert(&[template(
            "python-generic",
            StackKey::new(Language::Python),
            9,
        )])
        .await
        .unwrap();
    assert_eq!(
        pick_id(store.as_ref(), &wanted).await,
        (
            RetrievalRank::LanguageTemplate,
            Some("python-generic".into())
        )
    );

    store
        .upsert(&[
            template("python-django", wanted.clone(), 9),
            // Another framework's template never stands in for this one.
            template(
                "python-flask",
                StackKey::new(Language::Python).with_framework(Some(Framework::Flask)),
                9,
            ),
        ])
        .await
        .unwrap();
    assert_eq!(
        pick_id(store.as_ref(), &wanted).await,
        (
            RetrievalRank::FrameworkTemplate,
            Some("python-django".into())
        )
    );

    store
        .upsert(&[successful(
            "green-flask",
            StackKey::new(Language::Python).with_framework(Some(Framework::Flask)),
            9,
            5,
        )])
        .await
        .unwrap();
    assert_eq!(
        pick_id(store.as_ref(), &wanted).await.0,
        RetrievalRank::FrameworkTemplate,
        "a green pipeline of another framework is not a match"
    );

    let learned = store
        .learn(Record::learned(
            wanted.clone(),
            pipeline(9, "green"),
            dockerfile("green"),
            Origin::default(),
            NOW,
        ))
        .await
        .unwrap()
        .record;
    let r = retrieve(store.as_ref(), &wanted).await;
    assert_eq!(r.rank, RetrievalRank::SuccessfulPipeline);
    assert_eq!(
        r.pick.as_ref().map(|p| p.id.as_str()),
        Some(learned.id.as_str())
    );
    assert_eq!(r.path, Some(RagPath::Direct));
    assert!(r.reason.contains(&learned.id), "{}", r.reason);
    assert!(
        r.summary()
            .starts_with("rank 1 (successful pipeline), chromadb-direct"),
        "{}",
        r.summary()
    );

    // A stack without a framework goes straight from green pipelines to the language template.
    let plain = StackKey::new(Language::Python);
    assert_eq!(
        pick_id(store.as_ref(), &plain).await,
        (
            RetrievalRank::LanguageTemplate,
            Some("python-generic".into())
        )
    );
}

async fn a_partial_pick_takes_the_reference_path(h: Harness) {
    let store = h.open();
    let stack = StackKey::new(Language::Ruby).with_framework(Some(Framework::Sinatra));
    let mut only_ci = template("sinatra-ci", stack.clone(), 9);
    only_ci.dockerfile = None;
    only_ci.rehash();
    store.upsert(&[only_ci]).await.unwrap();
    let r = retrieve(store.as_ref(), &stack).await;
    assert_eq!(r.rank, RetrievalRank::FrameworkTemplate);
    assert_eq!(r.path, Some(RagPath::Reference));
    assert_eq!(RagPath::Reference.as_str(), "chromadb-reference");
}

async fn the_most_similar_stack_ranks_first(h: Harness) {
    let store = h.open();
    store
        .upsert(&[
            successful("manual_pip_many_stages", django(BuildTool::Pip), 12, 40),
            successful("poetry_few_stages", django(BuildTool::Poetry), 3, 1),
        ])
        .await
        .unwrap();
    assert_eq!(
        pick_id(store.as_ref(), &django(BuildTool::Poetry)).await,
        (
            RetrievalRank::SuccessfulPipeline,
            Some("poetry_few_stages".into())
        )
    );
    assert_eq!(
        pick_id(store.as_ref(), &django(BuildTool::Pip)).await.1,
        Some("manual_pip_many_stages".into())
    );
}

async fn among_equal_stacks_manual_then_stages_then_successes(h: Harness) {
    let store = h.open();
    let s = django(BuildTool::Poetry);
    store
        .upsert(&[
            successful("imported_nine_stages", s.clone(), 9, 90),
            successful("manual_three_stages", s.clone(), 3, 9),
        ])
        .await
        .unwrap();
    assert_eq!(
        pick_id(store.as_ref(), &s).await.1,
        Some("manual_three_stages".into()),
        "user-made first"
    );
    store
        .upsert(&[successful("manual_nine_stages", s.clone(), 9, 1)])
        .await
        .unwrap();
    assert_eq!(
        pick_id(store.as_ref(), &s).await.1,
        Some("manual_nine_stages".into()),
        "then more stages"
    );
    store
        .upsert(&[successful(
            "manual_nine_stages_more_successes",
            s.clone(),
            9,
            2,
        )])
        .await
        .unwrap();
    assert_eq!(
        pick_id(store.as_ref(), &s).await.1,
        Some("manual_nine_stages_more_successes".into()),
        "then more successes"
    );
}

async fn learning_the_same_pair_twice_raises_the_success_count(h: Harness) {
    let store = h.open();
    let stack = django(BuildTool::Poetry);
    let first = Record::learned(
        stack.clone(),
        pipeline(9, "pair"),
        dockerfile("pair"),
        Origin {
            project: Some("g/app".into()),
            pipeline: Some("1".into()),
        },
        NOW,
    );
    assert!(first.id.starts_with("manual_python_django_"));
    let learned = store.learn(first.clone()).await.unwrap();
    assert!(learned.created);
    assert_eq!(learned.record.success_count, 1);

    let mut again = Record::learned(
        stack,
        pipeline(9, "pair"),
        dockerfile("pair"),
        Origin {
            project: Some("g/app".into()),
            pipeline: Some("2".into()),
        },
        NOW + 60,
    );
    again.created_at = NOW + 60;
    let learned = store.learn(again).await.unwrap();
    assert!(!learned.created);
    assert_eq!(learned.record.id, first.id);
    assert_eq!(learned.record.success_count, 2);

    let stored = store
        .get(Collection::Successful, &first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.success_count, 2);
    assert_eq!(stored.created_at, NOW);
    assert_eq!(stored.updated_at, NOW + 60);
    assert_eq!(stored.origin.pipeline.as_deref(), Some("2"));
    assert_eq!(
        store
            .count(Collection::Successful, &Filter::all())
            .await
            .unwrap(),
        1,
        "never duplicated"
    );
}

async fn filters_select_by_language_framework_build_tool_and_source(h: Harness) {
    let store = h.open();
    let mut builtin = template(
        "rails-builtin",
        StackKey::new(Language::Ruby).with_framework(Some(Framework::Rails)),
        9,
    );
    builtin.source = RecordSource::BuiltIn;
    store
        .upsert(&[
            template("django-poetry", django(BuildTool::Poetry), 9),
            template("django-pip", django(BuildTool::Pip), 9),
            template("python-plain", StackKey::new(Language::Python), 9),
            builtin,
        ])
        .await
        .unwrap();
    let cases: Vec<(Filter, Vec<&str>)> = vec![
        (
            Filter::all(),
            vec![
                "django-pip",
                "django-poetry",
                "python-plain",
                "rails-builtin",
            ],
        ),
        (
            Filter::all().language(Language::Python),
            vec!["django-pip", "django-poetry", "python-plain"],
        ),
        (
            Filter::all()
                .language(Language::Python)
                .framework(Some(Framework::Django)),
            vec!["django-pip", "django-poetry"],
        ),
        (
            Filter::all().language(Language::Python).framework(None),
            vec!["python-plain"],
        ),
        (
            Filter::all()
                .framework(Some(Framework::Django))
                .build_tool(Some(BuildTool::Pip)),
            vec!["django-pip"],
        ),
        (
            Filter::all().source(RecordSource::BuiltIn),
            vec!["rails-builtin"],
        ),
        (Filter::all().language(Language::Go), vec![]),
    ];
    for (filter, want) in cases {
        let listed = store
            .list(Collection::Templates, &filter, 100, 0)
            .await
            .unwrap();
        assert_eq!(ids(&listed), want, "list {filter:?}");
        assert_eq!(
            store.count(Collection::Templates, &filter).await.unwrap(),
            want.len(),
            "count {filter:?}"
        );
        let found = store
            .query(&Query {
                collection: Collection::Templates,
                stack: django(BuildTool::Poetry),
                filter: filter.clone(),
                limit: 5,
            })
            .await
            .unwrap();
        let found: Vec<Record> = found.into_iter().map(|s| s.record).collect();
        assert_eq!(ids(&found), want, "query {filter:?}");
    }
    let top = store
        .query(&Query {
            collection: Collection::Templates,
            stack: django(BuildTool::Poetry),
            filter: Filter::all().language(Language::Python),
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(top[0].record.id, "django-poetry", "nearest first");
    let paged = store
        .list(Collection::Templates, &Filter::all(), 2, 2)
        .await
        .unwrap();
    assert_eq!(paged.len(), 2);
}

async fn feedback_for_the_same_stack_ranks_with_successful_pipelines(h: Harness) {
    let store = h.open();
    let s = django(BuildTool::Poetry);
    store
        .upsert(&[successful("imported_green", s.clone(), 9, 50)])
        .await
        .unwrap();
    let correction = Record::feedback(
        s.clone(),
        Some(pipeline(9, "corrected")),
        None,
        "use the house Sonar template".into(),
        Origin::default(),
        NOW,
    );
    let stored = store.learn(correction.clone()).await.unwrap();
    assert!(stored.created);
    let r = retrieve(store.as_ref(), &s).await;
    assert_eq!(r.rank, RetrievalRank::SuccessfulPipeline);
    assert_eq!(
        r.pick.as_ref().map(|p| p.id.as_str()),
        Some(correction.id.as_str())
    );
    assert_eq!(r.path, Some(RagPath::Reference));
    assert!(r.reason.contains("human correction"), "{}", r.reason);
    assert_eq!(
        r.pick.and_then(|p| p.comment).as_deref(),
        Some("use the house Sonar template")
    );

    // A correction for another stack does not outrank this stack's own records, and among
    // user-made records of the same stack and stages, more successes win.
    let other = Record::feedback(
        django(BuildTool::Pip),
        Some(pipeline(12, "other")),
        Some(dockerfile("other")),
        "pip layout".into(),
        Origin::default(),
        NOW,
    );
    store.learn(other).await.unwrap();
    let green = Record::learned(
        s.clone(),
        pipeline(9, "g"),
        dockerfile("g"),
        Origin::default(),
        NOW,
    );
    store.learn(green.clone()).await.unwrap();
    store.learn(green.clone()).await.unwrap();
    assert_eq!(
        pick_id(store.as_ref(), &s).await,
        (RetrievalRank::SuccessfulPipeline, Some(green.id))
    );
}

async fn deleted_records_are_gone_from_reads_and_search(h: Harness) {
    let store = h.open();
    let s = django(BuildTool::Poetry);
    store
        .upsert(&[
            template("keep", s.clone(), 9),
            template("drop", s.clone(), 9),
        ])
        .await
        .unwrap();
    assert!(store.delete(Collection::Templates, "drop").await.unwrap());
    assert!(!store.delete(Collection::Templates, "drop").await.unwrap());
    assert!(!store.delete(Collection::Successful, "keep").await.unwrap());
    assert_eq!(
        store.get(Collection::Templates, "drop").await.unwrap(),
        None
    );
    let found = store
        .query(&Query {
            collection: Collection::Templates,
            stack: s.clone(),
            filter: Filter::all(),
            limit: 10,
        })
        .await
        .unwrap();
    let found: Vec<Record> = found.into_iter().map(|s| s.record).collect();
    assert_eq!(ids(&found), vec!["keep"]);
    assert_eq!(
        store
            .count(Collection::Templates, &Filter::all())
            .await
            .unwrap(),
        1
    );
}

async fn a_different_embedding_dimension_is_a_clear_error(h: Harness) {
    let store = h.open();
    let s = django(BuildTool::Poetry);
    store.upsert(&[template("t", s.clone(), 9)]).await.unwrap();
    let small = h.open_with(Arc::new(BuiltinEmbedder::with_dimension(8)));
    let query = Query {
        collection: Collection::Templates,
        stack: s.clone(),
        filter: Filter::all(),
        limit: 5,
    };
    let err = small.query(&query).await.unwrap_err();
    match &err {
        StoreError::DimensionMismatch {
            collection,
            expected,
            got,
            ..
        } => {
            assert_eq!(collection, "pipeline_templates");
            assert_eq!((*expected, *got), (256, 8));
        }
        other => panic!("expected a dimension mismatch, got {other:?}"),
    }
    assert!(err.to_string().contains("256-dimension"), "{err}");
    let err = small
        .upsert(&[template("u", s.clone(), 9)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::DimensionMismatch { .. }), "{err}");
    // Retrieval says so instead of answering wrongly.
    let r = retrieve(small.as_ref(), &s).await;
    assert_eq!(r.rank, RetrievalRank::BuiltIn);
    assert!(r.warnings[0].contains("dimension"), "{:?}", r.warnings);
    // The right embedder still works, and nothing was written.
    assert_eq!(
        store
            .count(Collection::Templates, &Filter::all())
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.query(&query).await.unwrap().len(), 1);
}

/// The built-in embedding under another name: same dimension, different meaning.
struct Renamed(BuiltinEmbedder);

#[async_trait::async_trait]
impl Embedder for Renamed {
    fn name(&self) -> &str {
        "another-model"
    }
    async fn embed(&self, inputs: &[EmbedInput<'_>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.0.embed(inputs).await
    }
}

async fn a_different_embedder_of_the_same_dimension_is_refused(h: Harness) {
    let store = h.open();
    let s = django(BuildTool::Poetry);
    store.upsert(&[template("t", s.clone(), 9)]).await.unwrap();
    let other = h.open_with(Arc::new(Renamed(BuiltinEmbedder::default())));
    let err = other
        .query(&Query {
            collection: Collection::Templates,
            stack: s,
            filter: Filter::all(),
            limit: 5,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::EmbedderMismatch { .. }), "{err}");
    assert!(err.to_string().contains("another-model"), "{err}");
}

async fn a_batch_with_an_invalid_record_writes_nothing(h: Harness) {
    let store = h.open();
    let s = django(BuildTool::Poetry);
    let mut huge = template("huge", s.clone(), 9);
    huge.dockerfile = Some(format!("FROM x\n{}", "#".repeat(MAX_FILE_BYTES)));
    huge.rehash();
    let err = store
        .upsert(&[template("fine", s.clone(), 9), huge])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidRecord(_)), "{err}");
    assert!(err.to_string().contains("huge"), "{err}");
    assert!(err.to_string().contains("limit"), "{err}");
    assert_eq!(
        store
            .count(Collection::Templates, &Filter::all())
            .await
            .unwrap(),
        0
    );
    let mut bad_id = template("fine", s, 9);
    bad_id.id = "../../etc/passwd".into();
    let err = store.learn(bad_id).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidRecord(_)), "{err}");
}

fn write(dir: &std::path::Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("a parent folder")).expect("create folders");
    std::fs::write(p, text).expect("write a fixture file");
}

async fn import_refuses_invalid_folders_and_stores_nothing(h: Harness) {
    let store = h.open();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "good/pipewright-template.toml",
        "language = \"go\"\nframework = \"gin\"\n",
    );
    write(dir.path(), "good/.gitlab-ci.yml", &pipeline(9, "gin"));
    write(dir.path(), "good/Dockerfile", "FROM golang:1.22\n");
    write(
        dir.path(),
        "broken/pipewright-template.toml",
        "language = \"go\"\n",
    );
    write(dir.path(), "broken/.gitlab-ci.yml", "stages: [compile\n");
    write(dir.path(), "broken/Dockerfile", "RUN echo no base\n");
    let validator = |r: &Record| -> Vec<String> {
        if r.stages_count < 9 {
            vec![format!("only {} of the 9 stages", r.stages_count)]
        } else {
            Vec::new()
        }
    };
    let err = folder::import(store.as_ref(), dir.path(), Some(&validator), NOW)
        .await
        .unwrap_err();
    let FolderError::Refused(refusals) = &err else {
        panic!("expected a refusal, got {err}");
    };
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert!(refusals[0].folder.ends_with("broken"));
    let text = err.to_string();
    for finding in [
        ".gitlab-ci.yml: YAML syntax error",
        "no FROM",
        "only 0 of the 9 stages",
    ] {
        assert!(text.contains(finding), "{finding} missing from: {text}");
    }
    assert_eq!(
        store
            .count(Collection::Templates, &Filter::all())
            .await
            .unwrap(),
        0
    );

    std::fs::remove_dir_all(dir.path().join("broken")).unwrap();
    let stored = folder::import(store.as_ref(), dir.path(), Some(&validator), NOW)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].id.starts_with("imported_go_gin_"));
    assert_eq!(
        pick_id(
            store.as_ref(),
            &StackKey::new(Language::Go).with_framework(Some(Framework::Gin))
        )
        .await,
        (RetrievalRank::FrameworkTemplate, Some(stored[0].id.clone()))
    );
}

async fn export_then_import_gives_the_same_records(h: Harness) {
    let store = h.open();
    let s = django(BuildTool::Poetry);
    let mut only_ci = template("ci-only", StackKey::new(Language::Python), 9);
    only_ci.dockerfile = None;
    only_ci.description = Some("generic python".into());
    only_ci.rehash();
    let learned = store
        .learn(Record::learned(
            s.clone(),
            pipeline(9, "x"),
            dockerfile("x"),
            Origin::default(),
            NOW,
        ))
        .await
        .unwrap()
        .record;
    store.upsert(&[only_ci.clone()]).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let written = folder::export(store.as_ref(), out.path(), Collection::ALL)
        .await
        .unwrap();
    assert_eq!(written.len(), 2);
    assert!(out
        .path()
        .join("pipeline_templates/ci-only/.gitlab-ci.yml")
        .is_file());
    assert!(!out
        .path()
        .join("pipeline_templates/ci-only/Dockerfile")
        .exists());

    let again = Harness::embedded();
    let fresh = again.open();
    let imported = folder::import(fresh.as_ref(), out.path(), None, NOW + 5)
        .await
        .unwrap();
    assert_eq!(imported.len(), 2);
    let back = fresh
        .get(Collection::Successful, &learned.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.gitlab_ci, learned.gitlab_ci);
    assert_eq!(back.dockerfile, learned.dockerfile);
    assert_eq!(back.stack, learned.stack);
    assert_eq!(back.success_count, learned.success_count);
    assert_eq!(back.source, RecordSource::Imported);
    let back = fresh
        .get(Collection::Templates, "ci-only")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.description.as_deref(), Some("generic python"));
    assert_eq!(back.dockerfile, None);
}

async fn stats_count_by_collection_language_and_source(h: Harness) {
    let store = h.open();
    store
        .upsert(&[
            template("a", django(BuildTool::Poetry), 9),
            template("b", StackKey::new(Language::Go), 9),
        ])
        .await
        .unwrap();
    store
        .learn(Record::learned(
            django(BuildTool::Pip),
            pipeline(9, "l"),
            dockerfile("l"),
            Origin::default(),
            NOW,
        ))
        .await
        .unwrap();
    let st = stats(store.as_ref()).await.unwrap();
    let by_name = |name: &str| {
        st.collections
            .iter()
            .find(|c| c.collection == name)
            .cloned()
            .unwrap_or_default()
    };
    let templates = by_name("pipeline_templates");
    assert_eq!(templates.records, 2);
    assert_eq!(
        templates.by_language,
        vec![("python".to_string(), 1), ("go".to_string(), 1)]
    );
    assert_eq!(templates.by_source, vec![("imported".to_string(), 2)]);
    assert_eq!(
        by_name("successful_pipelines").by_source,
        vec![("learned".to_string(), 1)]
    );
    assert_eq!(by_name("pipeline_feedback").records, 0);
}

// ---------------------------------------------------------------- ChromaDB down

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn down_store() -> Arc<dyn KnowledgeStore> {
    let mut config = ChromaConfig::new(format!("http://127.0.0.1:{}", closed_port()));
    config.connect_timeout = std::time::Duration::from_secs(1);
    Arc::new(ChromaStore::new(config, Arc::new(BuiltinEmbedder::default())).unwrap())
}

#[tokio::test]
async fn chromadb_down_is_unreachable_for_every_call() {
    let store = down_store();
    let s = django(BuildTool::Poetry);
    let errors = vec![
        store.upsert(&[template("t", s.clone(), 9)]).await.err(),
        store.get(Collection::Templates, "t").await.err(),
        store
            .list(Collection::Templates, &Filter::all(), 5, 0)
            .await
            .err(),
        store
            .count(Collection::Templates, &Filter::all())
            .await
            .err(),
        store.delete(Collection::Templates, "t").await.err(),
        store
            .learn(Record::learned(
                s.clone(),
                "a: 1".into(),
                "FROM x".into(),
                Origin::default(),
                NOW,
            ))
            .await
            .err(),
    ];
    for e in errors {
        let e = e.expect("an error from a server that is down");
        assert!(e.is_unreachable(), "{e}");
        assert!(e.to_string().contains("CHROMADB_HOST"), "{e}");
    }
}

#[tokio::test]
async fn chromadb_down_during_retrieval_falls_back_to_the_built_in_generator_with_a_warning() {
    let store = down_store();
    let r = retrieve(store.as_ref(), &django(BuildTool::Poetry)).await;
    assert_eq!(r.rank, RetrievalRank::BuiltIn);
    assert_eq!(r.pick, None);
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].contains("cannot reach ChromaDB"),
        "{:?}",
        r.warnings
    );
    assert!(r.reason.contains("built-in generator"), "{}", r.reason);
}
