//! A YAML tree that remembers where every node came from.
//!
//! `serde_yaml` can locate syntax and type errors, but once a document is deserialized the positions are
//! gone, and most manifest errors are semantic (a transition at day 10, a dangling bucket reference). So
//! the manifest is parsed once, with `yaml-rust2`'s event parser (which reports a marker for every event),
//! into [`Node`]s that carry a [`Span`]. The tree is merged (`extends`), interpolated (`${env}`) and turned
//! into JSON together with a pointer → span index; every later error is reported through that index.
//! `docs/validation.md` explains the choice.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Index of a source file in [`crate::manifest::source::Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub usize);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub file: FileId,
    pub offset: usize,
    pub len: usize,
}

/// A mapping key: always a string in a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub text: String,
    pub span: Span,
}

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

/// The value of a [`Node`], resolved with the YAML 1.2 core schema (so `yes` is a string, not `true`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// Why a document could not be turned into a tree.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub message: String,
    pub hint: Option<String>,
    pub span: Span,
}

impl Node {
    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.text == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string value of this node, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// How deeply sequences and mappings may nest. The deepest real manifest path (a condition value in a
/// policy statement of a role) is about ten levels; every later stage (merge, JSON conversion, schema,
/// serde) recurses once per level, so an unbounded depth would overflow the stack. yaml-rust2 stops
/// flow nesting (`[[[`) at 255 levels but not block nesting (`- - -`); this limit catches both the same way.
pub const MAX_DEPTH: usize = 64;

/// How many nodes aliases may copy in, beyond one copy per node written in the file. An alias is a copy
/// of its anchored node, so aliases of aliased lists grow exponentially (the "billion laughs"): nine
/// levels of nine fill gigabytes from a few hundred bytes. With this budget a document is at most a
/// fixed amount plus twice what its text spells out, so work and memory stay linear in the file's size.
pub const ALIAS_NODE_BUDGET: usize = 10_000;

/// Parses one YAML document. An empty document is `null`; a stream of several documents is refused,
/// because a manifest is exactly one environment.
pub fn parse(text: &str, file: FileId) -> Result<Node, ParseError> {
    let mut builder = Builder {
        text,
        lines: TextIndex::new(text),
        file,
        stack: Vec::new(),
        anchors: HashMap::new(),
        written: 0,
        copied: 0,
        documents: Vec::new(),
        error: None,
    };
    // The events are pulled one by one rather than through `Parser::load`, which recurses once per
    // nesting level (so deep block nesting overflows the stack before any limit here could act) and
    // keeps going after the builder has already refused the document.
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => break,
            Ok((event, mark)) => {
                builder.on_event(event, mark);
                if let Some(err) = builder.error {
                    return Err(err);
                }
            }
            Err(e) => {
                return Err(ParseError {
                    message: format!("YAML syntax error: {}", e.info()),
                    hint: Some(
                        "check the indentation and quoting around this point; a value containing `: ` or `#` needs quotes"
                            .to_string(),
                    ),
                    span: builder.span_at(e.marker(), 1),
                });
            }
        }
    }
    let mut documents = builder.documents;
    match documents.len() {
        0 => Ok(Node {
            value: Value::Null,
            span: Span {
                file,
                offset: 0,
                len: 0,
            },
        }),
        1 => Ok(documents.remove(0)),
        _ => Err(ParseError {
            message: "a manifest holds exactly one YAML document, this file has several".to_string(),
            hint: Some("put each environment in its own file under environments/".to_string()),
            span: documents[1].span,
        }),
    }
}

enum Frame {
    Seq {
        anchor: usize,
        start: Span,
        items: Vec<Node>,
        /// Nodes in this collection, itself included (for the alias budget).
        nodes: usize,
    },
    Map {
        anchor: usize,
        start: Span,
        entries: Vec<(Key, Node)>,
        /// Where each key of `entries` is, so a duplicate is found without a scan (a scan per key is
        /// quadratic in the number of buckets).
        keys: HashMap<String, Span>,
        pending_key: Option<Key>,
        nodes: usize,
    },
}

impl Frame {
    fn nodes_mut(&mut self) -> &mut usize {
        match self {
            Frame::Seq { nodes, .. } | Frame::Map { nodes, .. } => nodes,
        }
    }
}

struct Builder<'a> {
    text: &'a str,
    lines: TextIndex,
    file: FileId,
    stack: Vec<Frame>,
    /// Each anchored node with its node count.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes spelled out in the text, and nodes copied in by aliases.
    written: usize,
    copied: usize,
    documents: Vec<Node>,
    error: Option<ParseError>,
}

