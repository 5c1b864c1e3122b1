//! An IAM policy evaluator for the questions a security review asks, not a regex over JSON.
//!
//! [`Policy::parse`] accepts every spelling IAM accepts (a lone statement or a list, scalars or
//! one-element lists, `Principal: "*"` or `{"AWS": "*"}`, `NotPrincipal`, `NotAction`, `NotResource`,
//! wildcards in actions and ARNs). Two kinds of question are answered:
//!
//! - concrete ones ([`Policy::decide`]): is this request (principal, action, resource, context keys)
//!   allowed, explicitly denied, or implicitly denied, with IAM's rule that an explicit Deny wins;
//! - symbolic ones ([`Policy::public_access`], [`Policy::tls_deny`], ...): could *some* principal
//!   outside the account perform an action without a condition that restricts who or where it comes
//!   from, after the Deny statements. These cannot be asked with one request, because "the public" is
//!   every request at once.
//!
//! The conditions that restrict who can act are [`RESTRICTING_KEYS`]; a statement guarded by one of
//! them with a concrete value is not public. `aws:SecureTransport` is understood but does not restrict
//! *who*: an Allow limited to TLS is still open to everyone.

use std::collections::BTreeSet;

use serde_json::Value as Json;

/// Condition keys that limit who (or from where) a statement applies to. An Allow guarded by a
/// positive test of one of these, with a value that is not a bare wildcard, is not public; a Deny
/// guarded by a negative test of one of these denies everyone outside the restriction.
pub const RESTRICTING_KEYS: &[&str] = &[
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:sourcevpce",
    "aws:sourcevpc",
    "aws:sourceip",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:userid",
];

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// Who a statement names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principals {
    /// `"*"`, `{"AWS": "*"}` or a wildcard account ARN: everyone, anonymous callers included.
    pub everyone: bool,
    /// `AWS` principals other than `*`: account IDs and ARNs, as written (account IDs become root ARNs).
    pub aws: Vec<String>,
    /// `Service` principals, lowercased.
    pub services: Vec<String>,
    /// `Federated` and `CanonicalUser` principals, as written.
    pub other: Vec<String>,
}

/// A set of patterns given positively (`Action`) or negatively (`NotAction`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patterns {
    Is(Vec<String>),
    Not(Vec<String>),
    /// Neither key was written: the statement matches nothing (IAM refuses such a statement).
    Missing,
}

/// How a condition test treats a multivalued key: the `ForAnyValue:` / `ForAllValues:` prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOperator {
    /// No prefix: the key's one value is tested.
    Single,
    /// `ForAnyValue:`: some value passes. A request without the key fails.
    AnyValue,
    /// `ForAllValues:`: every value passes, so a request without the key passes (vacuously).
    AllValues,
}

/// One condition test: operator (without the set prefix and `IfExists`), key (lowercased), values as
/// strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub set: SetOperator,
    pub operator: String,
    pub if_exists: bool,
    pub key: String,
    pub values: Vec<String>,
}

/// One statement, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Position in the document (0-based), for evidence in findings.
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    /// `None` in identity policies (the principal is the identity itself).
    pub principal: Option<Principals>,
    pub not_principal: Option<Principals>,
    pub actions: Patterns,
    /// `Missing` in identity policies only if both keys are absent (then it matches nothing).
    pub resources: Patterns,
    pub conditions: Vec<Condition>,
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    pub statements: Vec<Statement>,
}

/// Who makes a request in [`Policy::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller<'a> {
    /// The identity whose identity policy this is (principals are not consulted).
    Itself,
    /// An AWS service principal such as `logging.s3.amazonaws.com`.
    Service(&'a str),
    /// A principal of the account `account` (its root ARN matches principals naming the account).
    Account(&'a str),
}

/// The outcome of evaluating one policy for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// An explicit Deny, which nothing overrides.
    Deny,
    /// No statement allows the request.
    Implicit,
}

/// A request for [`Policy::decide`]. Condition keys missing from `context` make a test fail (as in
/// IAM), except for `...IfExists` operators and `Null`.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub caller: Caller<'a>,
    pub action: &'a str,
    pub resource: &'a str,
    /// `(lowercased key, value)` pairs.
    pub context: Vec<(String, String)>,
}

/// What the public (any principal outside the account, unrestricted) can do, per capability.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicAccess {
    /// Indices of the Allow statements that open each capability (empty: not public).
    pub read: Vec<usize>,
    pub write: Vec<usize>,
    pub list: Vec<usize>,
}

