//! Acknowledgements of security findings: each names a rule that exists and says why it is accepted.

use super::{Ctx, On, ptr};
use crate::findings::RuleId;
use crate::manifest::diagnostic::Problem;
use crate::manifest::schema::closest;
use crate::manifest::types::Acknowledgement;

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let m = ctx.manifest;
    let mut places: Vec<(String, &[Acknowledgement])> = Vec::new();
    for (name, b) in &m.buckets {
        places.push((ptr(&[&"buckets", name]), &b.acknowledge));
    }
    for (name, u) in &m.iam.users {
        places.push((ptr(&[&"iam", &"users", name]), &u.acknowledge));
    }
    for (name, r) in &m.iam.roles {
        places.push((ptr(&[&"iam", &"roles", name]), &r.acknowledge));
    }
    for (name, p) in &m.iam.policies {
        places.push((ptr(&[&"iam", &"policies", name]), &p.acknowledge));
    }
    for (name, t) in &m.sns.topics {
        places.push((ptr(&[&"sns", &"topics", name]), &t.acknowledge));
    }
    let ids: Vec<String> = RuleId::ALL.iter().map(|r| r.id().to_string()).collect();
    for (base, acks) in places {
        for (i, ack) in acks.iter().enumerate() {
            let at = format!("{base}/acknowledge/{i}");
            if RuleId::parse(&ack.finding).is_none() {
                let hint = match closest(&ack.finding, &ids) {
                    Some(c) => format!("did you mean `{c}`? The rules are listed in docs/findings.md"),
                    None => {
                        "finding IDs look like `S3REC-S3-013`; the rules are listed in docs/findings.md".to_string()
                    }
                };
                ctx.report(
                    Problem::error(
                        "acknowledge",
                        format!("`{}` is not a finding s3rec reports", ack.finding),
                    )
                    .with_hint(hint),
                    &format!("{at}/finding"),
                    On::Value,
                );
            }
            if ack.reason.trim().is_empty() {
                ctx.report(
                    Problem::error(
                        "acknowledge",
                        format!("the acknowledgement of `{}` gives no reason", ack.finding),
                    )
                    .with_hint("say why the finding is acceptable here: `reason: \"public website assets\"`"),
                    &format!("{at}/reason"),
                    On::Value,
                );
            }
        }
    }
}
