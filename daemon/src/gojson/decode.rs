//! The target type deserialized from a `Node`: a serde `Deserializer` that passes the
//! tree through unchanged except where the target asks for a struct, whose keys are first
//! matched to its fields (`fold::struct_entries`). Map keys stay as sent.
//!
//! `Rules::str_slices` names struct fields of dockerd's `strslice.StrSlice` type, whose
//! `UnmarshalJSON` also takes a lone string as a list of one (`"Cmd": "date"`).
use serde::de::value::StringDeserializer;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::Error;

use super::fold::struct_entries;
use super::tree::Node;

impl Node {
    fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Node::Null => Unexpected::Unit,
            Node::Bool(b) => Unexpected::Bool(*b),
            Node::Int(i) => Unexpected::Signed(*i),
            Node::Uint(u) => Unexpected::Unsigned(*u),
            Node::Float(f) => Unexpected::Float(*f),
            Node::String(s) => Unexpected::Str(s),
            Node::Array(_) => Unexpected::Seq,
            Node::Object(_) => Unexpected::Map,
        }
    }
}

/// What a decoding knows beyond Go's general rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    /// Struct fields (by their canonical name) that take a lone string as a list of one.
    pub str_slices: &'static [&'static str],
}

/// A node on its way into the target type, with the rules of the decoding.
pub struct De {
    pub node: Node,
    pub rules: Rules,
}

impl<'de> IntoDeserializer<'de, Error> for De {
    type Deserializer = De;

    fn into_deserializer(self) -> De {
        self
    }
}

impl<'de> Deserializer<'de> for De {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let rules = self.rules;
        match self.node {
            Node::Null => visitor.visit_unit(),
            Node::Bool(b) => visitor.visit_bool(b),
            Node::Int(i) => visitor.visit_i64(i),
            Node::Uint(u) => visitor.visit_u64(u),
            Node::Float(f) => visitor.visit_f64(f),
            Node::String(s) => visitor.visit_string(s),
            Node::Array(items) => visitor.visit_seq(Items {
                items: items.into_iter(),
                rules,
            }),
            Node::Object(entries) => visitor.visit_map(Entries::new(entries, rules)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node {
            Node::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let rules = self.rules;
        match self.node {
            Node::Object(entries) => {
                let mut entries = struct_entries(entries, fields);
                for (key, value) in &mut entries {
                    if rules.str_slices.contains(&key.as_str()) {
                        if let Node::String(s) = value {
                            *value = Node::Array(vec![Node::String(std::mem::take(s))]);
                        }
                    }
                }
                visitor.visit_map(Entries::new(entries, rules))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let rules = self.rules;
        match self.node {
            Node::String(variant) => visitor.visit_enum(StringDeserializer::<Error>::new(variant)),
            Node::Object(mut entries) if entries.len() == 1 => {
                let (variant, node) = entries.remove(0);
                visitor.visit_enum(Variant {
                    variant,
                    value: De { node, rules },
                })
            }
            node => Err(de::Error::invalid_type(node.unexpected(), &"an enum")),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

/// An array's items.
struct Items {
    items: std::vec::IntoIter<Node>,
    rules: Rules,
}

impl<'de> SeqAccess<'de> for Items {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let rules = self.rules;
        self.items
            .next()
            .map(|node| seed.deserialize(De { node, rules }))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// An object's entries, keys as they are.
struct Entries {
    entries: std::vec::IntoIter<(String, Node)>,
    value: Option<Node>,
    rules: Rules,
}

impl Entries {
    fn new(entries: Vec<(String, Node)>, rules: Rules) -> Entries {
        Entries {
            entries: entries.into_iter(),
            value: None,
            rules,
        }
    }
}

impl<'de> MapAccess<'de> for Entries {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(StringDeserializer::<Error>::new(key))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(node) => seed.deserialize(De {
                node,
                rules: self.rules,
            }),
            None => Err(de::Error::custom("a map value asked for before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// `{"Variant": value}`: an externally tagged enum.
struct Variant {
    variant: String,
    value: De,
}

impl<'de> EnumAccess<'de> for Variant {
    type Error = Error;
    type Variant = De;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, De), Error> {
        let tag = seed.deserialize(StringDeserializer::<Error>::new(self.variant))?;
        Ok((tag, self.value))
    }
}

impl<'de> VariantAccess<'de> for De {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.node {
            Node::Null => Ok(()),
            node => Err(de::Error::invalid_type(
                node.unexpected(),
                &"a unit variant",
            )),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_struct("", fields, visitor)
    }
}
