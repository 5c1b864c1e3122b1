//! A price table (the format of `prices.json`) built from AWS's Price List bulk files in CSV: the
//! `AmazonS3` offer and the `AmazonS3GlacierDeepArchive` offer, for every region they list.
//!
//! Each price comes from the rows of one usage type, as the S3 User Guide's table of usage types names
//! them, with the region's billing prefix (`EU-`, `APN1-`…) removed. Where a usage type has rows at
//! several prices (lifecycle transitions and Glacier restores share `Requests-Tier3` and
//! `Requests-Tier4`), the rule's selectors pick one by operation, description or volume type. A price
//! that no row gives, or that rows give at two prices no selector separates, leaves its class out of
//! that region and is reported: a guessed price is worse than none. Minimum durations, minimum
//! billable sizes and the archive classes' per-object overhead are the same in every region; they come
//! from the embedded table, not from the Price List, which does not carry them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use crate::cost::prices::{ClassPrice, Prices, STANDARD, TierPrice};
use crate::manifest::types::RestoreTier;

/// The offers whose files this reads.
pub const OFFERS: [&str; 2] = ["AmazonS3", "AmazonS3GlacierDeepArchive"];

/// Where AWS publishes an offer's current bulk file in CSV.
pub fn offer_url(offer: &str) -> String {
    format!("https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/current/index.csv")
}

/// Why a Price List file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PriceListError {
    #[error("{path}:{line}: {message}")]
    Csv { path: String, line: u64, message: String },
    #[error("{path}: no header row (a row starting with \"SKU\") in the first {HEADER_SEARCH} rows")]
    NoHeader { path: String },
    #[error("{path}: the header has no `{column}` column")]
    NoColumn { path: String, column: &'static str },
    #[error("{path}: offer {offer} is not one this reads")]
    WrongOffer { path: String, offer: String },
    #[error("no region in the files has a complete STANDARD class")]
    Nothing { gaps: Vec<Gap> },
}

impl PriceListError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            PriceListError::Csv { .. } | PriceListError::NoHeader { .. } | PriceListError::NoColumn { .. } => Some(
                format!("pass the CSV bulk files AWS publishes, e.g. {}", offer_url(OFFERS[0])),
            ),
            PriceListError::WrongOffer { .. } => Some(format!("pass the files of {}", OFFERS.join(" and "))),
            // The STANDARD gaps are the ones that kept each region out.
            PriceListError::Nothing { gaps } => Some(
                gaps.iter()
                    .filter(|g| g.class == STANDARD)
                    .take(5)
                    .map(Gap::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        }
    }
}

/// How many rows may come before the header (AWS writes five lines of metadata).
const HEADER_SEARCH: usize = 20;

/// One priced row: the first tier of an on-demand USD price in an AWS Region.
#[derive(Debug, Clone)]
struct Row {
    region: String,
    offer: String,
    /// The usage type without the region's billing prefix.
    usage: String,
    operation: String,
    description: String,
    /// The product's volume type (`Standard`, `Standard - Infrequent Access`…), where the file has it.
    volume_type: String,
    unit: String,
    price: f64,
}

/// What the files hold: their rows and the offers' publication.
#[derive(Debug, Default)]
pub struct PriceList {
    rows: Vec<Row>,
    /// Offer code → (version, publication date).
    published: BTreeMap<String, (String, String)>,
}

/// The columns this reads, by their header names with case and spaces ignored.
struct Columns {
    region: usize,
    location_type: usize,
    term: usize,
    start: usize,
    unit: usize,
    price: usize,
    currency: usize,
    usage: usize,
    operation: Option<usize>,
    description: Option<usize>,
    service: Option<usize>,
    volume_type: Option<usize>,
}

/// A header name compared without case or spaces: `Region Code`, `regionCode` → `regioncode`.
fn squash(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

impl Columns {
    fn find(path: &str, header: &csv::StringRecord) -> Result<Columns, PriceListError> {
        let names: Vec<String> = header.iter().map(squash).collect();
        let at = |name: &str| names.iter().position(|n| n == name);
        let need = |column: &'static str| {
            at(&squash(column)).ok_or(PriceListError::NoColumn {
                path: path.to_string(),
                column,
            })
        };
        Ok(Columns {
            region: need("Region Code")?,
            location_type: need("Location Type")?,
            term: need("TermType")?,
            start: need("StartingRange")?,
            unit: need("Unit")?,
            price: need("PricePerUnit")?,
            currency: need("Currency")?,
            usage: need("usageType")?,
            operation: at("operation"),
            description: at("pricedescription"),
            service: at("servicecode"),
            volume_type: at("volumetype"),
        })
    }
}

