//! Semantic checks: what the schema cannot say. Each rule module reads the typed manifest and reports
//! problems against JSON pointers; [`Ctx`] places them in the sources.
//!
//! The checks are pure and independent, so one run reports every mistake, not just the first.

mod acknowledge;
mod environment;
mod inventory;
mod lifecycle;
mod names;
mod policy;
mod references;
mod retention;
mod transfers;

use std::fmt::Display;

use serde_json::Value as Json;

use super::diagnostic::Problem;
use super::types::{Bucket, Manifest, Versioning};
use super::yaml::{SpanIndex, escape_pointer};

/// Runs every semantic rule. `file_environment` is the environment the file is by its place
/// (`load::environment_of`), `None` for a file outside `environments/`.
pub fn run(manifest: &Manifest, file_environment: Option<&str>, document: &Json, index: &SpanIndex) -> Vec<Problem> {
    let mut ctx = Ctx {
        manifest,
        file_environment,
        document,
        index,
        problems: Vec::new(),
    };
    environment::check(&mut ctx);
    names::check(&mut ctx);
    lifecycle::check(&mut ctx);
    inventory::check(&mut ctx);
    policy::check(&mut ctx);
    references::check(&mut ctx);
    transfers::check(&mut ctx);
    retention::check(&mut ctx);
    acknowledge::check(&mut ctx);
    document_kinds(&mut ctx);
    ctx.problems
}

/// Each document kind's own checks of each bucket (`model::kinds::Kind::check`).
fn document_kinds(ctx: &mut Ctx<'_>) {
    for (logical, bucket) in &ctx.manifest.buckets {
        let effective = ctx.effective(bucket);
        for found in crate::model::kinds::check_bucket(bucket, &effective) {
            let pointer = format!("{}/{}", ptr(&[&"buckets", logical]), found.pointer);
            let on = if found.on_key { On::Key } else { On::Value };
            ctx.report(found.problem, &pointer, on);
        }
    }
}

/// Which part of a mapping entry a problem points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum On {
    /// The value (the usual case).
    Value,
    /// The key, for problems about the entry as a whole (a duplicate, a name).
    Key,
}

pub(crate) struct Ctx<'a> {
    pub manifest: &'a Manifest,
    /// The environment the file is by its place, whose name `environment:` must repeat.
    pub file_environment: Option<&'a str>,
    pub document: &'a Json,
    pub index: &'a SpanIndex,
    pub problems: Vec<Problem>,
}

impl Ctx<'_> {
    /// Records `problem` at `pointer`, falling back to the nearest written ancestor for defaulted values.
    pub fn report(&mut self, problem: Problem, pointer: &str, on: On) {
        let mut problem = problem.with_pointer(pointer);
        if let Some(l) = self.index.locate(pointer) {
            let span = match on {
                On::Key => l.key.unwrap_or(l.value),
                On::Value => l.value,
            };
            problem = problem.at(span);
        }
        self.problems.push(problem);
    }

    /// The bucket as reconciled: its own settings over `defaults`.
    pub fn effective(&self, bucket: &Bucket) -> Bucket {
        effective_bucket(self.manifest, bucket)
    }
}

/// A bucket's settings with `defaults` applied: a bucket's own value replaces the default, tags merge.
pub fn effective_bucket(manifest: &Manifest, bucket: &Bucket) -> Bucket {
    let d = &manifest.defaults;
    let mut b = bucket.clone();
    b.region = b
        .region
        .or_else(|| d.region.clone())
        .or_else(|| manifest.aws.region.clone());
    b.versioning = b.versioning.or(d.versioning);
    b.encryption = b.encryption.or_else(|| d.encryption.clone());
    b.public_access_block = b.public_access_block.or(d.public_access_block);
    b.object_ownership = b.object_ownership.or(d.object_ownership);
    b.prevent_destroy = b.prevent_destroy.or(d.prevent_destroy);
    b.tags = match (&d.tags, &b.tags) {
        (None, own) => own.clone(),
        (Some(defaults), None) => Some(defaults.clone()),
        (Some(defaults), Some(own)) => {
            let mut merged = defaults.clone();
            merged.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
            Some(merged)
        }
    };
    if let Some(pd) = &d.policy
        && pd.deny_insecure_transport
    {
        let policy = b.policy.get_or_insert_with(Default::default);
        if policy.deny_insecure_transport.is_none() {
            policy.deny_insecure_transport = Some(true);
        }
    }
    b
}

/// Whether versioning is (going to be) enabled on a bucket.
pub(crate) fn versioning_enabled(b: &Bucket) -> bool {
    b.versioning == Some(Versioning::Enabled)
}

/// Builds a JSON pointer from segments, escaping each.
pub(crate) fn ptr(segments: &[&dyn Display]) -> String {
    segments
        .iter()
        .map(|s| format!("/{}", escape_pointer(&s.to_string())))
        .collect()
}
