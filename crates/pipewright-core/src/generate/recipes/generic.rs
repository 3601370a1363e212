//! A recipe built only from the analyzer's commands, for ecosystems whose own recipe file is
//! being written: the language image, the detected install/build/test/start commands.

use super::{add_app_user, dockerfile_base, dockerignore, finish_runtime, Recipe};
use crate::dockerfile::{Instruction, Stage};
use crate::generate::ServiceContext;

pub fn recipe(ctx: &ServiceContext<'_>, image: &str, tag: &str) -> Recipe {
    let c = &ctx.service.commands;
    let mut d = dockerfile_base(ctx);
    let base = ctx.base_image(image, tag);
    let mut deps = Stage::new(&base, "deps");
    deps.push(Instruction::Workdir("/app".into()));
    deps.copy(["."], ".");
    if let Some(i) = &c.install {
        deps.run([i.clone()]);
    }
    let mut build = Stage::new("deps", "build");
    if let Some(b) = &c.build {
        build.run([b.clone()]);
    } else {
        build.comment("Nothing to compile.");
    }
    let test = Stage::new("build", "test");
    let mut runtime = Stage::new("build", "runtime");
    add_app_user(&mut runtime);
    let warnings = finish_runtime(ctx, &mut runtime, "app", c.start.as_deref(), &["true"]);
    d.stages = vec![deps, build, test, runtime];
    let compile: Vec<String> = [c.install.clone(), c.build.clone()]
        .into_iter()
        .flatten()
        .collect();
    Recipe {
        build_image: (image.to_string(), tag.to_string()),
        compile,
        compile_variables: Vec::new(),
        cache: None,
        compile_artifacts: Vec::new(),
        test_setup: c.install.iter().cloned().collect(),
        test: c.test.iter().cloned().collect(),
        junit: None,
        lint: None,
        sast: None,
        dockerfile: d,
        dockerignore: dockerignore(&[]),
        context: None,
        notes: vec![format!("{image}:{tag} with the detected commands")],
        warnings,
    }
}
