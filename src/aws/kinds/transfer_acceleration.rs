//! Transfer Acceleration: GetBucketAccelerateConfiguration / PutBucketAccelerateConfiguration. There is
//! no delete: off is written as `Suspended`.

use aws_sdk_s3::types::{AccelerateConfiguration, BucketAccelerateStatus};

use super::AwsKind;
use crate::aws::{Aws, AwsError, Op};
use crate::model::kinds::transfer_acceleration::{self, TransferAcceleration};

impl AwsKind for TransferAcceleration {
    async fn read(aws: &Aws, name: &str, region: &str, op: &Op) -> Result<bool, AwsError> {
        let out = aws.s3(region).get_bucket_accelerate_configuration().bucket(name).send().await;
        out.map(|out| acceleration_from_sdk(out.status())).map_err(|e| aws.error(op, e))
    }

    async fn put(aws: &Aws, name: &str, region: &str, enabled: &bool) -> Result<(), AwsError> {
        let op = Op::write(&transfer_acceleration::PUT, name);
        let result = aws
            .s3(region)
            .put_bucket_accelerate_configuration()
            .bucket(name)
            .accelerate_configuration(acceleration_to_sdk(*enabled))
            .send()
            .await;
        result.map(|_| ()).map_err(|e| aws.error(&op, e))
    }
}

/// Never configured, suspended and unknown future statuses all read as off.
fn acceleration_from_sdk(status: Option<&BucketAccelerateStatus>) -> bool {
    status == Some(&BucketAccelerateStatus::Enabled)
}

fn acceleration_to_sdk(enabled: bool) -> AccelerateConfiguration {
    let status = if enabled {
        BucketAccelerateStatus::Enabled
    } else {
        BucketAccelerateStatus::Suspended
    };
    AccelerateConfiguration::builder().status(status).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_acceleration_round_trips() {
        for enabled in [true, false] {
            assert_eq!(acceleration_from_sdk(acceleration_to_sdk(enabled).status()), enabled);
        }
        assert!(!acceleration_from_sdk(None));
    }
}