/// Whether a TLS-only Deny is present and what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsDeny {
    /// No statement denies requests without TLS.
    Absent,
    /// Such a Deny exists, but leaves the bucket ARN or its objects out.
    Partial { bucket: bool, objects: bool },
    /// Every S3 action on the bucket and all its objects is denied without TLS, to everyone.
    Complete,
}

/// Why a document is not a policy this evaluator can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("a policy document must be a JSON object with `Statement`")]
    NotAnObject,
    #[error("statement {index} has `Effect` {found}, not `Allow` or `Deny`")]
    Effect { index: usize, found: String },
}

impl Policy {
    /// Parses a policy document in any spelling IAM accepts.
    pub fn parse(doc: &Json) -> Result<Policy, PolicyError> {
        let Json::Object(map) = doc else {
            return Err(PolicyError::NotAnObject);
        };
        let raw: Vec<&Json> = match map.get("Statement") {
            Some(Json::Array(items)) => items.iter().collect(),
            Some(one @ Json::Object(_)) => vec![one],
            None => Vec::new(),
            Some(_) => return Err(PolicyError::NotAnObject),
        };
        let mut statements = Vec::with_capacity(raw.len());
        for (index, s) in raw.into_iter().enumerate() {
            statements.push(parse_statement(index, s)?);
        }
        Ok(Policy { statements })
    }

    fn allows(&self) -> impl Iterator<Item = &Statement> {
        self.statements.iter().filter(|s| s.effect == Effect::Allow)
    }

    fn denies(&self) -> impl Iterator<Item = &Statement> {
        self.statements.iter().filter(|s| s.effect == Effect::Deny)
    }

    /// Evaluates one concrete request: an explicit Deny wins over any Allow.
    pub fn decide(&self, request: &Request<'_>) -> Decision {
        let applies = |s: &Statement| {
            caller_matches(s, &request.caller)
                && s.actions.matches(request.action, action_match)
                && resource_matches(&s.resources, request.resource)
                && s.conditions.iter().all(|c| c.holds(&request.context))
        };
        if self.denies().any(applies) {
            Decision::Deny
        } else if self.allows().any(applies) {
            Decision::Allow
        } else {
            Decision::Implicit
        }
    }

    /// What the public can read, write and list on bucket `bucket` (physical name), after Deny
    /// statements. Principals named by account are never "the public" (see [`Policy::other_accounts`]).
    pub fn public_access(&self, bucket: &str) -> PublicAccess {
        let arn = format!("arn:aws:s3:::{bucket}");
        let objects = format!("{arn}/");
        let mut access = PublicAccess::default();
        for (capability, actions, on_objects) in [
            (0, &["s3:GetObject", "s3:GetObjectVersion"][..], true),
            (
                1,
                &[
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                    "s3:PutObjectAcl",
                ][..],
                true,
            ),
            (2, &["s3:ListBucket", "s3:ListBucketVersions"][..], false),
        ] {
            let mut opened = Vec::new();
            for action in actions {
                for s in self.public_allows(action, |r| {
                    if on_objects {
                        resource_reaches(r, &objects)
                    } else {
                        resource_matches(r, &arn)
                    }
                }) {
                    let denied = self.public_denied(action, |r| {
                        if on_objects {
                            resource_covers_all(r, &objects)
                        } else {
                            resource_matches(r, &arn)
                        }
                    });
                    if !denied && !opened.contains(&s) {
                        opened.push(s);
                    }
                }
            }
            opened.sort_unstable();
            match capability {
                0 => access.read = opened,
                1 => access.write = opened,
                _ => access.list = opened,
            }
        }
        access
    }

    /// Indices of Allow statements through which anyone can perform `action` on something
    /// `resource` accepts, without a restricting condition.
    pub fn public_allows(&self, action: &str, resource: impl Fn(&Patterns) -> bool) -> Vec<usize> {
        self.allows()
            .filter(|s| {
                open_to_everyone(s)
                    && s.actions.matches(action, action_match)
                    && resource(&s.resources)
                    && !s.conditions.iter().any(Condition::restricts_allow)
            })
            .map(|s| s.index)
            .collect()
    }

    /// Whether some Deny statement refuses `action` to every outsider on everything `resource`
    /// accepts: unconditionally, or only with negative tests of restricting keys (which outsiders
    /// fail by definition).
    pub fn public_denied(&self, action: &str, resource: impl Fn(&Patterns) -> bool) -> bool {
        self.denies().any(|s| {
            denies_outsiders(s)
                && s.actions.matches(action, action_match)
                && resource(&s.resources)
                && s.conditions.iter().all(Condition::restricts_deny)
        })
    }

