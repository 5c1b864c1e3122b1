//! The SDK side of document kinds that live in a unit of their own: each file holds its kind's
//! get/list/put/delete calls and the conversions between the SDK's types and the model's canonical value
//! (the pure side is `model::kinds::KIND`). `aws::read` and `aws::write` call these from one arm each.

pub mod inventory;
