//! Static website hosting: the bucket serves its objects (an index document, an optional error
//! document and routing rules) or redirects every request to another host. S3 refuses both at once, so
//! `check` does too, with the place and the way out. A bucket without a website configuration reads as
//! the empty document, and writing the empty document removes the configuration (DeleteBucketWebsite).

use serde::{Deserialize, Serialize};

use super::{ApiCall, DocAccess, ImportRefs, Kind, KindProblem, KindSpec};
use crate::manifest::diagnostic::Problem;
use crate::manifest::types::{
    Bucket, RedirectAllRequestsTo, RoutingCondition, RoutingRedirect, RoutingRule, Website as ManifestWebsite,
    WebsiteProtocol,
};
use crate::model::DocKind;
use crate::model::desired::{Context, DesiredError};

pub const SPEC: KindSpec = KindSpec {
    kind: DocKind::Website,
    name: "website",
    manifest_field: "website",
    access: DocAccess {
        kind: DocKind::Website,
        read_operation: "GetBucketWebsite",
        read_action: "s3:GetBucketWebsite",
        // DeleteBucketWebsite has its own action, unlike most Delete* calls of S3.
        write_actions: &["s3:DeleteBucketWebsite", "s3:PutBucketWebsite"],
        write_calls: &[PUT, DELETE],
    },
    not_configured: &["NoSuchWebsiteConfiguration"],
    preconfigured_by_aws: false,
    render_root: "",
    after_own: &[],
    after_target: &[],
};

/// Replaces the website configuration.
pub const PUT: ApiCall = ApiCall {
    operation: "PutBucketWebsite",
    action: "s3:PutBucketWebsite",
};

/// Removes the website configuration (its own IAM action, unlike most of S3's deletes).
pub const DELETE: ApiCall = ApiCall {
    operation: "DeleteBucketWebsite",
    action: "s3:DeleteBucketWebsite",
};

/// A bucket's website configuration in canonical form; the default value is "no website".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebsiteDoc {
    /// The index document's suffix, e.g. `index.html`.
    pub index_document: Option<String>,
    /// The key of the error document.
    pub error_document: Option<String>,
    /// Redirect rules, in order: S3 applies the first that matches.
    pub routing_rules: Vec<RoutingRuleDoc>,
    /// Where every request goes instead, when the bucket only redirects.
    pub redirect_all_requests_to: Option<RedirectAllDoc>,
}

