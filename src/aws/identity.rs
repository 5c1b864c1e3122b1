//! One door for IAM and SNS resources and the account's settings: reads and writes dispatched to `iam`,
//! `sns` or `s3control` by kind, so the
//! planner and the executor do not need to know which service holds what.

use std::path::Path;

use super::{Aws, AwsError, iam, s3control, sns};
use crate::model::identity::{IdentityDoc, IdentityKind, ObservedIdentity, PartKind};
use crate::plan::Action;

/// Which resource a read or write is about.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub kind: IdentityKind,
    /// Physical name of the user, role, policy or topic.
    pub name: &'a str,
    pub arn: &'a str,
    /// The topic's region (IAM is global and ignores it).
    pub region: &'a str,
}

/// One change to an IAM or SNS resource, or to one of its parts, as the plan has it.
#[derive(Debug, Clone, Copy)]
pub struct Write<'a> {
    pub target: Target<'a>,
    /// `None` for the resource's own attributes.
    pub part: Option<PartKind>,
    pub action: Action,
    /// The value the plan was made against (`None` when it did not exist).
    pub before: Option<&'a IdentityDoc>,
    /// The value to reach (`None` for a delete).
    pub after: Option<&'a IdentityDoc>,
    /// The project root: access-key secret files are written relative to it.
    pub root: &'a Path,
}

/// Reads a resource with all its parts; `None` when it does not exist.
pub async fn read(aws: &Aws, target: Target<'_>) -> Result<Option<ObservedIdentity>, AwsError> {
    match target.kind {
        IdentityKind::SnsTopic => sns::read_topic(aws, target).await,
        IdentityKind::Account => s3control::read(aws, target).await,
        IdentityKind::IamUser | IdentityKind::IamRole | IdentityKind::IamPolicy => iam::read(aws, target).await,
    }
}

/// Performs one change. Returns the value to record in the state when it differs from the plan's
/// `after` (an access key's ID, known only once the key exists).
pub async fn write(aws: &Aws, w: &Write<'_>) -> Result<Option<IdentityDoc>, AwsError> {
    match w.target.kind {
        IdentityKind::SnsTopic => sns::write(aws, w).await,
        IdentityKind::Account => s3control::write(aws, w).await,
        IdentityKind::IamUser | IdentityKind::IamRole | IdentityKind::IamPolicy => iam::write(aws, w).await,
    }
}

/// The IDs of an IAM user's access keys, sorted (`target.kind` must be [`IdentityKind::IamUser`]).
/// `doctor` compares them with the state to find keys s3rec does not know.
pub async fn access_key_ids(aws: &Aws, target: Target<'_>) -> Result<Vec<String>, AwsError> {
    iam::access_key_ids(aws, target).await
}