impl Builder<'_> {
    fn span_at(&self, mark: &Marker, len: usize) -> Span {
        // yaml-rust2's markers count characters, not bytes; spans index the text by bytes.
        let offset = self.lines.byte_offset(mark.index());
        // The caret never runs past the end of the line it starts on, nor into the middle of a character
        // (`len` counts the scalar's value, which can differ from its text: escapes, a byte order mark).
        let mut end = offset + len.min(self.lines.line_end(offset) - offset);
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        Span {
            file: self.file,
            offset,
            len: end - offset,
        }
    }

    fn fail(&mut self, message: String, hint: Option<String>, span: Span) {
        if self.error.is_none() {
            self.error = Some(ParseError { message, hint, span });
        }
    }

    /// Opens a sequence or mapping, refusing one nested deeper than [`MAX_DEPTH`].
    fn open(&mut self, frame: Frame, start: Span) {
        if self.stack.len() >= MAX_DEPTH {
            self.fail(
                format!("sequences and mappings nest deeper than {MAX_DEPTH} levels here"),
                Some("a manifest is never this deep: check the indentation and the `- ` list markers".to_string()),
                start,
            );
            return;
        }
        self.written += 1;
        self.stack.push(frame);
    }

    /// Hands a finished node of `nodes` nodes to its parent frame (or makes it a document).
    fn push_node(&mut self, node: Node, anchor: usize, nodes: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), nodes));
        }
        let text = self.text;
        let lines = &self.lines;
        if let Some(frame) = self.stack.last_mut() {
            *frame.nodes_mut() += nodes;
        }
        let problem = match self.stack.last_mut() {
            None => {
                self.documents.push(node);
                None
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                None
            }
            Some(Frame::Map {
                entries,
                keys,
                pending_key,
                ..
            }) => match pending_key.take() {
                Some(key) => match keys.get(&key.text) {
                    Some(first) => Some((
                        format!("duplicate key `{}`", key.text),
                        Some(format!(
                            "`{}` is already set on line {}; a later value would silently win, so remove one of them",
                            key.text,
                            lines.line_col(first.offset).0
                        )),
                        key.span,
                    )),
                    None => {
                        keys.insert(key.text.clone(), key.span);
                        entries.push((key, node));
                        None
                    }
                },
                None => match node.value {
                    Value::Str(name) => {
                        *pending_key = Some(Key {
                            text: name,
                            span: node.span,
                        });
                        None
                    }
                    Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                        // Keys such as `404:` or `true:` are still names in a manifest.
                        let name = text[node.span.offset..node.span.offset + node.span.len].to_string();
                        *pending_key = Some(Key {
                            text: name,
                            span: node.span,
                        });
                        None
                    }
                    Value::Seq(_) | Value::Map(_) => {
                        *pending_key = Some(Key {
                            text: String::new(),
                            span: node.span,
                        });
                        Some((
                            "a mapping key must be a plain name, not a list or mapping".to_string(),
                            None,
                            node.span,
                        ))
                    }
                },
            },
        };
        if let Some((message, hint, span)) = problem {
            self.fail(message, hint, span);
        }
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let len = match style {
                    TScalarStyle::Plain => text.len(),
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => text.len() + 2,
                    _ => 1,
                };
                let span = self.span_at(&mark, len.max(1));
                let value = resolve_scalar(text, style, tag.as_ref());
                self.written += 1;
                self.push_node(Node { value, span }, anchor, 1);
            }
            Event::SequenceStart(anchor, _) => {
                let start = self.span_at(&mark, 1);
                let frame = Frame::Seq {
                    anchor,
                    start,
                    items: Vec::new(),
                    nodes: 1,
                };
                self.open(frame, start);
            }
            Event::MappingStart(anchor, _) => {
                let start = self.span_at(&mark, 1);
                let frame = Frame::Map {
                    anchor,
                    start,
                    entries: Vec::new(),
                    keys: HashMap::new(),
                    pending_key: None,
                    nodes: 1,
                };
                self.open(frame, start);
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq {
                    anchor,
                    start,
                    items,
                    nodes,
                }) => self.push_node(
                    Node {
                        value: Value::Seq(items),
                        span: start,
                    },
                    anchor,
                    nodes,
                ),
                Some(Frame::Map {
                    anchor,
                    start,
                    entries,
                    nodes,
                    ..
                }) => {
                    // The parser marks a block mapping where it recognises its first key (at the `:`);
                    // the first key itself is where a reader sees the mapping begin.
                    let span = entries.first().map_or(start, |(k, _)| k.span);
                    self.push_node(
                        Node {
                            value: Value::Map(entries),
                            span,
                        },
                        anchor,
                        nodes,
                    )
                }
                None => {}
            },
            Event::Alias(anchor) => match self.anchors.get(&anchor) {
                Some(&(_, nodes)) if self.copied + nodes > ALIAS_NODE_BUDGET + self.written => {
                    let span = self.span_at(&mark, 1);
                    self.fail(
                        format!(
                            "aliases expand this document beyond {} nodes ({ALIAS_NODE_BUDGET} plus one per node written)",
                            ALIAS_NODE_BUDGET + self.written
                        ),
                        Some(
                            "each alias copies its anchored node, so aliases of aliased lists grow exponentially; \
                             write the values out, or alias less"
                                .to_string(),
                        ),
                        span,
                    );
                }
                Some((node, nodes)) => {
                    // An alias is a copy of the anchored node, but errors inside it point at the anchor.
                    let (node, nodes) = (node.clone(), *nodes);
                    self.copied += nodes;
                    self.push_node(node, 0, nodes);
                }
                None => {
                    let span = self.span_at(&mark, 1);
                    self.fail("alias to an unknown anchor".to_string(), None, span);
                }
            },
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd => {}
        }
    }
}

