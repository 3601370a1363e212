//! `pipewright images DIR [--seed] [--dry-run] [--platform P] [--json]`: lists every image the
//! generated files in DIR use, with its upstream source, its target in the team's registry and
//! whether it is there; with `--seed` copies the missing ones natively. Exit 0 when every
//! image is present afterwards, 1 when any is missing or failed (each named), 2 on bad usage.
//! [`seeding`] builds the registry client the service and the workflow use too.

use super::config::{self, ImagesConfig, SettingsArgs};
use super::exit;
use super::failure::{print_json, Failure};
use crate::serve::error::ErrorKind;
use clap::Args;
use pipewright_adapters::registry::{ClientSettings, CopySettings, Credentials, NativeRegistry};
use pipewright_core::generate::GeneratorSettings;
use pipewright_core::images::{ImageSettings, Platform, Progress, UpstreamMap};
use pipewright_workflow::images::{plan_files, seed_images, SeedOptions, SeedReport};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// The folder holding the generated files (.gitlab-ci.yml and Dockerfiles).
    pub dir: PathBuf,
    /// Copy the missing images from their upstream sources.
    #[arg(long)]
    pub seed: bool,
    /// With --seed: say what would be copied, copy nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Copy only this platform (repeatable, os/arch[/variant]); default: all, digest kept.
    #[arg(long = "platform", value_name = "P")]
    pub platforms: Vec<String>,
    /// Print `{"images": [{"source", "target", "present", "copied", "digest", "error"}]}`.
    #[arg(long)]
    pub json: bool,
    /// Images looked up or copied at once.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub parallel: usize,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// A registry client and the image settings, from the configuration.
pub struct Seeding {
    pub registry: NativeRegistry,
    pub settings: ImageSettings,
}

/// Builds the seeding client from `[images]` and the environment. `Err` says what to set.
pub fn seeding(
    images: &ImagesConfig,
    generator: &GeneratorSettings,
    progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>,
) -> Result<Seeding, String> {
    let push = images.registry.clone().ok_or(
        "no registry to seed: set NEXUS_REGISTRY (host:port of the team's registry) or `registry` under [images] in pipewright.toml",
    )?;
    let mut settings =
        ImageSettings::for_registry(&push, images.pull_registry.as_deref(), generator);
    settings.mirrors = images.mirrors.clone();
    settings.upstream = UpstreamMap::new(images.upstream.clone())
        .map_err(|e| format!("pipewright.toml [images.upstream]: {e}"))?
        .with_tools(&generator.tools);
    let ours: Vec<String> = std::iter::once(push.clone())
        .chain(images.pull_registry.clone())
        .collect();
    let mut client = ClientSettings::default();
    if images.insecure {
        client.insecure = ours.clone();
        client
            .insecure
            .extend(images.mirrors.iter().map(|m| m.registry.clone()));
    }
    if let (Some(user), Some(password)) = (&images.username, &images.password) {
        for host in &ours {
            client.credentials.push((
                host.clone(),
                Credentials {
                    username: user.clone(),
                    password: password.clone(),
                },
            ));
        }
    }
    if let Some(ca) = &images.ca_file {
        let pem = std::fs::read(ca)
            .map_err(|e| format!("cannot read the CA file {}: {e}", ca.display()))?;
        client.ca_pem.push(pem);
    }
    let copy = CopySettings {
        progress,
        ..Default::default()
    };
    let registry = NativeRegistry::new(client, copy)?;
    Ok(Seeding { registry, settings })
}

/// The generated files in `dir`: `.gitlab-ci.yml` files and Dockerfiles, up to four folders
/// deep (monorepo services), `.git` and dependency folders skipped.
fn read_files(dir: &Path) -> Result<BTreeMap<String, String>, String> {
    fn walk(root: &Path, dir: &Path, depth: usize, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                if depth < 4
                    && !matches!(
                        name.as_str(),
                        ".git" | "node_modules" | "target" | "vendor" | ".venv"
                    )
                {
                    walk(root, &path, depth + 1, out);
                }
            } else if kind.is_file()
                && (name.ends_with(".gitlab-ci.yml")
                    || name == "Dockerfile"
                    || name.starts_with("Dockerfile.")
                    || name.ends_with(".Dockerfile"))
                && e.metadata().is_ok_and(|m| m.len() <= 4 * 1024 * 1024)
            {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    let rel = path
                        .strip_prefix(root)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .replace('\\', "/");
                    out.insert(rel, text);
                }
            }
        }
    }
    if !dir.is_dir() {
        return Err(format!(
            "{} is not a folder; give the folder holding the generated files",
            dir.display()
        ));
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, 0, &mut out);
    if out.is_empty() {
        return Err(format!(
            "{} holds no .gitlab-ci.yml or Dockerfile",
            dir.display()
        ));
    }
    Ok(out)
}

