//! Static website hosting: GetBucketWebsite / PutBucketWebsite / DeleteBucketWebsite. The empty
//! document (no website) is written by deleting the configuration.

use aws_sdk_s3::types::{
    Condition, ErrorDocument, IndexDocument, Protocol as SdkProtocol, Redirect, RedirectAllRequestsTo, RoutingRule,
    WebsiteConfiguration,
};

use super::{AwsKind, invalid};
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::website::{self, ConditionDoc, Protocol, RedirectAllDoc, RedirectDoc, RoutingRuleDoc, Website, WebsiteDoc};

impl AwsKind for Website {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<WebsiteDoc, AwsError> {
        let out = aws.s3(region).get_bucket_website().bucket(name).send().await;
        out.map(|out| {
            website_from_sdk(
                out.index_document(),
                out.error_document(),
                out.redirect_all_requests_to(),
                out.routing_rules(),
            )
        })
        .map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, website: &WebsiteDoc) -> Result<(), AwsError> {
        let s3 = aws.s3(region);
        if !website.is_configured() {
            let op = Op::write(&website::DELETE, name);
            let result = s3.delete_bucket_website().bucket(name).send().await;
            return result.map(|_| ()).map_err(|e| aws.error(&op, e));
        }
        let op = Op::write(&website::PUT, name);
        let config = website_to_sdk(website).map_err(|e| invalid(&op, e))?;
        let result = s3
            .put_bucket_website()
            .bucket(name)
            .website_configuration(config)
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}

/// The parts of a GetBucketWebsite answer as a value (the caller brings it into canonical form).
fn website_from_sdk(
    index: Option<&IndexDocument>,
    error: Option<&ErrorDocument>,
    redirect_all: Option<&RedirectAllRequestsTo>,
    rules: &[RoutingRule],
) -> WebsiteDoc {
    WebsiteDoc {
        index_document: index.map(|i| i.suffix().to_string()),
        error_document: error.map(|e| e.key().to_string()),
        routing_rules: rules
            .iter()
            .map(|r| RoutingRuleDoc {
                condition: r.condition().map(|c| ConditionDoc {
                    key_prefix_equals: c.key_prefix_equals().map(str::to_string),
                    http_error_code_returned_equals: c.http_error_code_returned_equals().map(str::to_string),
                }),
                redirect: r
                    .redirect()
                    .map(|d| RedirectDoc {
                        host_name: d.host_name().map(str::to_string),
                        protocol: d.protocol().and_then(protocol_from_sdk),
                        replace_key_prefix_with: d.replace_key_prefix_with().map(str::to_string),
                        replace_key_with: d.replace_key_with().map(str::to_string),
                        http_redirect_code: d.http_redirect_code().map(str::to_string),
                    })
                    .unwrap_or_default(),
            })
            .collect(),
        redirect_all_requests_to: redirect_all.map(|r| RedirectAllDoc {
            host_name: r.host_name().to_string(),
            protocol: r.protocol().and_then(protocol_from_sdk),
        }),
    }
}

/// A protocol S3 may add in the future reads as "the request's own", which shows as drift in the plan
/// rather than failing the whole read.
fn protocol_from_sdk(p: &SdkProtocol) -> Option<Protocol> {
    match p {
        SdkProtocol::Http => Some(Protocol::Http),
        SdkProtocol::Https => Some(Protocol::Https),
        _ => None,
    }
}

fn protocol_to_sdk(p: Protocol) -> SdkProtocol {
    match p {
        Protocol::Http => SdkProtocol::Http,
        Protocol::Https => SdkProtocol::Https,
    }
}

fn website_to_sdk(w: &WebsiteDoc) -> Result<WebsiteConfiguration, String> {
    if w.redirect_all_requests_to.is_some() && w.index_document.is_some() {
        return Err("a website either redirects every request or has an index document, not both".into());
    }
    let mut config = WebsiteConfiguration::builder();
    if let Some(suffix) = &w.index_document {
        config = config.index_document(IndexDocument::builder().suffix(suffix).build().map_err(|e| e.to_string())?);
    }
    if let Some(key) = &w.error_document {
        config = config.error_document(ErrorDocument::builder().key(key).build().map_err(|e| e.to_string())?);
    }
    if let Some(r) = &w.redirect_all_requests_to {
        let mut to = RedirectAllRequestsTo::builder().host_name(&r.host_name);
        if let Some(p) = r.protocol {
            to = to.protocol(protocol_to_sdk(p));
        }
        config = config.redirect_all_requests_to(to.build().map_err(|e| e.to_string())?);
    }
    for rule in &w.routing_rules {
        let d = &rule.redirect;
        let redirect = Redirect::builder()
            .set_host_name(d.host_name.clone())
            .set_protocol(d.protocol.map(protocol_to_sdk))
            .set_replace_key_prefix_with(d.replace_key_prefix_with.clone())
            .set_replace_key_with(d.replace_key_with.clone())
            .set_http_redirect_code(d.http_redirect_code.clone())
            .build();
        let mut out = RoutingRule::builder().redirect(redirect);
        if let Some(c) = &rule.condition {
            out = out.condition(
                Condition::builder()
                    .set_key_prefix_equals(c.key_prefix_equals.clone())
                    .set_http_error_code_returned_equals(c.http_error_code_returned_equals.clone())
                    .build(),
            );
        }
        config = config.routing_rules(out.build());
    }
    Ok(config.build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kinds::Kind;

    fn round_trip(doc: &WebsiteDoc) -> WebsiteDoc {
        let config = website_to_sdk(doc).expect("a valid website");
        website_from_sdk(
            config.index_document(),
            config.error_document(),
            config.redirect_all_requests_to(),
            config.routing_rules(),
        )
    }

    #[test]
    fn website_round_trips() {
        let serving = WebsiteDoc {
            index_document: Some("index.html".into()),
            error_document: Some("404.html".into()),
            routing_rules: vec![
                RoutingRuleDoc {
                    condition: Some(ConditionDoc {
                        key_prefix_equals: Some("docs/".into()),
                        http_error_code_returned_equals: Some("404".into()),
                    }),
                    redirect: RedirectDoc {
                        host_name: Some("example.com".into()),
                        protocol: Some(Protocol::Https),
                        replace_key_prefix_with: Some("documents/".into()),
                        replace_key_with: None,
                        http_redirect_code: Some("302".into()),
                    },
                },
                RoutingRuleDoc {
                    condition: None,
                    redirect: RedirectDoc {
                        replace_key_with: Some("error.html".into()),
                        ..RedirectDoc::default()
                    },
                },
            ],
            redirect_all_requests_to: None,
        };
        let redirecting = WebsiteDoc {
            redirect_all_requests_to: Some(RedirectAllDoc {
                host_name: "www.example.com".into(),
                protocol: Some(Protocol::Http),
            }),
            ..WebsiteDoc::default()
        };
        for doc in [serving, redirecting] {
            assert_eq!(round_trip(&doc), doc);
            assert_eq!(Website::canonical(round_trip(&doc)), doc);
        }
    }

    #[test]
    fn an_answer_with_nothing_is_no_website() {
        assert_eq!(website_from_sdk(None, None, None, &[]), WebsiteDoc::default());
    }

    #[test]
    fn serving_and_redirecting_everything_at_once_is_not_written() {
        let both = WebsiteDoc {
            index_document: Some("index.html".into()),
            redirect_all_requests_to: Some(RedirectAllDoc {
                host_name: "example.com".into(),
                protocol: None,
            }),
            ..WebsiteDoc::default()
        };
        assert!(website_to_sdk(&both).is_err());
    }
}