/// Resolves a scalar with the YAML 1.2 core schema. Quoted and block scalars are always strings.
fn resolve_scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag
        && tag.suffix == "str"
    {
        return Value::Str(text);
    }
    if style != TScalarStyle::Plain {
        return Value::Str(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(v) = parse_int(&text) {
        return Value::Int(v);
    }
    if is_core_float(&text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(text)
}

fn parse_int(text: &str) -> Option<i64> {
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    None
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core schema's float.
fn is_core_float(text: &str) -> bool {
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (!int.is_empty() || !frac.is_empty())
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// Line starts and character offsets of a text, so positions are found by binary search: a scan from the
/// start of the file per position is quadratic when a large file has many problems.
#[derive(Debug, Clone)]
pub struct TextIndex {
    len: usize,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
    /// Byte offset of each character, only for non-ASCII text (where the two differ).
    char_offsets: Option<Vec<usize>>,
}

impl TextIndex {
    pub fn new(text: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        TextIndex {
            len: text.len(),
            line_starts,
            char_offsets: (!text.is_ascii()).then(|| text.char_indices().map(|(i, _)| i).collect()),
        }
    }

    /// The byte offset of the character at `char_index`.
    pub fn byte_offset(&self, char_index: usize) -> usize {
        match &self.char_offsets {
            None => char_index.min(self.len),
            Some(offsets) => offsets.get(char_index).copied().unwrap_or(self.len),
        }
    }

    fn char_index(&self, offset: usize) -> usize {
        match &self.char_offsets {
            None => offset,
            Some(offsets) => offsets.partition_point(|&o| o < offset),
        }
    }

    /// 0-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&s| s <= offset.min(self.len))
            .saturating_sub(1)
    }

    /// Byte range of a 0-based line, without its line break; `None` past the last line.
    pub fn line_range(&self, line: usize) -> Option<std::ops::Range<usize>> {
        let start = *self.line_starts.get(line)?;
        let end = self.line_starts.get(line + 1).map_or(self.len, |next| next - 1);
        Some(start..end)
    }

    /// Byte offset of the end of the line `offset` is on (its line break, or the end of the text).
    pub fn line_end(&self, offset: usize) -> usize {
        self.line_range(self.line(offset)).map_or(self.len, |r| r.end)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.len);
        let line = self.line(offset);
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        (line + 1, self.char_index(offset) - self.char_index(start) + 1)
    }
}

/// Deep-merges `over` onto `base`: mappings merge key by key (keeping the base's key order, then the new
/// keys), anything else in `over` replaces the base value. Every node keeps the span of the file it came from.
pub fn merge(base: Node, over: Node) -> Node {
    match (base.value, over.value) {
        (Value::Map(mut base_entries), Value::Map(over_entries)) => {
            // Positions by key, so merging stays linear in the number of entries.
            let mut at: HashMap<String, usize> = base_entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (k.text.clone(), i))
                .collect();
            for (key, value) in over_entries {
                match at.get(&key.text) {
                    Some(&i) => {
                        let placeholder = Node {
                            value: Value::Null,
                            span: value.span,
                        };
                        let old = std::mem::replace(&mut base_entries[i].1, placeholder);
                        base_entries[i] = (key, merge(old, value));
                    }
                    None => {
                        at.insert(key.text.clone(), base_entries.len());
                        base_entries.push((key, value));
                    }
                }
            }
            Node {
                value: Value::Map(base_entries),
                span: over.span,
            }
        }
        (_, value) => Node { value, span: over.span },
    }
}

/// Applies `f` to every string scalar (not to keys).
pub fn map_strings(node: &mut Node, f: &dyn Fn(&str) -> Option<String>) {
    match &mut node.value {
        Value::Str(s) => {
            if let Some(new) = f(s) {
                *s = new;
            }
        }
        Value::Seq(items) => items.iter_mut().for_each(|n| map_strings(n, f)),
        Value::Map(entries) => entries.iter_mut().for_each(|(_, n)| map_strings(n, f)),
        _ => {}
    }
}

/// Where a JSON pointer's value, and its key when it has one, sit in the sources.
#[derive(Debug, Clone, Copy)]
pub struct Located {
    pub value: Span,
    pub key: Option<Span>,
}

/// JSON pointer (RFC 6901) → position, for every node of a tree.
#[derive(Debug, Default, Clone)]
pub struct SpanIndex {
    entries: HashMap<String, Located>,
}

impl SpanIndex {
    /// The position of `pointer`, or of its nearest ancestor that is in the sources (a defaulted field
    /// has no text of its own, so an error about it points at the mapping that left it out).
    pub fn locate(&self, pointer: &str) -> Option<Located> {
        let mut p = pointer;
        loop {
            if let Some(found) = self.entries.get(p) {
                return Some(*found);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }

    /// Whether `pointer` itself (not an ancestor) is written in the sources.
    pub fn contains(&self, pointer: &str) -> bool {
        self.entries.contains_key(pointer)
    }
}

/// Converts a tree to JSON and indexes every node's position by JSON pointer.
pub fn to_json(node: &Node) -> (serde_json::Value, SpanIndex) {
    let mut index = SpanIndex::default();
    let value = convert(node, String::new(), None, &mut index);
    (value, index)
}

fn convert(node: &Node, pointer: String, key: Option<Span>, index: &mut SpanIndex) -> serde_json::Value {
    use serde_json::Value as J;
    let json = match &node.value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        // NaN and infinities have no JSON form; they are refused by the schema as non-numbers.
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or_else(|| J::String(f.to_string()), J::Number),
        Value::Str(s) => J::String(s.clone()),
        Value::Seq(items) => J::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, n)| convert(n, format!("{pointer}/{i}"), None, index))
                .collect(),
        ),
        Value::Map(entries) => {
            let mut map = serde_json::Map::new();
            for (k, v) in entries {
                let child = format!("{pointer}/{}", escape_pointer(&k.text));
                map.insert(k.text.clone(), convert(v, child, Some(k.span), index));
            }
            J::Object(map)
        }
    };
    index.entries.insert(pointer, Located { value: node.span, key });
    json
}

