//! Which listed buckets an import takes: the named ones (each must be in the listing), or every one
//! whose name starts with `--prefix` (all with `--all`) that no other environment manages. Pure.

use std::collections::BTreeSet;

/// What the command line asked for.
#[derive(Debug, Clone, Copy)]
pub enum Selection<'a> {
    Names(&'a [String]),
    /// `--prefix P`, or `--all` as the empty prefix.
    Matching {
        prefix: &'a str,
    },
}

/// The chosen bucket names, in the order asked (names) or of the listing, and how many matching
/// buckets were passed over because another environment manages them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub names: Vec<String>,
    pub managed_elsewhere: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("bucket {0} is not in the account's bucket listing (it does not exist, or belongs to another account)")]
    NotListed(String),
    #[error("no bucket to import: {0}")]
    Nothing(String),
}

impl SelectError {
    pub fn hint(&self) -> &'static str {
        match self {
            SelectError::NotListed(_) => "check the name with `s3rec import -e ENV --list` or `aws s3api list-buckets`",
            SelectError::Nothing(_) => "`s3rec import -e ENV --list` shows the buckets no environment manages",
        }
    }
}

pub fn select(
    listed: &[&str],
    selection: Selection<'_>,
    managed_elsewhere: &BTreeSet<String>,
) -> Result<Selected, SelectError> {
    match selection {
        Selection::Names(names) => {
            if let Some(missing) = names.iter().find(|n| !listed.contains(&n.as_str())) {
                return Err(SelectError::NotListed(missing.clone()));
            }
            let mut out: Vec<String> = Vec::new();
            for n in names {
                if !out.contains(n) {
                    out.push(n.clone());
                }
            }
            Ok(Selected {
                names: out,
                managed_elsewhere: 0,
            })
        }
        Selection::Matching { prefix } => {
            let matching: Vec<&str> = listed.iter().copied().filter(|n| n.starts_with(prefix)).collect();
            let names: Vec<String> = matching
                .iter()
                .filter(|n| !managed_elsewhere.contains(**n))
                .map(|n| n.to_string())
                .collect();
            let skipped = matching.len() - names.len();
            if names.is_empty() {
                let why = match (prefix.is_empty(), skipped) {
                    (true, 0) => "the account has no buckets".to_string(),
                    (true, _) => "every bucket is managed by another environment".to_string(),
                    (false, 0) => format!("no bucket name starts with `{prefix}`"),
                    (false, _) => format!("every bucket starting with `{prefix}` is managed by another environment"),
                };
                return Err(SelectError::Nothing(why));
            }
            Ok(Selected {
                names,
                managed_elsewhere: skipped,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTED: [&str; 4] = ["acme-a", "acme-b", "acme-c", "other"];

    #[test]
    fn names_must_be_listed() {
        let names = vec!["acme-b".to_string(), "gone".to_string()];
        assert_eq!(
            select(&LISTED, Selection::Names(&names), &BTreeSet::new()),
            Err(SelectError::NotListed("gone".into()))
        );
    }

    #[test]
    fn a_prefix_skips_what_another_environment_manages() {
        let others: BTreeSet<String> = ["acme-b".to_string()].into();
        let s = select(&LISTED, Selection::Matching { prefix: "acme-" }, &others).expect("selected");
        assert_eq!(s.names, vec!["acme-a", "acme-c"]);
        assert_eq!(s.managed_elsewhere, 1);
        let e = select(&LISTED, Selection::Matching { prefix: "zz" }, &others).unwrap_err();
        assert!(e.to_string().contains("no bucket name starts with `zz`"), "{e}");
    }
}
