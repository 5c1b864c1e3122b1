//! CORS rules: GetBucketCors / PutBucketCors / DeleteBucketCors.

use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

use super::{non_empty, non_empty_list};
use super::{AwsKind, invalid};
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::cors::{self, Cors, CorsRuleDoc};

impl AwsKind for Cors {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<Vec<CorsRuleDoc>, AwsError> {
        let out = aws.s3(region).get_bucket_cors().bucket(name).send().await;
        out.map(|out| cors_from_sdk(out.cors_rules())).map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, rules: &Vec<CorsRuleDoc>) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        if rules.is_empty() {
            let op = Op::write(&cors::DELETE, name);
            let result = s3.delete_bucket_cors().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        }
        let op = Op::write(&cors::PUT, name);
        let config = cors_to_sdk(rules).map_err(|e| invalid(&op, e))?;
        let result = s3
            .put_bucket_cors()
            .bucket(name)
            .cors_configuration(config)
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}

fn cors_from_sdk(rules: &[CorsRule]) -> Vec<CorsRuleDoc> {
    rules
        .iter()
        .map(|r| CorsRuleDoc {
            id: non_empty(r.id()),
            allowed_methods: r.allowed_methods().to_vec(),
            allowed_origins: r.allowed_origins().to_vec(),
            // An absent list and an empty one mean the same; the SDK reads both as empty.
            allowed_headers: r.allowed_headers().to_vec(),
            expose_headers: r.expose_headers().to_vec(),
            max_age_seconds: r.max_age_seconds(),
        })
        .collect()
}

fn cors_to_sdk(rules: &[CorsRuleDoc]) -> Result<CorsConfiguration, String> {
    let rules = rules
        .iter()
        .map(|r| {
            CorsRule::builder()
                .set_id(r.id.clone())
                .set_allowed_methods(Some(r.allowed_methods.clone()))
                .set_allowed_origins(Some(r.allowed_origins.clone()))
                .set_allowed_headers(non_empty_list(&r.allowed_headers))
                .set_expose_headers(non_empty_list(&r.expose_headers))
                .set_max_age_seconds(r.max_age_seconds)
                .build()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    CorsConfiguration::builder()
        .set_cors_rules(Some(rules))
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_round_trips() {
        let cors = vec![
            CorsRuleDoc {
                id: Some("app".into()),
                allowed_methods: vec!["GET".into(), "PUT".into()],
                allowed_origins: vec!["https://example.com".into()],
                allowed_headers: vec!["*".into()],
                expose_headers: vec!["ETag".into()],
                max_age_seconds: Some(600),
            },
            CorsRuleDoc {
                id: None,
                allowed_methods: vec!["GET".into()],
                allowed_origins: vec!["*".into()],
                allowed_headers: Vec::new(),
                expose_headers: Vec::new(),
                max_age_seconds: None,
            },
        ];
        assert_eq!(cors_from_sdk(cors_to_sdk(&cors).unwrap().cors_rules()), cors);
    }
}
