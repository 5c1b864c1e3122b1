//! Object Lock (WORM): enabled, and an optional default retention (GOVERNANCE or COMPLIANCE, days or
//! years). S3 refuses it unless the bucket is versioned, so it comes after versioning changes; it
//! cannot be disabled once enabled, and COMPLIANCE retention already given to objects cannot be
//! shortened by anyone, so such changes are marked irreversible in plans.

use serde::{Deserialize, Serialize};

use super::{ApiCall, DocAccess, ImportRefs, Kind, KindProblem, KindSpec};
use crate::manifest::diagnostic::Problem;
use crate::manifest::types::{Bucket, DefaultRetention, ObjectLock as ManifestObjectLock, RetentionMode, Versioning};
use crate::model::DocKind;
use crate::model::desired::{Context, DesiredError};

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::ObjectLock,
    name: "object_lock",
    manifest_field: "object_lock",
    access: DocAccess {
        kind: DocKind::ObjectLock,
        read_operation: "GetObjectLockConfiguration",
        read_action: "s3:GetBucketObjectLockConfiguration",
        write_actions: &["s3:PutBucketObjectLockConfiguration"],
        write_calls: &[PUT],
    },
    not_configured: &["ObjectLockConfigurationNotFoundError"],
    preconfigured_by_aws: false,
    render_root: "",
    after_own: &[DocKind::Versioning],
    after_target: &[],
};

/// Sets Object Lock and its default retention (there is no delete: it cannot be disabled).
pub const PUT: ApiCall = ApiCall {
    operation: "PutObjectLockConfiguration",
    action: "s3:PutBucketObjectLockConfiguration",
};

/// A bucket's Object Lock configuration; "not configured" is not enabled and no default retention.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLockDoc {
    pub enabled: bool,
    pub default_retention: Option<RetentionDoc>,
}

/// A default retention in canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionDoc {
    /// `GOVERNANCE` or `COMPLIANCE`.
    pub mode: Mode,
    pub period: Period,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    Governance,
    Compliance,
}

/// S3 takes a retention in days or in years, never both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Days(u32),
    Years(u32),
}

impl Period {
    /// The period in days, as S3 counts a retention year (365 days), for comparisons.
    pub fn in_days(self) -> u64 {
        match self {
            Period::Days(d) => u64::from(d),
            Period::Years(y) => u64::from(y) * 365,
        }
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Period::Days(1) => f.write_str("1 day"),
            Period::Days(d) => write!(f, "{d} days"),
            Period::Years(1) => f.write_str("1 year"),
            Period::Years(y) => write!(f, "{y} years"),
        }
    }
}

pub struct ObjectLock;

/// Why enabling Object Lock is marked irreversible.
pub const ENABLING: &str = "Object Lock cannot be disabled once enabled";

impl Kind for ObjectLock {
    type Value = ObjectLockDoc;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> ObjectLockDoc {
        ObjectLockDoc::default()
    }

    fn desired(_ctx: &Context<'_>, _logical: &str, b: &Bucket) -> Result<Option<ObjectLockDoc>, DesiredError> {
        Ok(b.object_lock.as_ref().map(|lock| ObjectLockDoc {
            enabled: lock.enabled,
            default_retention: lock.default_retention.as_ref().and_then(retention),
        }))
    }

    fn to_manifest(v: &ObjectLockDoc, bucket: &mut Bucket, _physical: &str, _refs: &ImportRefs<'_>) -> Result<(), String> {
        if !v.enabled {
            return Err("it has a default retention without Object Lock enabled".into());
        }
        bucket.object_lock = Some(ManifestObjectLock {
            enabled: true,
            default_retention: v.default_retention.map(|r| DefaultRetention {
                mode: match r.mode {
                    Mode::Governance => RetentionMode::Governance,
                    Mode::Compliance => RetentionMode::Compliance,
                },
                days: match r.period {
                    Period::Days(d) => Some(d),
                    Period::Years(_) => None,
                },
                years: match r.period {
                    Period::Years(y) => Some(y),
                    Period::Days(_) => None,
                },
            }),
        });
        Ok(())
    }

    fn irreversible(before: Option<&ObjectLockDoc>, after: &ObjectLockDoc) -> Option<String> {
        let was_enabled = before.is_some_and(|b| b.enabled);
        if after.enabled && !was_enabled {
            return Some(ENABLING.to_string());
        }
        let before = before.and_then(|b| b.default_retention)?;
        if before.mode != Mode::Compliance {
            return None;
        }
        let shortened = match after.default_retention {
            None => Some("removes the COMPLIANCE default retention".to_string()),
            Some(a) if a.mode == Mode::Governance => Some(format!(
                "turns the COMPLIANCE default retention ({}) into GOVERNANCE ({})",
                before.period, a.period
            )),
            Some(a) if a.period.in_days() < before.period.in_days() => Some(format!(
                "shortens the COMPLIANCE default retention from {} to {}",
                before.period, a.period
            )),
            Some(_) => None,
        };
        shortened.map(|what| {
            format!("{what}; objects already written under COMPLIANCE retention keep it, which cannot be undone")
        })
    }