    /// Whether requests without TLS are denied to everyone, for every S3 action, on the bucket ARN
    /// and on all of its objects.
    pub fn tls_deny(&self, bucket: &str) -> TlsDeny {
        let arn = format!("arn:aws:s3:::{bucket}");
        let objects = format!("{arn}/");
        let mut bucket_covered = false;
        let mut objects_covered = false;
        let mut any = false;
        for s in self.denies() {
            let insecure_only = !s.conditions.is_empty() && s.conditions.iter().all(Condition::is_insecure_transport);
            if !insecure_only || !denies_outsiders(s) || !s.actions.covers_all("s3:") {
                continue;
            }
            any = true;
            bucket_covered |= resource_matches(&s.resources, &arn);
            objects_covered |= resource_covers_all(&s.resources, &objects);
        }
        match (any, bucket_covered, objects_covered) {
            (false, _, _) => TlsDeny::Absent,
            (true, true, true) => TlsDeny::Complete,
            (true, bucket, objects) => TlsDeny::Partial { bucket, objects },
        }
    }

    /// Accounts other than `own_account` that Allow statements name as principals (sorted, unique).
    pub fn other_accounts(&self, own_account: &str) -> Vec<String> {
        let mut out = BTreeSet::new();
        for s in self.allows() {
            for p in s.principal.iter().flat_map(|p| p.aws.iter()) {
                if let Some(account) = account_of(p)
                    && account != own_account
                    && !account.contains('*')
                {
                    out.insert(account.to_string());
                }
            }
        }
        out.into_iter().collect()
    }

    /// Identity-policy Allow statements that grant every action on every resource.
    pub fn allows_everything(&self) -> Vec<usize> {
        self.allows()
            .filter(|s| s.actions.covers_all("") && resource_matches(&s.resources, PROBE_ANY))
            .map(|s| s.index)
            .collect()
    }

    /// Identity-policy Allow statements that grant every S3 action on every bucket (a bucket name
    /// nobody has stands for "any bucket"), excluding those already granting everything.
    pub fn allows_all_s3_on_every_bucket(&self) -> Vec<usize> {
        self.allows()
            .filter(|s| {
                s.actions.covers_all("s3:")
                    && !s.actions.covers_all("")
                    && resource_matches(&s.resources, PROBE_BUCKET)
                    && resource_matches(&s.resources, &format!("{PROBE_BUCKET}/{PROBE_KEY}"))
            })
            .map(|s| s.index)
            .collect()
    }

    /// Identity-policy Allow statements that let the identity pass any role (an invented role name
    /// matches), which is privilege escalation to every role's permissions.
    pub fn allows_pass_any_role(&self) -> Vec<usize> {
        self.allows()
            .filter(|s| {
                s.actions.matches("iam:PassRole", action_match)
                    && !s.actions.covers_all("")
                    && resource_matches(&s.resources, PROBE_ROLE)
                    && s.conditions.is_empty()
            })
            .map(|s| s.index)
            .collect()
    }

    /// Allow statements written with `NotAction` (they grant every action not listed, including
    /// actions AWS adds later).
    pub fn allow_not_action(&self) -> Vec<usize> {
        self.allows()
            .filter(|s| matches!(s.actions, Patterns::Not(_)))
            .map(|s| s.index)
            .collect()
    }

    /// Deny statements on `s3:PutObject` guarded by `s3:if-none-match` / `s3:if-match` conditions:
    /// they enforce conditional writes, which CopyObject cannot satisfy.
    pub fn enforces_conditional_writes(&self) -> Vec<usize> {
        self.denies()
            .filter(|s| {
                s.actions.matches("s3:PutObject", action_match)
                    && s.conditions
                        .iter()
                        .any(|c| c.key == "s3:if-none-match" || c.key == "s3:if-match")
            })
            .map(|s| s.index)
            .collect()
    }
}

/// An ARN no real resource has, standing for "any resource" in wildcard questions.
const PROBE_ANY: &str = "arn:aws:ec2:zz-probe-1:000000000000:instance/s3rec-probe";
/// A bucket nobody has: a statement matching it matches every bucket.
const PROBE_BUCKET: &str = "arn:aws:s3:::s3rec-probe-any-bucket-7f3a";
const PROBE_KEY: &str = "s3rec/probe/key";
/// A role nobody has, in an account nobody has.
const PROBE_ROLE: &str = "arn:aws:iam::000000000000:role/s3rec-probe/any-role-7f3a";

