//! JSON request bodies read as dockerd reads them: Go's `encoding/json`.
//!
//! dockerd decodes every JSON it is sent (container and exec configs, network and volume
//! requests, credentials, build options…) into Go structs, and Go matches an object's keys
//! to a struct's fields by name: the exact name first, then the first field whose name is
//! equal under Unicode simple case folding (`bytes.EqualFold`). `{"hostconfig": {"binds":
//! …}}` fills `HostConfig.Binds`, `{"detachKeys": "ctrl-p"}` fills `DetachKeys`, and
//! clients rely on it. The keys of maps (Labels, Options, DriverOpts, EndpointsConfig by
//! network name, ExposedPorts…) are data: they stay exactly as sent.
//!
//! `from_slice` reads the JSON into an ordered tree (`tree::Node`: every key, in order,
//! duplicates kept) and deserializes the target type from it (`decode`). Whenever the
//! target asks for a struct, serde hands over the struct's field names, and each key is
//! matched to one as Go does (`fold`); when it asks for a map, keys go through untouched.
//! So the rule holds for every serde type, nested ones included, with no per-field
//! aliases.
//!
//! Keys that land on the same field (`"Cmd"` then `"cmd"`) are decoded into it in turn,
//! as Go does: the last one wins, except that objects merge — a later object sets what
//! it names and keeps what earlier ones set, as Go decoding into an existing struct or map
//! does. A `null` field is absent (Go leaves the field unset; nil for pointers, maps and
//! slices). Unknown keys are ignored, as in Go. One difference remains: a later `null`
//! for a field that also had a value clears it, where Go keeps a non-pointer value.
//!
//! Some Docker types add to Go's rules with their own `UnmarshalJSON`; `Rules` carries
//! those a caller asks for (`strslice.StrSlice`: a lone string is a list of one).
//!
//! As current dockerd (`loadJSON`), content after the first JSON value is refused.
mod decode;
mod fold;
mod tree;

#[cfg(test)]
mod tests;

use serde::de::DeserializeOwned;
use serde::Deserialize;

pub use decode::Rules;
pub use fold::equal_fold;

/// Decodes `bytes` into `T` as Go's `json.Unmarshal` would fill the matching Go type.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    from_slice_with(bytes, Rules::default())
}

/// `from_slice`, with what the Go types' own `UnmarshalJSON` methods add (`Rules`).
pub fn from_slice_with<T: DeserializeOwned>(
    bytes: &[u8],
    rules: Rules,
) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let node = tree::Node::deserialize(&mut de)?;
    de.end()?;
    T::deserialize(decode::De { node, rules })
}

/// `from_slice` for text (query parameters and headers that carry JSON).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    from_slice(text.as_bytes())
}
