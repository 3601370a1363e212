//! Recipe for this ecosystem (the generic one until its own file is written).

use super::Recipe;
use crate::generate::ServiceContext;

pub fn recipe(ctx: &ServiceContext<'_>) -> Recipe {
    let tag = format!("{}-jdk", ctx.runtime.version);
    super::generic::recipe(ctx, "eclipse-temurin", &tag)
}