/// The usage type without the region's billing prefix: `EUC1-Requests-Tier1` → `Requests-Tier1`.
/// US East (N. Virginia) has no prefix; every prefix is capitals and digits.
fn unprefixed(usage: &str) -> &str {
    match usage.split_once('-') {
        Some((prefix, rest))
            if prefix.len() >= 2 && prefix.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) =>
        {
            rest
        }
        _ => usage,
    }
}

impl PriceList {
    /// Reads one bulk file; `path` names it in errors. Rows of other terms, currencies, location types
    /// (Local Zones, Outposts) and volume tiers than the first are skipped.
    pub fn read(&mut self, path: &str, input: impl Read) -> Result<(), PriceListError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let csv_error = |e: csv::Error| PriceListError::Csv {
            path: path.to_string(),
            line: e.position().map_or(0, csv::Position::line),
            message: e.to_string(),
        };
        let mut records = reader.records();
        let mut meta: BTreeMap<String, String> = BTreeMap::new();
        let mut header = None;
        for record in records.by_ref().take(HEADER_SEARCH) {
            let record = record.map_err(csv_error)?;
            if record.get(0) == Some("SKU") {
                header = Some(record);
                break;
            }
            if let (Some(key), Some(value)) = (record.get(0), record.get(1)) {
                meta.insert(squash(key), value.to_string());
            }
        }
        let header = header.ok_or_else(|| PriceListError::NoHeader { path: path.to_string() })?;
        let columns = Columns::find(path, &header)?;
        let offer = meta.get("offercode").cloned().unwrap_or_default();
        if !offer.is_empty() && !OFFERS.contains(&offer.as_str()) {
            return Err(PriceListError::WrongOffer {
                path: path.to_string(),
                offer,
            });
        }
        self.published.insert(
            offer.clone(),
            (
                meta.get("version").cloned().unwrap_or_default(),
                meta.get("publicationdate").cloned().unwrap_or_default(),
            ),
        );
        let wanted: BTreeSet<&str> = RULES.iter().map(|r| r.usage).collect();
        for record in records {
            let record = record.map_err(csv_error)?;
            let get = |i: usize| record.get(i).unwrap_or_default();
            let usage = unprefixed(get(columns.usage));
            if !wanted.contains(usage)
                || get(columns.term) != "OnDemand"
                || get(columns.location_type) != "AWS Region"
                || get(columns.currency) != "USD"
                || get(columns.region).is_empty()
                || get(columns.start).parse::<f64>().ok() != Some(0.0)
            {
                continue;
            }
            let line = record.position().map_or(0, csv::Position::line);
            let price = get(columns.price).parse::<f64>().map_err(|_| PriceListError::Csv {
                path: path.to_string(),
                line,
                message: format!("price `{}` is not a number", get(columns.price)),
            })?;
            let optional = |i: Option<usize>| i.map(get).unwrap_or_default().to_string();
            let service = optional(columns.service);
            self.rows.push(Row {
                region: get(columns.region).to_string(),
                offer: if service.is_empty() { offer.clone() } else { service },
                usage: usage.to_string(),
                operation: optional(columns.operation),
                description: optional(columns.description),
                volume_type: optional(columns.volume_type),
                unit: get(columns.unit).to_string(),
                price,
            });
        }
        Ok(())
    }

    /// The table for `regions` (every region of the files when empty), and what was left out.
    pub fn build(&self, regions: &[String], terms: &Prices) -> Result<(Prices, Vec<Gap>), PriceListError> {
        let mut by_region: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        for row in &self.rows {
            by_region.entry(row.region.as_str()).or_default().push(row);
        }
        let wanted: Vec<&str> = if regions.is_empty() {
            by_region.keys().copied().collect()
        } else {
            regions.iter().map(String::as_str).collect()
        };
        // The terms that are the same everywhere come from any region of the given table; the embedded
        // one has them for us-east-1.
        let Some(class_terms) = terms.regions.values().next() else {
            return Err(PriceListError::Nothing { gaps: Vec::new() });
        };
        let mut gaps = Vec::new();
        let mut table = BTreeMap::new();
        for region in wanted {
            let rows = by_region.get(region).map(Vec::as_slice).unwrap_or_default();
            let mut classes = BTreeMap::new();
            for (class, base) in class_terms {
                match class_price(region, class, base, rows) {
                    Ok(price) => {
                        classes.insert(class.clone(), price);
                    }
                    Err(gap) => gaps.push(gap),
                }
            }
            if classes.contains_key(STANDARD) {
                table.insert(region.to_string(), classes);
            }
        }
        if table.is_empty() {
            return Err(PriceListError::Nothing { gaps });
        }
        let offers = self
            .published
            .iter()
            .map(|(offer, (version, date))| format!("{offer} version {version} published {date}"))
            .collect::<Vec<_>>()
            .join(", ");
        let taken = self
            .published
            .values()
            .map(|(_, date)| date.get(..10).unwrap_or(date).to_string())
            .max()
            .unwrap_or_default();
        let prices = Prices {
            source: format!(
                "AWS Price List bulk files ({offers}), {}, converted by `s3rec prices`: on-demand list prices of the first volume tier",
                OFFERS.map(offer_url).join(" and ")
            ),
            taken,
            currency: "USD".to_string(),
            regions: table,
        };
        Ok((prices, gaps))
    }
}

