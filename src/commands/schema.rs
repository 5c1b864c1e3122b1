//! `s3rec schema`: print, write or check the manifest JSON Schema.

use miette::{IntoDiagnostic, WrapErr};

use super::exit;
use crate::cli::SchemaArgs;
use crate::manifest::schema::manifest_schema_text;
use crate::output::print_data;

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
    match &args.out {
        Some(path) => std::fs::write(path, &text)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot write {}", path.display()))?,
        None => print_data(&text).into_diagnostic()?,
    }
    Ok(exit::OK)
}
