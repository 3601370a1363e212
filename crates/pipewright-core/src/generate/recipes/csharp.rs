//! Recipe for this ecosystem (the generic one until its own file is written).

use super::Recipe;
use crate::generate::ServiceContext;

pub fn recipe(ctx: &ServiceContext<'_>) -> Recipe {
    let tag = ctx.runtime.version.clone();
    super::generic::recipe(ctx, "dotnet/sdk", &tag)
}
