//! `s3rec schema`: print, write or check the manifest JSON Schema.

use miette::{IntoDiagnostic, WrapErr};

use super::exit;
use crate::cli::SchemaArgs;
use crate::manifest::schema::manifest_schema_text;

pub fn run(args: &SchemaArgs) -> miette::Result<u8> {
    let text = manifest_schema_text();
    if let Some(path) = &args.check {
        let committed = std::fs::read_to_string(path)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot read {}", path.display()))?;
        if committed == text {
            return Ok(exit::OK);
        }
        eprintln!(
            "{} is stale: it differs from the schema generated from the manifest types.\nhint: regenerate it with `s3rec schema --out {}`",
            path.display(),
            path.display()
        );
        return Ok(exit::ERROR);
    }
    super::write_data(args.out.as_deref(), &text)?;
    Ok(exit::OK)
}
