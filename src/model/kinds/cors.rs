//! CORS rules, in the order given (S3 evaluates them first match first).

use super::{ApiCall, DocAccess, KindSpec};
use crate::model::DocKind;

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Cors,
    name: "cors",
    manifest_field: "cors",
    access: DocAccess {
        kind: DocKind::Cors,
        read_operation: "GetBucketCors",
        read_action: "s3:GetBucketCORS",
        write_actions: &["s3:PutBucketCORS"],
        write_calls: &[PUT, DELETE],
    },
    not_configured: &["NoSuchCORSConfiguration"],
    preconfigured_by_aws: false,
    render_root: "rules",
    after_own: &[],
    after_target: &[],
};

/// Replaces the rules.
pub const PUT: ApiCall = ApiCall {
    operation: "PutBucketCors",
    action: "s3:PutBucketCORS",
};

/// Removes every rule (S3 authorises the delete with the put action).
pub const DELETE: ApiCall = ApiCall {
    operation: "DeleteBucketCors",
    action: "s3:PutBucketCORS",
};

use serde::{Deserialize, Serialize};

use super::{ImportRefs, Kind};
use crate::manifest::types::{Bucket, CorsMethod, CorsRule};
use crate::model::desired::{Context, DesiredError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRuleDoc {
    pub id: Option<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<i32>,
}

/// In the order given: S3 evaluates CORS rules first match first.
pub struct Cors;

impl Kind for Cors {
    type Value = Vec<CorsRuleDoc>;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> Self::Value {
        Vec::new()
    }

    fn canonical(mut rules: Self::Value) -> Self::Value {
        for r in &mut rules {
            r.allowed_methods.sort();
        }
        rules
    }

    fn desired(_ctx: &Context<'_>, _logical: &str, b: &Bucket) -> Result<Option<Self::Value>, DesiredError> {
        Ok(b.cors.as_ref().map(|rules| {
            rules
                .iter()
                .map(|r| CorsRuleDoc {
                    id: r.id.clone(),
                    allowed_methods: r
                        .allowed_methods
                        .iter()
                        .filter_map(|m| {
                            serde_json::to_value(m)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_string))
                        })
                        .collect(),
                    allowed_origins: r.allowed_origins.clone(),
                    allowed_headers: r.allowed_headers.clone(),
                    expose_headers: r.expose_headers.clone(),
                    max_age_seconds: r.max_age_seconds.map(|s| i32::try_from(s).unwrap_or(i32::MAX)),
                })
                .collect()
        }))
    }

    fn to_manifest(rules: &Self::Value, bucket: &mut Bucket, _physical: &str, _refs: &ImportRefs<'_>) -> Result<(), String> {
        let mut out = Vec::new();
        for r in rules {
            let allowed_methods = r
                .allowed_methods
                .iter()
                .map(|m| {
                    serde_json::from_value::<CorsMethod>(serde_json::Value::String(m.clone()))
                        .map_err(|_| format!("the manifest has no CORS method `{m}`"))
                })
                .collect::<Result<_, _>>()?;
            out.push(CorsRule {
                id: r.id.clone(),
                allowed_methods,
                allowed_origins: r.allowed_origins.clone(),
                allowed_headers: r.allowed_headers.clone(),
                expose_headers: r.expose_headers.clone(),
                max_age_seconds: r.max_age_seconds.and_then(|s| u32::try_from(s).ok()),
            });
        }
        bucket.cors = Some(out);
        Ok(())
    }
}