/// A class left out of a region, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    pub region: String,
    pub class: String,
    pub usage: &'static str,
    pub reason: GapReason,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GapReason {
    /// No row of the usage type (and offer) in the region.
    Missing,
    /// Rows at several prices that no selector separates: (price, operation, description) of each.
    Ambiguous(Vec<(f64, String, String)>),
    /// The rows' unit is not the one the price is in.
    Unit(String),
    /// No rule says where this class's prices are (a class the embedded table has and this does not).
    NoRules,
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Gap {
            region, class, usage, ..
        } = self;
        match &self.reason {
            GapReason::Missing => write!(f, "{region} {class}: no row of usage type {usage}"),
            GapReason::Ambiguous(rows) => write!(
                f,
                "{region} {class}: usage type {usage} has rows at different prices that nothing tells apart ({})",
                rows.iter()
                    .map(|(price, op, description)| format!("{price} for `{op}` \"{description}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            GapReason::Unit(unit) => write!(f, "{region} {class}: usage type {usage} is priced per {unit}"),
            GapReason::NoRules => write!(f, "{region} {class}: no rule says where its prices are"),
        }
    }
}

/// The fields of a class's prices that come from the Price List.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Storage,
    Put,
    Get,
    Transition,
    Retrieval,
    Monitoring,
    RestoreGb(RestoreTier),
    RestoreRequests(RestoreTier),
}

/// The unit a usage type is priced in, and what turns it into ours.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    /// Per GB-month or per GB, as ours.
    PerGb(&'static str),
    /// Per request or object; ours are per 1,000.
    PerOne(&'static str),
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::PerGb(name) | Unit::PerOne(name) => name,
        }
    }

    fn ours(self, price: f64) -> f64 {
        match self {
            Unit::PerGb(_) => price,
            // Rounded to the Price List's ten decimals, so that 0.0000050000 × 1,000 reads 0.005.
            Unit::PerOne(_) => (price * 1000.0 * 1e10).round() / 1e10,
        }
    }
}

const GB_MONTH: Unit = Unit::PerGb("GB-Mo");
const GB: Unit = Unit::PerGb("GB");
const REQUESTS: Unit = Unit::PerOne("Requests");
const OBJECTS: Unit = Unit::PerOne("Objects");