impl WebsiteDoc {
    /// Whether the document configures a website at all (the empty document is removed, not written).
    pub fn is_configured(&self) -> bool {
        *self != WebsiteDoc::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectAllDoc {
    pub host_name: String,
    pub protocol: Option<Protocol>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingRuleDoc {
    /// `None` applies the rule to every request.
    pub condition: Option<ConditionDoc>,
    pub redirect: RedirectDoc,
}

/// HTTP codes are kept as the strings S3 holds, so a value S3 accepts always reads back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionDoc {
    pub key_prefix_equals: Option<String>,
    pub http_error_code_returned_equals: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectDoc {
    pub host_name: Option<String>,
    pub protocol: Option<Protocol>,
    pub replace_key_prefix_with: Option<String>,
    pub replace_key_with: Option<String>,
    pub http_redirect_code: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Https,
}

pub struct Website;

impl Kind for Website {
    type Value = WebsiteDoc;
    const SPEC: KindSpec = SPEC;

    fn unconfigured() -> WebsiteDoc {
        WebsiteDoc::default()
    }

    /// Empty strings are absent (S3 and the SDK do not tell them apart), as is a condition with nothing
    /// in it, and a redirect-all with an empty host is no redirect.
    fn canonical(v: WebsiteDoc) -> WebsiteDoc {
        let routing_rules = v
            .routing_rules
            .into_iter()
            .map(|r| RoutingRuleDoc {
                condition: r
                    .condition
                    .map(|c| ConditionDoc {
                        key_prefix_equals: present(c.key_prefix_equals),
                        http_error_code_returned_equals: present(c.http_error_code_returned_equals),
                    })
                    .filter(|c| *c != ConditionDoc::default()),
                redirect: RedirectDoc {
                    host_name: present(r.redirect.host_name),
                    protocol: r.redirect.protocol,
                    replace_key_prefix_with: present(r.redirect.replace_key_prefix_with),
                    replace_key_with: present(r.redirect.replace_key_with),
                    http_redirect_code: present(r.redirect.http_redirect_code),
                },
            })
            .collect();
        WebsiteDoc {
            index_document: present(v.index_document),
            error_document: present(v.error_document),
            routing_rules,
            redirect_all_requests_to: v.redirect_all_requests_to.filter(|r| !r.host_name.trim().is_empty()),
        }
    }

    fn desired(_ctx: &Context<'_>, _logical: &str, b: &Bucket) -> Result<Option<WebsiteDoc>, DesiredError> {
        Ok(b.website.as_ref().map(from_manifest))
    }

    fn to_manifest(v: &WebsiteDoc, bucket: &mut Bucket, _physical: &str, _refs: &ImportRefs<'_>) -> Result<(), String> {
        bucket.website = Some(to_manifest(v)?);
        Ok(())
    }

    fn check(own: &Bucket, _effective: &Bucket) -> Vec<KindProblem> {
        own.website.as_ref().map(check_website).unwrap_or_default()
    }
}

fn present(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The manifest's section as a value (before [`Kind::canonical`]).
fn from_manifest(w: &ManifestWebsite) -> WebsiteDoc {
    WebsiteDoc {
        index_document: w.index_document.clone(),
        error_document: w.error_document.clone(),
        routing_rules: w
            .routing_rules
            .iter()
            .flatten()
            .map(|r| RoutingRuleDoc {
                condition: r.condition.as_ref().map(|c| ConditionDoc {
                    key_prefix_equals: c.key_prefix_equals.clone(),
                    http_error_code_returned_equals: c.http_error_code_returned_equals.map(|c| c.to_string()),
                }),
                redirect: RedirectDoc {
                    host_name: r.redirect.host_name.clone(),
                    protocol: r.redirect.protocol.map(protocol_from_manifest),
                    replace_key_prefix_with: r.redirect.replace_key_prefix_with.clone(),
                    replace_key_with: r.redirect.replace_key_with.clone(),
                    http_redirect_code: r.redirect.http_redirect_code.map(|c| c.to_string()),
                },
            })
            .collect(),
        redirect_all_requests_to: w.redirect_all_requests_to.as_ref().map(|r| RedirectAllDoc {
            host_name: r.host_name.clone(),
            protocol: r.protocol.map(protocol_from_manifest),
        }),
    }
}

/// The value as the manifest writes it, for `import`; an HTTP code that is not a number cannot be.
fn to_manifest(v: &WebsiteDoc) -> Result<ManifestWebsite, String> {
    let code = |c: &Option<String>, what: &str| -> Result<Option<u16>, String> {
        c.as_deref()
            .map(|c| {
                c.parse::<u16>()
                    .map_err(|_| format!("its website {what} `{c}` is not an HTTP code"))
            })
            .transpose()
    };
    let mut rules = Vec::new();
    for r in &v.routing_rules {
        let condition = match &r.condition {
            None => None,
            Some(c) => Some(RoutingCondition {
                key_prefix_equals: c.key_prefix_equals.clone(),
                http_error_code_returned_equals: code(
                    &c.http_error_code_returned_equals,
                    "routing condition's error code",
                )?,
            }),
        };
        rules.push(RoutingRule {
            condition,
            redirect: RoutingRedirect {
                host_name: r.redirect.host_name.clone(),
                protocol: r.redirect.protocol.map(protocol_to_manifest),
                replace_key_prefix_with: r.redirect.replace_key_prefix_with.clone(),
                replace_key_with: r.redirect.replace_key_with.clone(),
                http_redirect_code: code(&r.redirect.http_redirect_code, "redirect code")?,
            },
        });
    }
    Ok(ManifestWebsite {
        index_document: v.index_document.clone(),
        error_document: v.error_document.clone(),
        routing_rules: (!rules.is_empty()).then_some(rules),
        redirect_all_requests_to: v.redirect_all_requests_to.as_ref().map(|r| RedirectAllRequestsTo {
            host_name: r.host_name.clone(),
            protocol: r.protocol.map(protocol_to_manifest),
        }),
    })
}

fn protocol_from_manifest(p: WebsiteProtocol) -> Protocol {
    match p {
        WebsiteProtocol::Http => Protocol::Http,
        WebsiteProtocol::Https => Protocol::Https,
    }
}

fn protocol_to_manifest(p: Protocol) -> WebsiteProtocol {
    match p {
        Protocol::Http => WebsiteProtocol::Http,
        Protocol::Https => WebsiteProtocol::Https,
    }
}

/// What S3 refuses in a website configuration that the schema cannot say: serving and redirecting
/// everything at once, an error document or routing rules without an index document, an index suffix
/// with a slash, and a redirect that replaces both the key and its prefix.
fn check_website(w: &ManifestWebsite) -> Vec<KindProblem> {
    let mut out = Vec::new();
    let problem = |message: String, hint: &str, pointer: &str| KindProblem {
        problem: Problem::error("website", message).with_hint(hint.to_string()),
        pointer: pointer.to_string(),
        on_key: true,
    };
    if w.redirect_all_requests_to.is_some() {
        let serving: Vec<&str> = [
            ("index_document", w.index_document.is_some()),
            ("error_document", w.error_document.is_some()),
            ("routing_rules", w.routing_rules.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, set)| set.then_some(field))
        .collect();
        if !serving.is_empty() {
            let fields = serving.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ");
            out.push(problem(
                format!(
                    "`website.redirect_all_requests_to` excludes {fields}: a website either redirects every request or serves the bucket's objects"
                ),
                "keep either `redirect_all_requests_to` or `index_document` (with `error_document` and `routing_rules`)",
                "website/redirect_all_requests_to",
            ));
        }
    } else if w.index_document.is_none() {
        for field in ["error_document", "routing_rules"] {
            let set = match field {
                "error_document" => w.error_document.is_some(),
                _ => w.routing_rules.is_some(),
            };
            if set {
                out.push(problem(
                    format!("`website.{field}` needs `website.index_document`: S3 refuses a website without one"),
                    "add `index_document: index.html` (or the suffix the site uses), or use `redirect_all_requests_to`",
                    &format!("website/{field}"),
                ));
            }
        }
    }
    if let Some(index) = &w.index_document
        && index.contains('/')
    {
        out.push(KindProblem {
            on_key: false,
            ..problem(
                format!("`website.index_document` is a suffix, and S3 refuses one with a slash: `{index}`"),
                "write the file name only, e.g. `index.html`",
                "website/index_document",
            )
        });
    }
    for (i, rule) in w.routing_rules.iter().flatten().enumerate() {
        if rule.redirect.replace_key_prefix_with.is_some() && rule.redirect.replace_key_with.is_some() {
            out.push(problem(
                format!(
                    "routing rule {} of `website` has both `replace_key_prefix_with` and `replace_key_with`; S3 takes one",
                    i + 1
                ),
                "keep `replace_key_prefix_with` to swap the matched prefix, or `replace_key_with` to swap the whole key",
                &format!("website/routing_rules/{i}/redirect"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest section, written as JSON (which is YAML too).
    fn website(json: &str) -> ManifestWebsite {
        serde_json::from_str(json).expect("a website section")
    }

    fn canonical_of(json: &str) -> WebsiteDoc {
        Website::canonical(from_manifest(&website(json)))
    }

    #[test]
    fn the_manifest_section_becomes_the_canonical_value() {
        let doc = canonical_of(
            r#"{"index_document": "index.html", "error_document": "404.html",
                "routing_rules": [
                  {"condition": {"key_prefix_equals": "docs/"},
                   "redirect": {"replace_key_prefix_with": "documents/", "protocol": "https", "http_redirect_code": 302}},
                  {"condition": {}, "redirect": {"host_name": "example.com", "replace_key_with": ""}}
                ]}"#,
        );
        assert_eq!(
            doc,
            WebsiteDoc {
                index_document: Some("index.html".into()),
                error_document: Some("404.html".into()),
                routing_rules: vec![
                    RoutingRuleDoc {
                        condition: Some(ConditionDoc {
                            key_prefix_equals: Some("docs/".into()),
                            http_error_code_returned_equals: None,
                        }),
                        redirect: RedirectDoc {
                            protocol: Some(Protocol::Https),
                            replace_key_prefix_with: Some("documents/".into()),
                            http_redirect_code: Some("302".into()),
                            ..RedirectDoc::default()
                        },
                    },
                    // An empty condition applies to every request, and an empty key is no key.
                    RoutingRuleDoc {
                        condition: None,
                        redirect: RedirectDoc {
                            host_name: Some("example.com".into()),
                            ..RedirectDoc::default()
                        },
                    },
                ],
                redirect_all_requests_to: None,
            }
        );
        // Canonical form is a fixed point.
        assert_eq!(Website::canonical(doc.clone()), doc);
    }

    #[test]
    fn an_empty_section_manages_no_website() {
        let doc = canonical_of("{}");
        assert_eq!(doc, Website::unconfigured());
        assert!(!doc.is_configured());
        assert!(Website::is_aws_default(&doc));
    }

    #[test]
    fn import_writes_back_what_the_manifest_wrote() {
        for json in [
            r#"{"redirect_all_requests_to": {"host_name": "www.example.com", "protocol": "https"}}"#,
            r#"{"index_document": "index.html", "routing_rules": [
                 {"condition": {"http_error_code_returned_equals": 404}, "redirect": {"replace_key_with": "404.html"}}]}"#,
        ] {
            let section = website(json);
            let back = to_manifest(&Website::canonical(from_manifest(&section))).expect("importable");
            assert_eq!(back, section, "{json}");
        }
        let odd = WebsiteDoc {
            index_document: Some("index.html".into()),
            routing_rules: vec![RoutingRuleDoc {
                condition: None,
                redirect: RedirectDoc {
                    http_redirect_code: Some("3xx".into()),
                    ..RedirectDoc::default()
                },
            }],
            ..WebsiteDoc::default()
        };
        let err = to_manifest(&odd).expect_err("not a number");
        assert!(err.contains("`3xx` is not an HTTP code"), "{err}");
    }

    #[test]
    fn check_refuses_what_s3_refuses() {
        let pointers = |json: &str| -> Vec<String> { check_website(&website(json)).into_iter().map(|p| p.pointer).collect() };
        assert!(pointers(r#"{"index_document": "index.html", "error_document": "e.html"}"#).is_empty());
        assert!(pointers(r#"{"redirect_all_requests_to": {"host_name": "example.com"}}"#).is_empty());
        assert!(pointers("{}").is_empty());
        assert_eq!(
            pointers(r#"{"index_document": "index.html", "redirect_all_requests_to": {"host_name": "example.com"}}"#),
            ["website/redirect_all_requests_to"]
        );
        assert_eq!(
            pointers(r#"{"error_document": "e.html", "routing_rules": []}"#),
            ["website/error_document", "website/routing_rules"]
        );
        assert_eq!(pointers(r#"{"index_document": "a/index.html"}"#), ["website/index_document"]);
        assert_eq!(
            pointers(
                r#"{"index_document": "i.html", "routing_rules": [{"redirect": {"replace_key_with": "a", "replace_key_prefix_with": "b"}}]}"#
            ),
            ["website/routing_rules/0/redirect"]
        );
        let both = check_website(&website(
            r#"{"index_document": "index.html", "redirect_all_requests_to": {"host_name": "example.com"}}"#,
        ));
        let p = &both[0].problem;
        assert!(p.message.contains("excludes `index_document`"), "{}", p.message);
        assert!(p.hint.as_deref().unwrap_or_default().contains("keep either"), "{p:?}");
    }
}
