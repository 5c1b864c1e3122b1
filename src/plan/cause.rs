//! Why a change is in the plan: AWS moved away from what s3rec last applied (drift), the manifest no
//! longer asks for it (edit), or both. The state holds the value each resource was last applied with,
//! so the answer is two comparisons, made here without I/O.
//!
//! A reviewer reads the two very differently: an edit is the pull request's own doing, drift is someone
//! changing production by hand, which the apply will undo.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Action, Address, Change, Value};

/// What moved since the last apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// AWS no longer has what s3rec applied; the manifest still asks for it.
    Drift,
    /// The manifest asks for something else than what s3rec applied, and AWS still has that.
    Edit,
    /// Both moved.
    DriftAndEdit,
}

impl Cause {
    /// The cause of a change to a resource last applied with `applied`: AWS now has `live` and the
    /// manifest wants `desired` (`None` where the side has nothing). `None` when neither moved, which a
    /// change normally rules out; then there is nothing to say.
    pub fn of(applied: &Value, live: Option<&Value>, desired: Option<&Value>) -> Option<Cause> {
        let drift = live != Some(applied);
        let edit = desired != Some(applied);
        match (drift, edit) {
            (true, true) => Some(Cause::DriftAndEdit),
            (true, false) => Some(Cause::Drift),
            (false, true) => Some(Cause::Edit),
            (false, false) => None,
        }
    }

    /// The label plans print: `drift`, `edit`, `drift + edit`.
    pub fn label(self) -> &'static str {
        match self {
            Cause::Drift => "drift",
            Cause::Edit => "edit",
            Cause::DriftAndEdit => "drift + edit",
        }
    }

    /// Whether AWS moved: the change undoes something done outside s3rec.
    pub fn is_drift(self) -> bool {
        match self {
            Cause::Drift | Cause::DriftAndEdit => true,
            Cause::Edit => false,
        }
    }
}

/// Sets each change's cause from the values the state recorded (`applied`, by address). Changes to
/// resources the state does not hold have no last-applied value, so no cause: they are new to s3rec
/// (created, adopted, or managed for the first time). Changes only to the state have none either.
pub fn label(changes: &mut [Change], applied: &HashMap<Address, Value>) {
    for change in changes {
        change.cause = match change.action {
            Action::Create | Action::Update | Action::Replace | Action::Delete => applied
                .get(&change.address)
                .and_then(|applied| Cause::of(applied, change.before.as_ref(), change.after.as_ref())),
            Action::Adopt | Action::NoOp => None,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Doc;

    fn tags(pairs: &[(&str, &str)]) -> Value {
        Value::Doc(Doc::Tags(
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ))
    }

    #[test]
    fn each_side_that_moved_from_the_last_apply_names_the_cause() {
        let applied = tags(&[("team", "data")]);
        let other = tags(&[("team", "ops")]);
        let third = tags(&[("team", "platform")]);
        // Someone retagged in the console; the manifest is unchanged.
        assert_eq!(Cause::of(&applied, Some(&other), Some(&applied)), Some(Cause::Drift));
        // The manifest changed; AWS still has what was applied.
        assert_eq!(Cause::of(&applied, Some(&applied), Some(&other)), Some(Cause::Edit));
        // Both.
        assert_eq!(
            Cause::of(&applied, Some(&other), Some(&third)),
            Some(Cause::DriftAndEdit)
        );
        // Deleted outside s3rec: drift; dropped from the manifest: edit.
        assert_eq!(Cause::of(&applied, None, Some(&applied)), Some(Cause::Drift));
        assert_eq!(Cause::of(&applied, Some(&applied), None), Some(Cause::Edit));
        assert_eq!(Cause::of(&applied, Some(&applied), Some(&applied)), None);
    }

    #[test]
    fn only_changes_to_resources_the_state_holds_get_a_cause() {
        let applied = tags(&[("team", "data")]);
        let change = |address: &str, action: Action, before: Value, after: Value| Change {
            address: Address(address.to_string()),
            action,
            resource: crate::plan::Resource::BucketDoc {
                logical: "logs".to_string(),
                bucket: "acme-logs".to_string(),
                region: "eu-west-1".to_string(),
                kind: crate::model::DocKind::Tags,
            },
            before: Some(before),
            after: Some(after),
            reason: None,
            irreversible: None,
            cause: None,
        };
        let mut changes = vec![
            change(
                "bucket.logs.tags",
                Action::Update,
                tags(&[("team", "ops")]),
                applied.clone(),
            ),
            change(
                "bucket.new.tags",
                Action::Update,
                tags(&[("team", "ops")]),
                applied.clone(),
            ),
            change("bucket.old.tags", Action::Adopt, applied.clone(), applied.clone()),
        ];
        let recorded = HashMap::from([
            (Address("bucket.logs.tags".to_string()), applied.clone()),
            (Address("bucket.old.tags".to_string()), tags(&[])),
        ]);
        label(&mut changes, &recorded);
        let causes: Vec<Option<Cause>> = changes.iter().map(|c| c.cause).collect();
        assert_eq!(causes, [Some(Cause::Drift), None, None]);
    }
}