pub fn run(args: ImagesArgs) -> i32 {
    let settings = match config::load(&args.settings) {
        Ok(s) => s,
        Err(e) => return Failure::usage("--config", e.to_string()).report(args.json),
    };
    let mut platforms = Vec::new();
    for p in &args.platforms {
        match Platform::parse(p) {
            Ok(p) => platforms.push(p),
            Err(e) => {
                return Failure::usage("--platform", format!("--platform {e}")).report(args.json)
            }
        }
    }
    let files = match read_files(&args.dir) {
        Ok(f) => f,
        Err(e) => return Failure::usage("dir", e).report(args.json),
    };
    let sent = Arc::new(AtomicU64::new(0));
    let terminal = std::io::stderr().is_terminal() && !args.json;
    let progress: Option<Arc<dyn Fn(Progress) + Send + Sync>> = terminal.then(|| {
        let sent = sent.clone();
        Arc::new(move |p: Progress| {
            if let Progress::Bytes { bytes, .. } = p {
                sent.fetch_add(bytes, Ordering::Relaxed);
            }
        }) as Arc<dyn Fn(Progress) + Send + Sync>
    });
    let seeding = match seeding(&settings.images, &settings.generator, progress) {
        Ok(s) => s,
        Err(e) => {
            return Failure::new(exit::USAGE, ErrorKind::RegistryNotConfigured, e.to_string())
                .report(args.json)
        }
    };
    let plan = plan_files(&files, &seeding.settings);
    let options = SeedOptions {
        seed: args.seed,
        dry_run: args.dry_run,
        platforms,
        parallel: args.parallel.max(1),
    };
    let Some(rt) = crate::setup::runtime(false) else {
        return exit::FAILURE;
    };
    let report = rt.block_on(async {
        let ticker = terminal.then(|| {
            let sent = sent.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                    let n = sent.load(Ordering::Relaxed);
                    if n > 0 {
                        eprint!("\rcopying: {:.1} MB sent", n as f64 / 1e6);
                    }
                }
            })
        });
        let report = seed_images(&seeding.registry, &plan, &options).await;
        if let Some(t) = ticker {
            t.abort();
            if sent.load(Ordering::Relaxed) > 0 {
                eprintln!();
            }
        }
        report
    });
    if args.json {
        if let Err(f) = print_json(&report) {
            return f.report(false);
        }
    } else {
        print_human(&report);
    }
    if report.all_present() {
        exit::OK
    } else {
        exit::FAILURE
    }
}

/// Image names come from the repository's files: each value is escaped, so no escape
/// sequence reaches the terminal.
fn print_human(report: &SeedReport) {
    use pipewright_core::quote::for_terminal as t;
    for i in &report.images {
        let state = match (i.present, i.copied) {
            (true, true) => "copied ",
            (true, false) => "present",
            (false, _) => "MISSING",
        };
        let source = i.source.as_deref().unwrap_or("(no upstream known)");
        outln!("{state}  {}  <-  {}", t(&i.target), t(source));
        if let Some(e) = &i.error {
            outln!("         {}", t(&e.to_string()));
        }
    }
    for b in &report.built {
        outln!("built    {}  (the pipeline builds it)", t(&b.to_string()));
    }
    for e in &report.external {
        outln!(
            "outside  {}  (not in the team's registry; left alone)",
            t(&e.to_string())
        );
    }
    let missing = report.images.iter().filter(|i| !i.present).count();
    outln!(
        "{} image(s): {} present, {} copied, {missing} missing",
        report.images.len(),
        report.images.iter().filter(|i| i.present).count(),
        report.images.iter().filter(|i| i.copied).count()
    );
}