fn parse_statement(index: usize, s: &Json) -> Result<Statement, PolicyError> {
    let effect = match s.get("Effect").and_then(Json::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        other => {
            return Err(PolicyError::Effect {
                index,
                found: other.map_or_else(|| "missing".to_string(), |e| format!("`{e}`")),
            });
        }
    };
    let patterns = |is: &str, not: &str| match (s.get(is), s.get(not)) {
        (Some(v), _) => Patterns::Is(strings(v)),
        (None, Some(v)) => Patterns::Not(strings(v)),
        (None, None) => Patterns::Missing,
    };
    let mut conditions = Vec::new();
    if let Some(Json::Object(ops)) = s.get("Condition") {
        for (op, keys) in ops {
            let (set, op) = if let Some(rest) = op.strip_prefix("ForAnyValue:") {
                (SetOperator::AnyValue, rest)
            } else if let Some(rest) = op.strip_prefix("ForAllValues:") {
                (SetOperator::AllValues, rest)
            } else {
                (SetOperator::Single, op.as_str())
            };
            let (operator, if_exists) = match op.strip_suffix("IfExists") {
                Some(base) => (base.to_string(), true),
                None => (op.to_string(), false),
            };
            if let Json::Object(keys) = keys {
                for (key, values) in keys {
                    conditions.push(Condition {
                        set,
                        operator: operator.clone(),
                        if_exists,
                        key: key.to_ascii_lowercase(),
                        values: strings(values),
                    });
                }
            }
        }
    }
    Ok(Statement {
        index,
        sid: s.get("Sid").and_then(Json::as_str).map(str::to_string),
        effect,
        principal: s.get("Principal").map(parse_principals),
        not_principal: s.get("NotPrincipal").map(parse_principals),
        actions: patterns("Action", "NotAction"),
        resources: match (s.get("Resource"), s.get("NotResource")) {
            (None, None) => Patterns::Missing,
            _ => patterns("Resource", "NotResource"),
        },
        conditions,
    })
}

