//! The account's public access block (`account.public_access_block`, S3 Control) through the real
//! binary against the moto emulator.
//!
//! moto has one account (123456789012) for every test, and the block is one per account: every check
//! that touches it lives in the one test function below, which leaves the account without a block at
//! the end, as it found it. No other test reads or writes the account's block.

mod common;
#[path = "common/project.rs"]
mod project;

use aws_sdk_s3control::types::PublicAccessBlockConfiguration;
use common::flat;
use project::Project;

const ACCOUNT: &str = "123456789012";

/// The account's block as the emulator has it: (block_public_acls, ignore_public_acls,
/// block_public_policy, restrict_public_buckets), or `None` when the account has none.
fn live(rt: &tokio::runtime::Runtime) -> Option<[bool; 4]> {
    rt.block_on(async {
        let aws = common::emulator().await;
        match aws
            .s3control()
            .get_public_access_block()
            .account_id(ACCOUNT)
            .send()
            .await
        {
            Ok(out) => {
                let c = out.public_access_block_configuration().expect("configuration");
                Some([
                    c.block_public_acls().unwrap_or(false),
                    c.ignore_public_acls().unwrap_or(false),
                    c.block_public_policy().unwrap_or(false),
                    c.restrict_public_buckets().unwrap_or(false),
                ])
            }
            Err(e) => {
                let code = aws_sdk_s3control::error::ProvideErrorMetadata::code(&e).map(str::to_string);
                assert_eq!(
                    code.as_deref(),
                    Some("NoSuchPublicAccessBlockConfiguration"),
                    "reading the account's block: {e:?}"
                );
                None
            }
        }
    })
}

fn body(section: &str) -> String {
    format!("state:\n  prune: true\n{section}")
}

#[test]
fn the_account_block_is_created_updated_drift_reverted_and_deleted_when_removed() {
    let rt = common::runtime();
    // Start from an account without a block (a crashed earlier run may have left one).
    rt.block_on(async {
        let aws = common::emulator().await;
        let _ = aws
            .s3control()
            .delete_public_access_block()
            .account_id(ACCOUNT)
            .send()
            .await;
    });
    assert_eq!(live(&rt), None);

    let p = Project::new(&common::unique_name("acct"));
    p.write(&body("account:\n  public_access_block: {}\n"));
    let (code, plan) = p.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("# account.public_access_block will be created"), "{plan}");
    p.apply_ok();
    assert_eq!(live(&rt), Some([true, true, true, true]));
    p.assert_converged();
    let (_, listed, _) = p.run(&["state", "list", "-e", &p.env]);
    assert!(listed.contains("account.public_access_block"), "{listed}");

    // Update: one switch off.
    p.write(&body(
        "account:\n  public_access_block:\n    restrict_public_buckets: false\n",
    ));
    let (code, plan) = p.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("# account.public_access_block will be updated"), "{plan}");
    p.apply_ok();
    assert_eq!(live(&rt), Some([true, true, true, false]));
    p.assert_converged();

    // Drift made with another client is shown and reverted.
    rt.block_on(async {
        let aws = common::emulator().await;
        aws.s3control()
            .put_public_access_block()
            .account_id(ACCOUNT)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(false)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(false)
                    .build(),
            )
            .send()
            .await
            .expect("drift");
    });
    let (code, plan) = p.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("# account.public_access_block will be updated"), "{plan}");
    p.apply_ok();
    assert_eq!(live(&rt), Some([true, true, true, false]));
    p.assert_converged();

    // Removed from the manifest while managed (and state.prune on): deleted.
    p.write(&body(""));
    let (code, plan) = p.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.contains("# account.public_access_block will be destroyed"),
        "{plan}"
    );
    p.apply_ok();
    assert_eq!(live(&rt), None);
    p.assert_converged();

    // A block s3rec does not manage is never deleted: another project that never had it in its
    // manifest leaves it alone.
    rt.block_on(async {
        let aws = common::emulator().await;
        aws.s3control()
            .put_public_access_block()
            .account_id(ACCOUNT)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .expect("someone's block");
    });
    p.assert_converged();
    assert_eq!(live(&rt), Some([true, true, true, true]));
    // Leave the account as it was found.
    rt.block_on(async {
        let aws = common::emulator().await;
        aws.s3control()
            .delete_public_access_block()
            .account_id(ACCOUNT)
            .send()
            .await
            .expect("clean up");
    });
}

#[test]
fn a_bad_account_section_is_refused_with_its_place_and_a_hint() {
    let p = Project::new(&common::unique_name("acctbad"));
    p.write("account:\n  public_access_block:\n    block_public_acl: true\n");
    let (code, out, err) = p.run(&["validate", "-e", &p.env]);
    let text = flat(&format!("{out}\n{err}"));
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("block_public_acl"), "{text}");
    assert!(
        text.contains("block_public_acls"),
        "the hint names the right key: {text}"
    );
    assert!(text.contains(".yaml:8:5"), "the line and column are named: {text}");

    p.write("account:\n  public_access_block:\n    block_public_policy: sometimes\n");
    let (code, out, err) = p.run(&["validate", "-e", &p.env]);
    let text = flat(&format!("{out}\n{err}"));
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("block_public_policy"), "{text}");

    p.write("account:\n  password_policy: {}\n");
    let (code, out, err) = p.run(&["validate", "-e", &p.env]);
    let text = flat(&format!("{out}\n{err}"));
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("password_policy"), "{text}");
}