/// Escapes one JSON pointer segment.
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Node {
        parse(text, FileId(0)).expect("valid yaml")
    }

    #[test]
    fn core_schema_scalars() {
        let n = parse_ok("a: yes\nb: true\nc: 012\nd: 1.5\ne: ~\nf: '1'\ng: 0x1F\nh: 1e3\n");
        let (json, _) = to_json(&n);
        assert_eq!(
            json,
            serde_json::json!({"a": "yes", "b": true, "c": 12, "d": 1.5, "e": null, "f": "1", "g": 31, "h": 1000.0})
        );
    }

    #[test]
    fn spans_are_byte_offsets_even_after_multibyte_text() {
        let text = "# café ünïcode\nkey: value\n";
        let n = parse_ok(text);
        let (_, index) = to_json(&n);
        let at = index.locate("/key").expect("indexed");
        assert_eq!(&text[at.value.offset..at.value.offset + at.value.len], "value");
        let key = at.key.expect("key span");
        assert_eq!(&text[key.offset..key.offset + key.len], "key");
        assert_eq!(TextIndex::new(text).line_col(at.value.offset), (2, 6));
    }

    #[test]
    fn duplicate_keys_are_refused_with_both_lines() {
        let err = parse("a: 1\nb: 2\na: 3\n", FileId(0)).expect_err("duplicate");
        assert_eq!(err.message, "duplicate key `a`");
        assert!(err.hint.as_deref().unwrap_or("").contains("line 1"));
        assert_eq!(err.span.offset, 10);
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = parse("a: [1, 2\nb: 3\n", FileId(0)).expect_err("unclosed");
        assert!(err.message.starts_with("YAML syntax error"));
    }

    #[test]
    fn merge_keeps_base_order_and_replaces_lists() {
        let base = parse_ok("a: {x: 1, y: [1, 2]}\nb: 2\n");
        let over = parse_ok("a: {y: [3], z: 4}\nc: 5\n");
        let (json, _) = to_json(&merge(base, over));
        assert_eq!(json.to_string(), r#"{"a":{"x":1,"y":[3],"z":4},"b":2,"c":5}"#);
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let n = parse_ok("base: &b {x: 1}\nother: *b\n");
        let (json, _) = to_json(&n);
        assert_eq!(json["other"], serde_json::json!({"x": 1}));
    }

    #[test]
    fn pointer_lookup_falls_back_to_the_parent() {
        let n = parse_ok("buckets:\n  logs:\n    name: x\n");
        let (_, index) = to_json(&n);
        let parent = index.locate("/buckets/logs").expect("parent");
        let missing = index.locate("/buckets/logs/versioning").expect("falls back");
        assert_eq!(parent.value, missing.value);
    }
}
