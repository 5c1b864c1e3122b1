//! The environment's name: an environment file's `environment:` must be its file's stem.
//!
//! `-e NAME` finds `environments/NAME.yaml`, and the state file, run lock and saved plans are keyed by
//! that name. A file whose `environment:` said something else would be found under one name and
//! recorded under another: its saved plans would point at a file that does not exist, and two files
//! could share one state. So the two must agree, and the stem is the name.

use super::{Ctx, On, ptr};
use crate::manifest::diagnostic::Problem;

pub(super) fn check(ctx: &mut Ctx<'_>) {
    // Files outside `environments/` (examples, bases validated by path) are not environments, so
    // `environment:` alone names them.
    let Some(stem) = ctx.file_environment else {
        return;
    };
    let declared = &ctx.manifest.environment;
    if declared == stem {
        return;
    }
    ctx.report(
        Problem::error(
            "environment-name",
            format!("`environment: {declared}` differs from the file's name: this file is environment `{stem}`"),
        )
        .with_hint(format!(
            "an environment is named by its file (`-e {stem}` finds {stem}.yaml); rename the file to \
             {declared}.yaml, or set `environment: {stem}`"
        )),
        &ptr(&[&"environment"]),
        On::Value,
    );
}
