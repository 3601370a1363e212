//! Recipe for this ecosystem (the generic one until its own file is written).

use super::Recipe;
use crate::generate::ServiceContext;

pub fn recipe(ctx: &ServiceContext<'_>) -> Recipe {
    let tag = format!("{}-slim", ctx.runtime.version);
    super::generic::recipe(ctx, "elixir", &tag)
}