/// Strings of a scalar-or-list value; numbers and booleans as IAM compares them, as strings.
fn strings(v: &Json) -> Vec<String> {
    let one = |v: &Json| match v {
        Json::String(s) => Some(s.clone()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match v {
        Json::Array(items) => items.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

fn parse_principals(v: &Json) -> Principals {
    let mut p = Principals::default();
    match v {
        Json::String(s) if s == "*" => p.everyone = true,
        Json::Object(kinds) => {
            for (kind, values) in kinds {
                for value in strings(values) {
                    match kind.as_str() {
                        "AWS" if value == "*" || account_of(&value).is_some_and(|a| a.contains('*')) => {
                            p.everyone = true;
                        }
                        "AWS" => p.aws.push(account_to_root(&value)),
                        "Service" => p.services.push(value.to_ascii_lowercase()),
                        _ => p.other.push(value),
                    }
                }
            }
        }
        // A bare string other than "*" is not valid IAM; keep it visible as an AWS principal.
        Json::String(s) => p.aws.push(account_to_root(s)),
        _ => {}
    }
    p
}

fn account_to_root(s: &str) -> String {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        format!("arn:aws:iam::{s}:root")
    } else {
        s.to_string()
    }
}

/// The account of an IAM ARN (`arn:aws:iam::ACCOUNT:...`), or of an STS assumed-role ARN.
pub fn account_of(principal: &str) -> Option<&str> {
    let mut parts = principal.splitn(6, ':');
    let (arn, _partition, service, _region, account) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (arn == "arn" && matches!(service, "iam" | "sts")).then_some(account)
}

/// Whether a statement's principal lets in everyone (an Allow with `NotPrincipal` does too: it names
/// who is *not* allowed).
fn open_to_everyone(s: &Statement) -> bool {
    match (&s.principal, &s.not_principal) {
        (Some(p), _) => p.everyone,
        (None, Some(not)) => !not.everyone,
        (None, None) => false,
    }
}

/// Whether a Deny statement applies to every principal outside the account: `Principal: "*"`, or
/// `NotPrincipal` listing only named principals (everyone else is denied).
fn denies_outsiders(s: &Statement) -> bool {
    open_to_everyone(s)
}

fn caller_matches(s: &Statement, caller: &Caller<'_>) -> bool {
    let named = |p: &Principals| match caller {
        Caller::Itself => true,
        Caller::Service(name) => p.everyone || p.services.iter().any(|x| x.eq_ignore_ascii_case(name)),
        Caller::Account(account) => {
            p.everyone
                || p.aws
                    .iter()
                    .any(|a| a == &format!("arn:aws:iam::{account}:root") || account_of(a) == Some(account))
        }
    };
    match (caller, &s.principal, &s.not_principal) {
        (Caller::Itself, _, _) => true,
        (_, Some(p), _) => named(p),
        (_, None, Some(not)) => !named(not),
        (_, None, None) => false,
    }
}

impl Patterns {
    fn matches(&self, value: &str, one: fn(&str, &str) -> bool) -> bool {
        match self {
            Patterns::Is(ps) => ps.iter().any(|p| one(p, value)),
            Patterns::Not(ps) => !ps.iter().any(|p| one(p, value)),
            Patterns::Missing => false,
        }
    }

    /// Whether every action whose name starts with `prefix` (`s3:`, or `""` for every action)
    /// matches: `Action: "*"` / `"s3:*"`, or a `NotAction` that excludes none of them.
    fn covers_all(&self, prefix: &str) -> bool {
        match self {
            Patterns::Is(ps) => ps.iter().any(|p| {
                let p = p.to_ascii_lowercase();
                p == "*" || (!prefix.is_empty() && p == format!("{prefix}*"))
            }),
            Patterns::Not(ps) => !ps.iter().any(|p| {
                let p = p.to_ascii_lowercase();
                prefix.is_empty() || p == "*" || p.starts_with(prefix)
            }),
            Patterns::Missing => false,
        }
    }
}

/// Actions compare case-insensitively, with `*` and `?` wildcards.
fn action_match(pattern: &str, action: &str) -> bool {
    glob(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

/// Whether resource patterns (`Resource` or `NotResource`) match the exact ARN `arn`.
pub fn glob_patterns(resources: &Patterns, arn: &str) -> bool {
    resource_matches(resources, arn)
}

/// Resources compare case-sensitively, with wildcards.
fn resource_matches(resources: &Patterns, arn: &str) -> bool {
    resources.matches(arn, glob)
}

/// Whether the resources include *some* object under `prefix` (`arn:aws:s3:::b/`).
fn resource_reaches(resources: &Patterns, prefix: &str) -> bool {
    match resources {
        Patterns::Is(ps) => ps.iter().any(|p| glob_reaches(p, prefix)),
        // A NotResource excludes some objects at most; unless it excludes all of them, some remain.
        Patterns::Not(ps) => !ps.iter().any(|p| glob_covers_all(p, prefix)),
        Patterns::Missing => false,
    }
}

/// Whether the resources include *every* object under `prefix`.
fn resource_covers_all(resources: &Patterns, prefix: &str) -> bool {
    match resources {
        Patterns::Is(ps) => ps.iter().any(|p| glob_covers_all(p, prefix)),
        Patterns::Not(ps) => !ps.iter().any(|p| glob_reaches(p, prefix)),
        Patterns::Missing => false,
    }
}

/// IAM wildcard match: `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let (mut pi, mut vi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The pattern positions reachable after matching all of `prefix` (a set, as wildcards branch).
fn after_prefix(pattern: &[char], prefix: &[char]) -> Vec<usize> {
    // states[i] = the pattern position i is reachable having consumed the prefix so far.
    let mut states = vec![false; pattern.len() + 1];
    states[0] = true;
    close_stars(pattern, &mut states);
    for c in prefix {
        let mut next = vec![false; pattern.len() + 1];
        for i in 0..pattern.len() {
            if !states[i] {
                continue;
            }
            match pattern[i] {
                '*' => next[i] = true,
                '?' => next[i + 1] = true,
                p if p == *c => next[i + 1] = true,
                _ => {}
            }
        }
        close_stars(pattern, &mut next);
        states = next;
    }
    (0..=pattern.len()).filter(|i| states[*i]).collect()
}

/// A `*` may match nothing: a state on a star also reaches the position after it.
fn close_stars(pattern: &[char], states: &mut [bool]) {
    for i in 0..pattern.len() {
        if states[i] && pattern[i] == '*' {
            states[i + 1] = true;
        }
    }
}

/// Whether `pattern` matches some string that starts with `prefix`.
fn glob_reaches(pattern: &str, prefix: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let pre: Vec<char> = prefix.chars().collect();
    // Any pattern remainder matches its own literal spelling, so reaching a state is enough, except
    // the end of the pattern, which matches only the prefix itself (the bucket's `b/` is no object).
    after_prefix(&p, &pre)
        .into_iter()
        .any(|i| i < p.len() || p.last() == Some(&'*'))
}

/// Whether `pattern` matches every string that starts with `prefix` (the remainder is all stars).
fn glob_covers_all(pattern: &str, prefix: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let pre: Vec<char> = prefix.chars().collect();
    after_prefix(&p, &pre)
        .into_iter()
        .any(|i| i < p.len() && p[i..].iter().all(|c| *c == '*'))
}

impl Condition {
    fn positive(&self) -> bool {
        matches!(
            self.operator.as_str(),
            "StringEquals" | "StringEqualsIgnoreCase" | "StringLike" | "ArnEquals" | "ArnLike" | "IpAddress"
        )
    }

    fn negative(&self) -> bool {
        matches!(
            self.operator.as_str(),
            "StringNotEquals"
                | "StringNotEqualsIgnoreCase"
                | "StringNotLike"
                | "ArnNotEquals"
                | "ArnNotLike"
                | "NotIpAddress"
        )
    }

    fn restricting_key(&self) -> bool {
        RESTRICTING_KEYS.contains(&self.key.as_str())
    }

    /// What the test gives for a request that lacks the key: anonymous callers have no
    /// `aws:PrincipalOrgID`, requests through a VPC endpoint no `aws:SourceIp`, most requests no
    /// `aws:SourceArn`. IAM: a missing key fails a positive test and passes a negated one; `IfExists`
    /// makes any test pass; `ForAllValues:` passes (no value fails it), `ForAnyValue:` fails.
    fn holds_without_key(&self) -> bool {
        if self.if_exists {
            return true;
        }
        match self.set {
            SetOperator::AllValues => true,
            SetOperator::AnyValue => false,
            SetOperator::Single => self.negative(),
        }
    }

    /// Whether some caller outside the account, with a value of the key of its own choosing (an
    /// address anywhere, its own account, organization, VPC endpoint or ARN), passes this positive
    /// test. `StringEquals` compares literally (`"*"` is the string `*`); `StringLike` and both ARN
    /// operators take wildcards; `IpAddress` takes CIDR ranges, and ranges covering every IPv4 or every
    /// IPv6 address admit everyone.
    fn admits_outsiders(&self) -> bool {
        match self.operator.as_str() {
            "IpAddress" | "NotIpAddress" => ip_ranges_cover_everything(&self.values),
            "StringLike" | "StringNotLike" | "ArnLike" | "ArnNotLike" | "ArnEquals" | "ArnNotEquals" => {
                outsider_values(&self.key)
                    .iter()
                    .any(|probe| self.values.iter().any(|v| glob(v, probe)))
            }
            _ => false,
        }
    }

    /// Whether this test, in an Allow, keeps the statement from applying to the public: a positive
    /// test of a key that says who or where the caller is, which a caller without the key fails and
    /// whose values admit no outsider. Date, numeric, `Bool` and `Null` tests, and tests of other
    /// keys, limit when or how, not who.
    fn restricts_allow(&self) -> bool {
        self.restricting_key() && self.positive() && !self.holds_without_key() && !self.admits_outsiders()
    }

    /// Whether this test, in a Deny, is one every outsider meets (so the Deny applies to them): a
    /// negated test of such a key, which a caller without the key meets too, whose values do not
    /// take in outsiders (a negated wildcard excludes everyone from the Deny).
    fn restricts_deny(&self) -> bool {
        self.restricting_key() && self.negative() && self.holds_without_key() && !self.admits_outsiders()
    }

    /// `Bool: {aws:SecureTransport: false}` (the TLS-only Deny's guard).
    fn is_insecure_transport(&self) -> bool {
        self.key == "aws:securetransport"
            && self.operator == "Bool"
            && self.values.iter().all(|v| v.eq_ignore_ascii_case("false"))
    }

    /// Evaluates the test against a request's context.
    fn holds(&self, context: &[(String, String)]) -> bool {
        let value = context.iter().find(|(k, _)| *k == self.key).map(|(_, v)| v.as_str());
        if self.operator == "Null" {
            let wants_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return wants_absent == value.is_none();
        }
        let Some(value) = value else {
            return self.holds_without_key();
        };
        let any = |f: &dyn Fn(&str) -> bool| self.values.iter().any(|v| f(v));
        match self.operator.as_str() {
            "StringEquals" | "Bool" | "NumericEquals" => any(&|v| v == value),
            "StringEqualsIgnoreCase" => any(&|v| v.eq_ignore_ascii_case(value)),
            // IAM's ArnEquals takes wildcards per ARN component, exactly as ArnLike does.
            "StringLike" | "ArnLike" | "ArnEquals" => any(&|v| glob(v, value)),
            "StringNotEquals" | "NumericNotEquals" => !any(&|v| v == value),
            "StringNotEqualsIgnoreCase" => !any(&|v| v.eq_ignore_ascii_case(value)),
            "StringNotLike" | "ArnNotLike" | "ArnNotEquals" => !any(&|v| glob(v, value)),
            // Operators this evaluator does not model (dates, IP ranges, binary) are treated as
            // holding: the concrete questions s3rec asks supply no such keys.
            _ => true,
        }
    }
}

/// Values of a restricting key that callers outside the account have: if a pattern matches one of
/// them, it admits outsiders. Each names an account, organization, network or resource nobody has.
fn outsider_values(key: &str) -> &'static [&'static str] {
    match key {
        "aws:sourcearn" => &[
            "arn:aws:s3:::s3rec-probe-any-bucket-7f3a",
            "arn:aws:sns:us-east-1:000000000000:s3rec-probe-7f3a",
            "arn:aws:cloudfront::000000000000:distribution/S3RECPROBE7F3A",
        ],
        "aws:principalarn" => &[PROBE_ROLE, "arn:aws:iam::000000000000:user/s3rec-probe-7f3a"],
        "aws:sourceaccount" | "aws:principalaccount" | "aws:sourceowner" => &["000000000000"],
        "aws:principalorgid" => &["o-s3recprobe7f"],
        "aws:principalorgpaths" => &["o-s3recprobe7f/r-7f3a/ou-7f3a-s3recprobe/"],
        "aws:sourcevpce" => &["vpce-0s3recprobe7f3a0"],
        "aws:sourcevpc" => &["vpc-0s3recprobe7f3a0"],
        "aws:userid" => &["AROAS3RECPROBE7F3A:session", "AIDAS3RECPROBE7F3A"],
        _ => &[],
    }
}

/// Whether CIDR ranges (or bare addresses) together contain every IPv4 address or every IPv6
/// address: then `IpAddress` admits anyone on that protocol. Unparsable values admit nobody (IAM
/// refuses them).
fn ip_ranges_cover_everything(values: &[String]) -> bool {
    let mut v4: Vec<(u128, u128)> = Vec::new();
    let mut v6: Vec<(u128, u128)> = Vec::new();
    for v in values {
        let (addr, len) = match v.split_once('/') {
            Some((a, l)) => (a, l.parse::<u32>().ok()),
            None => (v.as_str(), None),
        };
        match addr.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(a)) => {
                let len = len.unwrap_or(32).min(32);
                let size = 1u128 << (32 - len);
                let start = u128::from(u32::from(a)) & !(size - 1);
                v4.push((start, start + size));
            }
            Ok(std::net::IpAddr::V6(a)) => {
                let len = len.unwrap_or(128).min(128);
                let start = if len == 0 {
                    0
                } else {
                    u128::from(a) & (u128::MAX << (128 - len))
                };
                let end = if len == 0 {
                    u128::MAX
                } else {
                    start + ((1u128 << (128 - len)) - 1)
                };
                v6.push((start, end));
            }
            Err(_) => {}
        }
    }
    // IPv4 ranges are half-open, IPv6 ones closed (2^128 does not fit).
    let covers = |mut ranges: Vec<(u128, u128)>, end: u128, closed: bool| {
        ranges.sort_unstable();
        let mut next = 0u128;
        for (start, stop) in ranges {
            if start > next {
                return false;
            }
            if closed {
                if stop == end {
                    return true;
                }
                next = next.max(stop + 1);
            } else {
                next = next.max(stop);
            }
        }
        !closed && next >= end
    };
    (!v4.is_empty() && covers(v4, 1u128 << 32, false)) || (!v6.is_empty() && covers(v6, u128::MAX, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(v: Json) -> Policy {
        Policy::parse(&v).expect("policy")
    }

    #[test]
    fn globs() {
        assert!(glob("s3:Get*", "s3:GetObject"));
        assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
        assert!(!glob("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
        assert!(glob("arn:aws:s3:::b?", "arn:aws:s3:::bc"));
        assert!(glob_reaches("arn:aws:s3:::b/public/*", "arn:aws:s3:::b/"));
        assert!(!glob_covers_all("arn:aws:s3:::b/public/*", "arn:aws:s3:::b/"));
        assert!(glob_covers_all("arn:aws:s3:::b/*", "arn:aws:s3:::b/"));
        assert!(glob_covers_all("arn:aws:s3:::b*", "arn:aws:s3:::b/"));
        assert!(glob_covers_all("*", "arn:aws:s3:::b/"));
        assert!(!glob_reaches("arn:aws:s3:::b", "arn:aws:s3:::b/"));
        assert!(!glob_reaches("arn:aws:s3:::other/*", "arn:aws:s3:::b/"));
    }

    #[test]
    fn public_read_in_every_spelling() {
        for principal in [json!("*"), json!({"AWS": "*"}), json!({"AWS": ["*"]})] {
            for action in [
                json!("s3:GetObject"),
                json!(["s3:GetObject"]),
                json!("s3:*"),
                json!("*"),
            ] {
                let policy = p(
                    json!({"Statement": {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": "arn:aws:s3:::b/*"}}),
                );
                assert_eq!(policy.public_access("b").read, vec![0], "{principal} {action}");
            }
        }
    }

    #[test]
    fn restricting_conditions_and_denies() {
        let org = p(
            json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-123"}}}]}),
        );
        assert!(org.public_access("b").read.is_empty());
        let tls_only = p(
            json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}),
        );
        assert_eq!(tls_only.public_access("b").read, vec![0]);
        let denied = p(json!({"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
             "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}}]}));
        assert!(denied.public_access("b").read.is_empty());
        let not_principal = p(
            json!({"Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}]}),
        );
        assert_eq!(not_principal.public_access("b").list, vec![0]);
    }

    #[test]
    fn tls_deny_coverage() {
        let both = p(
            json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {"Bool": {"aws:SecureTransport": false}}}]}),
        );
        assert_eq!(both.tls_deny("b"), TlsDeny::Complete);
        let objects = p(
            json!({"Statement": [{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}),
        );
        assert_eq!(
            objects.tls_deny("b"),
            TlsDeny::Partial {
                bucket: false,
                objects: true
            }
        );
        assert_eq!(p(json!({"Statement": []})).tls_deny("b"), TlsDeny::Absent);
    }

    #[test]
    fn concrete_decisions_with_deny_precedence() {
        let policy = p(json!({"Statement": [
            {"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::t/logs/*",
             "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::src"}, "StringEquals": {"aws:SourceAccount": "111122223333"}}},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::t/logs/secret/*"}]}));
        let req = |resource, source: &str| Request {
            caller: Caller::Service("logging.s3.amazonaws.com"),
            action: "s3:PutObject",
            resource,
            context: vec![
                ("aws:sourcearn".into(), source.into()),
                ("aws:sourceaccount".into(), "111122223333".into()),
            ],
        };
        assert_eq!(
            policy.decide(&req("arn:aws:s3:::t/logs/x", "arn:aws:s3:::src")),
            Decision::Allow
        );
        assert_eq!(
            policy.decide(&req("arn:aws:s3:::t/logs/x", "arn:aws:s3:::other")),
            Decision::Implicit
        );
        assert_eq!(
            policy.decide(&req("arn:aws:s3:::t/logs/secret/x", "arn:aws:s3:::src")),
            Decision::Deny
        );
    }

    #[test]
    fn identity_policy_questions() {
        let admin = p(json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}));
        assert_eq!(admin.allows_everything(), vec![0]);
        let s3 = p(json!({"Statement": {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}}));
        assert_eq!(s3.allows_all_s3_on_every_bucket(), vec![0]);
        let scoped = p(
            json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]}}),
        );
        assert!(scoped.allows_all_s3_on_every_bucket().is_empty());
        let pass = p(json!({"Statement": {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}}));
        assert_eq!(pass.allows_pass_any_role(), vec![0]);
        let not_action = p(json!({"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}));
        assert_eq!(not_action.allow_not_action(), vec![0]);
    }

    #[test]
    fn other_accounts_are_named() {
        let policy = p(
            json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": ["444455556666", "arn:aws:iam::111122223333:role/x", "arn:aws:iam::777788889999:root"]},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}}),
        );
        assert_eq!(
            policy.other_accounts("111122223333"),
            vec!["444455556666", "777788889999"]
        );
    }
}
