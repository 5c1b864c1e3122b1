//! Logical names and `name:` templates for imported buckets.
//!
//! `acme-logs-prod` imported into environment `prod` with the prefix `acme-` becomes the logical name
//! `logs` with `name: acme-logs-${env}`: the environment, wherever it stands as a whole `-`/`.`
//! separated word, becomes `${env}`, so the manifest works for the next environment too.

use std::collections::BTreeMap;

/// The logical name and the `name:` value of every imported bucket, by physical name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    by_physical: BTreeMap<String, Named>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub logical: String,
    /// The physical name with the environment word replaced by `${env}` (or the name as it is).
    pub template: String,
}

impl Names {
    /// Names for `physical` (any order) in environment `env`. `strip` is removed from the front of each
    /// name (`--prefix`); without it, the leading words every name shares (`acme-`) are removed when
    /// there are at least two names and something is left of each.
    ///
    /// Collisions are settled deterministically: in the order of physical names, the first keeps the
    /// name, later ones get `-2`, `-3`, ... .
    pub fn new(physical: &[String], env: &str, strip: Option<&str>) -> Names {
        let mut sorted: Vec<&String> = physical.iter().collect();
        sorted.sort();
        sorted.dedup();
        let shared = match strip {
            Some(p) => p.to_string(),
            None => shared_leading_words(&sorted, env),
        };
        let mut by_physical = BTreeMap::new();
        let mut used = std::collections::BTreeSet::new();
        for name in sorted {
            let base = logical_of(name, env, &shared);
            let mut logical = base.clone();
            let mut n = 1;
            while used.contains(&logical) {
                n += 1;
                logical = format!("{base}-{n}");
            }
            used.insert(logical.clone());
            by_physical.insert(
                name.clone(),
                Named {
                    logical,
                    template: template_of(name, env),
                },
            );
        }
        Names { by_physical }
    }

    pub fn get(&self, physical: &str) -> Option<&Named> {
        self.by_physical.get(physical)
    }

    pub fn logical(&self, physical: &str) -> Option<&str> {
        self.get(physical).map(|n| n.logical.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Named)> {
        self.by_physical.iter()
    }
}

/// The words before the first one that differs, shared by every name (with their separators), but
/// never the environment word and never a whole name.
fn shared_leading_words(names: &[&String], env: &str) -> String {
    if names.len() < 2 {
        return String::new();
    }
    let words: Vec<Vec<&str>> = names.iter().map(|n| split_words(n)).collect();
    let mut prefix = String::new();
    // split_words keeps separators as their own items: ["acme", "-", "logs", "-", "prod"].
    let shortest = words.iter().map(Vec::len).min().unwrap_or(0);
    let mut i = 0;
    while i + 1 < shortest {
        let word = words[0][i];
        let sep = words[0][i + 1];
        if word == env || !words.iter().all(|w| w[i] == word && w[i + 1] == sep) {
            break;
        }
        prefix.push_str(word);
        prefix.push_str(sep);
        i += 2;
    }
    // Something must remain of every name.
    if names.iter().any(|n| n.len() <= prefix.len()) {
        return String::new();
    }
    prefix
}

/// Words and separators (`-`, `.`) in order.
fn split_words(name: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in name.char_indices() {
        if c == '-' || c == '.' {
            out.push(&name[start..i]);
            out.push(&name[i..i + 1]);
            start = i + 1;
        }
    }
    out.push(&name[start..]);
    out
}

/// The physical name with the environment word as `${env}`.
pub fn template_of(name: &str, env: &str) -> String {
    if env.is_empty() {
        return name.to_string();
    }
    split_words(name)
        .into_iter()
        .map(|w| if w == env { "${env}" } else { w })
        .collect()
}

/// The physical name without the shared prefix and the environment word, with what logical names
/// may not hold (`.`) turned into `-`.
fn logical_of(name: &str, env: &str, shared: &str) -> String {
    let rest = name.strip_prefix(shared).filter(|r| !r.is_empty()).unwrap_or(name);
    let words: Vec<&str> = rest.split(['-', '.']).filter(|w| !w.is_empty() && *w != env).collect();
    let logical = words.join("-");
    let logical: String = logical
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if logical.is_empty() {
        // The name was only the environment (a bucket called `prod`): keep it whole.
        name.replace('.', "-")
    } else {
        logical
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str], env: &str, strip: Option<&str>) -> Names {
        Names::new(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>(), env, strip)
    }

    #[test]
    fn environment_word_becomes_the_placeholder_and_leaves_the_logical_name() {
        let n = names(&["acme-logs-prod"], "prod", Some("acme-"));
        let logs = n.get("acme-logs-prod").expect("named");
        assert_eq!(logs.logical, "logs");
        assert_eq!(logs.template, "acme-logs-${env}");
    }

    #[test]
    fn shared_leading_words_are_dropped_from_logical_names_only() {
        let n = names(&["acme-logs-prod", "acme-data-prod", "acme-prod-web"], "prod", None);
        assert_eq!(n.logical("acme-logs-prod"), Some("logs"));
        assert_eq!(n.logical("acme-data-prod"), Some("data"));
        assert_eq!(n.logical("acme-prod-web"), Some("web"));
        assert_eq!(n.get("acme-prod-web").expect("named").template, "acme-${env}-web");
    }

    #[test]
    fn environment_inside_a_word_is_not_replaced() {
        let n = names(&["products-prod"], "prod", None);
        let p = n.get("products-prod").expect("named");
        assert_eq!(p.template, "products-${env}");
        assert_eq!(p.logical, "products");
    }

    #[test]
    fn collisions_get_numbered_suffixes_in_name_order() {
        let n = names(&["x-logs-prod", "x-logs", "x-logs.prod"], "prod", Some("x-"));
        assert_eq!(n.logical("x-logs"), Some("logs"));
        assert_eq!(n.logical("x-logs-prod"), Some("logs-2"));
        assert_eq!(n.logical("x-logs.prod"), Some("logs-3"));
        // Same input, same answer.
        assert_eq!(n, names(&["x-logs.prod", "x-logs", "x-logs-prod"], "prod", Some("x-")));
    }

    #[test]
    fn dots_become_dashes_and_a_bare_environment_name_stays_whole() {
        let n = names(&["web.assets.example.com", "prod"], "prod", None);
        assert_eq!(n.logical("web.assets.example.com"), Some("web-assets-example-com"));
        assert_eq!(n.logical("prod"), Some("prod"));
        assert_eq!(n.get("prod").expect("named").template, "${env}");
    }
}