/// What picks one price among rows of a usage type at several prices.
#[derive(Debug, Clone, Copy)]
enum Select {
    /// The row's operation is this.
    Operation(&'static str),
    /// The row's price description contains this (case ignored).
    Says(&'static str),
    /// The row's product has this volume type.
    VolumeType(&'static str),
}

/// Where one price of one class comes from.
struct Rule {
    class: &'static str,
    field: Field,
    usage: &'static str,
    unit: Unit,
    /// Only rows of this offer, where two offers use the same usage type for different classes.
    offer: Option<&'static str>,
    select: &'static [Select],
}

const fn rule(class: &'static str, field: Field, usage: &'static str, unit: Unit) -> Rule {
    Rule {
        class,
        field,
        usage,
        unit,
        offer: None,
        select: &[],
    }
}

const fn from_offer(rule: Rule, offer: &'static str) -> Rule {
    Rule {
        offer: Some(offer),
        ..rule
    }
}

const fn picked(rule: Rule, select: &'static [Select]) -> Rule {
    Rule { select, ..rule }
}

const S3: &str = "AmazonS3";
const GDA: &str = "AmazonS3GlacierDeepArchive";

use Field::{Get, Monitoring, Put, RestoreGb, RestoreRequests, Retrieval, Storage, Transition};
use RestoreTier::{Bulk, Expedited, Standard};
use Select::{Operation, Says, VolumeType};

/// Every price the Price List gives, by class: usage types from the S3 User Guide's table ("Understanding
/// your AWS billing and usage reports for Amazon S3"). A field no rule names is 0 (STANDARD has no
/// transition or retrieval fee; the archive classes' retrieval is priced per restore tier).
const RULES: &[Rule] = &[
    // Other products of the offer may bill storage under the same usage type; STANDARD's is the
    // `Standard` volume type.
    picked(
        from_offer(rule("STANDARD", Storage, "TimedStorage-ByteHrs", GB_MONTH), S3),
        &[VolumeType("Standard")],
    ),
    rule("STANDARD", Put, "Requests-Tier1", REQUESTS),
    rule("STANDARD", Get, "Requests-Tier2", REQUESTS),
    rule("INTELLIGENT_TIERING", Storage, "TimedStorage-INT-FA-ByteHrs", GB_MONTH),
    rule("INTELLIGENT_TIERING", Put, "Requests-INT-Tier1", REQUESTS),
    rule("INTELLIGENT_TIERING", Get, "Requests-INT-Tier2", REQUESTS),
    picked(
        rule("INTELLIGENT_TIERING", Transition, "Requests-Tier4", REQUESTS),
        &[Operation("S3-INTTransition"), Says("Intelligent")],
    ),
    rule("INTELLIGENT_TIERING", Monitoring, "Monitoring-Automation-INT", OBJECTS),
    rule("STANDARD_IA", Storage, "TimedStorage-SIA-ByteHrs", GB_MONTH),
    rule("STANDARD_IA", Put, "Requests-SIA-Tier1", REQUESTS),
    rule("STANDARD_IA", Get, "Requests-SIA-Tier2", REQUESTS),
    picked(
        rule("STANDARD_IA", Transition, "Requests-Tier4", REQUESTS),
        &[
            Operation("S3-SIATransition"),
            Says("Standard-Infrequent"),
            Says("Standard-IA"),
        ],
    ),
    rule("STANDARD_IA", Retrieval, "Retrieval-SIA", GB),
    rule("ONEZONE_IA", Storage, "TimedStorage-ZIA-ByteHrs", GB_MONTH),
    rule("ONEZONE_IA", Put, "Requests-ZIA-Tier1", REQUESTS),
    rule("ONEZONE_IA", Get, "Requests-ZIA-Tier2", REQUESTS),
    picked(
        rule("ONEZONE_IA", Transition, "Requests-Tier4", REQUESTS),
        &[Operation("S3-ZIATransition"), Says("One Zone")],
    ),
    rule("ONEZONE_IA", Retrieval, "Retrieval-ZIA", GB),
    rule("GLACIER_IR", Storage, "TimedStorage-GIR-ByteHrs", GB_MONTH),
    rule("GLACIER_IR", Put, "Requests-GIR-Tier1", REQUESTS),
    rule("GLACIER_IR", Get, "Requests-GIR-Tier2", REQUESTS),
    picked(
        rule("GLACIER_IR", Transition, "Requests-Tier4", REQUESTS),
        &[Operation("S3-GIRTransition"), Says("Instant Retrieval")],
    ),
    rule("GLACIER_IR", Retrieval, "Retrieval-GIR", GB),
    rule("GLACIER", Storage, "TimedStorage-GlacierByteHrs", GB_MONTH),
    picked(
        rule("GLACIER", Put, "Requests-GLACIER-Tier1", REQUESTS),
        &[Operation("PutObject"), Operation("PostObject")],
    ),
    rule("GLACIER", Get, "Requests-GLACIER-Tier2", REQUESTS),
    picked(
        rule("GLACIER", Transition, "Requests-Tier3", REQUESTS),
        &[Operation("S3-GlacierTransition"), Says("transition")],
    ),
    from_offer(
        rule("GLACIER", RestoreGb(Expedited), "Expedited-Retrieval-Bytes", GB),
        S3,
    ),
    rule("GLACIER", RestoreRequests(Expedited), "Requests-Tier6", REQUESTS),
    from_offer(rule("GLACIER", RestoreGb(Standard), "Standard-Retrieval-Bytes", GB), S3),
    picked(
        rule("GLACIER", RestoreRequests(Standard), "Requests-Tier3", REQUESTS),
        &[Operation("RestoreObject"), Says("restore")],
    ),
    from_offer(rule("GLACIER", RestoreGb(Bulk), "Bulk-Retrieval-Bytes", GB), S3),
    rule("GLACIER", RestoreRequests(Bulk), "Requests-Tier5", REQUESTS),
    from_offer(rule("DEEP_ARCHIVE", Storage, "TimedStorage-GDA-ByteHrs", GB_MONTH), GDA),
    picked(
        rule("DEEP_ARCHIVE", Put, "Requests-GDA-Tier1", REQUESTS),
        &[Operation("PutObject"), Operation("PostObject")],
    ),
    rule("DEEP_ARCHIVE", Get, "Requests-GDA-Tier2", REQUESTS),
    picked(
        rule("DEEP_ARCHIVE", Transition, "Requests-Tier3", REQUESTS),
        &[Operation("S3-GDATransition"), Says("Deep Archive")],
    ),
    from_offer(
        rule("DEEP_ARCHIVE", RestoreGb(Standard), "Standard-Retrieval-Bytes", GB),
        GDA,
    ),
    rule(
        "DEEP_ARCHIVE",
        RestoreRequests(Standard),
        "Requests-GDA-Tier3",
        REQUESTS,
    ),
    from_offer(rule("DEEP_ARCHIVE", RestoreGb(Bulk), "Bulk-Retrieval-Bytes", GB), GDA),
    rule("DEEP_ARCHIVE", RestoreRequests(Bulk), "Requests-GDA-Tier5", REQUESTS),
];

/// The one price `rule` finds in `rows`, or why there is none.
fn resolve(region: &str, rule: &Rule, rows: &[&Row]) -> Result<f64, Gap> {
    let gap = |reason| Gap {
        region: region.to_string(),
        class: rule.class.to_string(),
        usage: rule.usage,
        reason,
    };
    let candidates: Vec<&Row> = rows
        .iter()
        .copied()
        .filter(|r| r.usage == rule.usage && rule.offer.is_none_or(|offer| r.offer == offer))
        .collect();
    if let Some(other) = candidates.iter().find(|r| r.unit != rule.unit.name()) {
        return Err(gap(GapReason::Unit(other.unit.clone())));
    }
    let one_price = |rows: &[&Row]| {
        let first = rows.first()?.price;
        rows.iter().all(|r| r.price == first).then_some(first)
    };
    if candidates.is_empty() {
        return Err(gap(GapReason::Missing));
    }
    if let Some(price) = one_price(&candidates) {
        return Ok(rule.unit.ours(price));
    }
    for select in rule.select {
        let chosen: Vec<&Row> = candidates
            .iter()
            .copied()
            .filter(|r| match select {
                Operation(op) => r.operation == *op,
                Says(text) => r.description.to_lowercase().contains(&text.to_lowercase()),
                VolumeType(volume) => r.volume_type == *volume,
            })
            .collect();
        if let Some(price) = one_price(&chosen) {
            return Ok(rule.unit.ours(price));
        }
    }
    let mut seen: Vec<(f64, String, String)> = candidates
        .iter()
        .map(|r| (r.price, r.operation.clone(), r.description.clone()))
        .collect();
    seen.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    seen.dedup();
    Err(gap(GapReason::Ambiguous(seen)))
}

/// One class's prices in one region: the Price List's prices on `base`'s terms.
fn class_price(region: &str, class: &str, base: &ClassPrice, rows: &[&Row]) -> Result<ClassPrice, Gap> {
    let mut price = ClassPrice {
        storage_gb_month: 0.0,
        put_per_1000: 0.0,
        get_per_1000: 0.0,
        transition_per_1000: 0.0,
        retrieval_gb: 0.0,
        monitoring_per_1000_objects: 0.0,
        restore_tiers: BTreeMap::new(),
        ..base.clone()
    };
    let rules: Vec<&Rule> = RULES.iter().filter(|r| r.class == class).collect();
    if rules.is_empty() {
        return Err(Gap {
            region: region.to_string(),
            class: class.to_string(),
            usage: "",
            reason: GapReason::NoRules,
        });
    }
    for rule in rules {
        let value = resolve(region, rule, rows)?;
        match rule.field {
            Storage => price.storage_gb_month = value,
            Put => price.put_per_1000 = value,
            Get => price.get_per_1000 = value,
            Transition => price.transition_per_1000 = value,
            Retrieval => price.retrieval_gb = value,
            Monitoring => price.monitoring_per_1000_objects = value,
            RestoreGb(tier) => price.restore_tiers.entry(tier).or_insert(NO_TIER).per_gb = value,
            RestoreRequests(tier) => price.restore_tiers.entry(tier).or_insert(NO_TIER).per_1000_requests = value,
        }
    }
    Ok(price)
}

const NO_TIER: TierPrice = TierPrice {
    per_gb: 0.0,
    per_1000_requests: 0.0,
};

#[cfg(test)]
mod tests;
