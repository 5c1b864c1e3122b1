//! Object Lock: GetObjectLockConfiguration / PutObjectLockConfiguration. There is no delete: S3 cannot
//! disable Object Lock, so every write sends `ObjectLockEnabled: Enabled` with the default retention
//! (or none, which removes it).

use aws_sdk_s3::types::{
    DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule,
};

use super::{AwsKind, invalid};
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::object_lock::{self, Mode, ObjectLock, ObjectLockDoc, Period, RetentionDoc};

impl AwsKind for ObjectLock {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<ObjectLockDoc, AwsError> {
        let out = aws.s3(region).get_object_lock_configuration().bucket(name).send().await;
        out.map(|out| object_lock_from_sdk(out.object_lock_configuration()))
            .map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, lock: &ObjectLockDoc) -> Result<(), AwsError> {
        let op = Op::write(&object_lock::PUT, name);
        let config = object_lock_to_sdk(lock).map_err(|e| invalid(&op, e))?;
        let result = aws
            .s3(region)
            .put_object_lock_configuration()
            .bucket(name)
            .object_lock_configuration(config)
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}

/// Reads the configuration; a period of 0 (moto answers `Days: 0` next to `Years`) is no period.
fn object_lock_from_sdk(config: Option<&ObjectLockConfiguration>) -> ObjectLockDoc {
    let Some(config) = config else {
        return ObjectLockDoc::default();
    };
    let enabled = config.object_lock_enabled() == Some(&ObjectLockEnabled::Enabled);
    let default_retention = config.rule().and_then(|r| r.default_retention()).and_then(|r| {
        let mode = match r.mode()? {
            ObjectLockRetentionMode::Compliance => Mode::Compliance,
            // Unknown future modes read as the weaker one rather than failing the whole plan.
            _ => Mode::Governance,
        };
        let positive = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok()).filter(|v| *v > 0);
        let period = match (positive(r.days()), positive(r.years())) {
            (Some(d), _) => Period::Days(d),
            (None, Some(y)) => Period::Years(y),
            (None, None) => return None,
        };
        Some(RetentionDoc { mode, period })
    });
    ObjectLockDoc {
        enabled,
        default_retention,
    }
}

fn object_lock_to_sdk(lock: &ObjectLockDoc) -> Result<ObjectLockConfiguration, String> {
    if !lock.enabled {
        return Err("S3 cannot disable Object Lock; only `enabled: true` can be written".into());
    }
    let rule = match lock.default_retention {
        None => None,
        Some(r) => {
            let (days, years) = match r.period {
                Period::Days(d) => (Some(d), None),
                Period::Years(y) => (None, Some(y)),
            };
            let as_i32 = |v: Option<u32>| {
                v.map(|v| i32::try_from(v).map_err(|_| format!("retention {v} is larger than S3 accepts")))
                    .transpose()
            };
            let mode = match r.mode {
                Mode::Governance => ObjectLockRetentionMode::Governance,
                Mode::Compliance => ObjectLockRetentionMode::Compliance,
            };
            let retention = DefaultRetention::builder()
                .mode(mode)
                .set_days(as_i32(days)?)
                .set_years(as_i32(years)?)
                .build();
            Some(ObjectLockRule::builder().default_retention(retention).build())
        }
    };
    Ok(ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .set_rule(rule)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_lock_round_trips() {
        for retention in [
            None,
            Some(RetentionDoc {
                mode: Mode::Governance,
                period: Period::Days(3),
            }),
            Some(RetentionDoc {
                mode: Mode::Compliance,
                period: Period::Years(7),
            }),
        ] {
            let doc = ObjectLockDoc {
                enabled: true,
                default_retention: retention,
            };
            let sdk = object_lock_to_sdk(&doc).unwrap();
            assert_eq!(object_lock_from_sdk(Some(&sdk)), doc);
        }
        assert_eq!(object_lock_from_sdk(None), ObjectLockDoc::default());
        assert!(object_lock_to_sdk(&ObjectLockDoc::default()).is_err());
    }

    #[test]
    fn a_zero_period_next_to_the_other_is_ignored() {
        let sdk = ObjectLockConfiguration::builder()
            .object_lock_enabled(ObjectLockEnabled::Enabled)
            .rule(
                ObjectLockRule::builder()
                    .default_retention(
                        DefaultRetention::builder()
                            .mode(ObjectLockRetentionMode::Compliance)
                            .days(0)
                            .years(2)
                            .build(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(
            object_lock_from_sdk(Some(&sdk)).default_retention.map(|r| r.period),
            Some(Period::Years(2))
        );
    }
}
