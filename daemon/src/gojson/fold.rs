//! Go's match of an object key to a struct field (`encoding/json`'s `object`): the field
//! named exactly so, else the first whose name is equal under simple case folding.
//!
//! Go 1.19's `equalFoldRight`, which dockerd 20.10 runs, compares field names (ASCII in
//! every Docker type) with keys letter by letter ignoring ASCII case; of the non-ASCII
//! letters only the Kelvin sign (U+212A) folds to `k`/`K` and the long s (U+017F) to
//! `s`/`S`. So `"ſhell"` fills `Shell` while `"ıd"` (dotless i) fills no `Id`.
use super::tree::Node;

/// Whether `field` and `key` are equal under Go's simple case folding.
pub fn equal_fold(field: &str, key: &str) -> bool {
    let mut keys = key.chars();
    for f in field.chars() {
        match keys.next() {
            Some(k) if fold(f) == fold(k) => {}
            _ => return false,
        }
    }
    keys.next().is_none()
}

/// The representative of `c`'s case-fold class.
fn fold(c: char) -> char {
    match c {
        'a'..='z' => c.to_ascii_uppercase(),
        '\u{212A}' => 'K',
        '\u{17F}' => 'S',
        c if c.is_ascii() => c,
        c => {
            let upper = one(c.to_uppercase()).unwrap_or(c);
            let folded = one(upper.to_lowercase()).unwrap_or(upper);
            // No other non-ASCII letter folds to an ASCII one (Go's simple folding).
            if folded.is_ascii() {
                c
            } else {
                folded
            }
        }
    }
}

/// The only char of a case mapping, if it maps to exactly one.
fn one(mut it: impl Iterator<Item = char>) -> Option<char> {
    let first = it.next()?;
    it.next().is_none().then_some(first)
}

/// The field of `fields` a key fills, as Go picks it.
pub fn field_for<'f>(fields: &[&'f str], key: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|f| **f == key)
        .or_else(|| fields.iter().find(|f| equal_fold(f, key)))
        .copied()
}

/// An object's entries as a struct with `fields` receives them: keys renamed to the
/// fields they fill, entries for one field decoded into it in turn (later scalars and
/// arrays replace, objects merge), `null` fields left out.
pub fn struct_entries(entries: Vec<(String, Node)>, fields: &[&str]) -> Vec<(String, Node)> {
    let mut out: Vec<(String, Node)> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let name = field_for(fields, &key).map_or(key, str::to_string);
        match out.iter_mut().find(|(k, _)| *k == name) {
            Some((_, slot)) => merge(slot, value),
            None => out.push((name, value)),
        }
    }
    out.retain(|(_, v)| *v != Node::Null);
    out
}

/// Go's decoding of `later` into a field that already holds `slot`.
fn merge(slot: &mut Node, later: Node) {
    match (slot, later) {
        (Node::Object(kept), Node::Object(more)) => kept.extend(more),
        (slot, later) => *slot = later,
    }
}