    fn check(own: &Bucket, effective: &Bucket) -> Vec<KindProblem> {
        let Some(lock) = &own.object_lock else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if effective.versioning != Some(Versioning::Enabled) {
            out.push(KindProblem {
                problem: Problem::error(
                    "object-lock",
                    "`object_lock` needs `versioning: enabled` on the bucket: S3 refuses Object Lock on an unversioned bucket",
                )
                .with_hint("add `versioning: enabled` to the bucket (or to `defaults`)"),
                pointer: "object_lock".into(),
                on_key: true,
            });
        }
        if !lock.enabled {
            out.push(KindProblem {
                problem: Problem::error("object-lock", "`object_lock.enabled` must be `true`: S3 cannot disable Object Lock")
                    .with_hint("remove `object_lock` to stop managing it; a bucket that has Object Lock keeps it"),
                pointer: "object_lock/enabled".into(),
                on_key: false,
            });
        }
        if let Some(r) = &lock.default_retention
            && r.days.is_some() == r.years.is_some()
        {
            out.push(KindProblem {
                problem: Problem::error(
                    "object-lock",
                    "a default retention has exactly one of `days` or `years`",
                )
                .with_hint("write either `days: N` or `years: N` under `default_retention`"),
                pointer: "object_lock/default_retention".into(),
                on_key: true,
            });
        }
        out
    }
}

/// The manifest's default retention in canonical form; `None` when it names neither or both periods,
/// which `check` refuses before any plan.
fn retention(r: &DefaultRetention) -> Option<RetentionDoc> {
    let period = match (r.days, r.years) {
        (Some(d), None) => Period::Days(d),
        (None, Some(y)) => Period::Years(y),
        (None, None) | (Some(_), Some(_)) => return None,
    };
    let mode = match r.mode {
        RetentionMode::Governance => Mode::Governance,
        RetentionMode::Compliance => Mode::Compliance,
    };
    Some(RetentionDoc { mode, period })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(retention: Option<(Mode, Period)>) -> ObjectLockDoc {
        ObjectLockDoc {
            enabled: true,
            default_retention: retention.map(|(mode, period)| RetentionDoc { mode, period }),
        }
    }

    /// The irreversible judgement, case by case: enabling, and every way COMPLIANCE gets weaker.
    #[test]
    fn irreversible_judgement_table() {
        use Mode::{Compliance as C, Governance as G};
        use Period::{Days, Years};
        let off = ObjectLockDoc::default();
        let cases: Vec<(Option<ObjectLockDoc>, ObjectLockDoc, Option<&str>)> = vec![
            // Enabling, on a new bucket or an existing one.
            (None, lock(None), Some(ENABLING)),
            (Some(off.clone()), lock(Some((G, Days(1)))), Some(ENABLING)),
            // Already enabled: GOVERNANCE changes and longer COMPLIANCE are reversible.
            (Some(lock(Some((G, Days(1))))), lock(Some((G, Days(3)))), None),
            (Some(lock(Some((G, Days(3))))), lock(Some((G, Days(1)))), None),
            (Some(lock(Some((G, Days(3))))), lock(None), None),
            (Some(lock(Some((G, Days(3))))), lock(Some((C, Days(3)))), None),
            (Some(lock(Some((C, Days(3))))), lock(Some((C, Days(30)))), None),
            (Some(lock(Some((C, Days(30))))), lock(Some((C, Years(1)))), None),
            (Some(lock(None)), lock(Some((C, Days(1)))), None),
            // COMPLIANCE made weaker.
            (
                Some(lock(Some((C, Days(30))))),
                lock(Some((C, Days(7)))),
                Some("shortens the COMPLIANCE default retention from 30 days to 7 days"),
            ),
            (
                Some(lock(Some((C, Years(1))))),
                lock(Some((C, Days(364)))),
                Some("shortens the COMPLIANCE default retention from 1 year to 364 days"),
            ),
            (
                Some(lock(Some((C, Days(3))))),
                lock(Some((G, Days(3)))),
                Some("turns the COMPLIANCE default retention (3 days) into GOVERNANCE (3 days)"),
            ),
            (
                Some(lock(Some((C, Years(2))))),
                lock(None),
                Some("removes the COMPLIANCE default retention"),
            ),
        ];
        for (before, after, want) in cases {
            let got = ObjectLock::irreversible(before.as_ref(), &after);
            match want {
                None => assert_eq!(got, None, "{before:?} → {after:?}"),
                Some(want) => {
                    let got = got.unwrap_or_default();
                    assert!(got.starts_with(want), "{before:?} → {after:?}: {got}");
                    if want != ENABLING {
                        assert!(got.ends_with("cannot be undone"), "{got}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_manifest_section_becomes_the_canonical_value() {
        let both = DefaultRetention {
            mode: RetentionMode::Compliance,
            days: Some(1),
            years: Some(1),
        };
        assert_eq!(retention(&both), None);
        let years = DefaultRetention {
            mode: RetentionMode::Compliance,
            days: None,
            years: Some(2),
        };
        assert_eq!(
            retention(&years),
            Some(RetentionDoc {
                mode: Mode::Compliance,
                period: Period::Years(2)
            })
        );
    }
}
