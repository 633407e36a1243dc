//! The streaming walker of `inspect_json`: reads a JSON body once and keeps only the subtrees
//! that can name indices (route field roots at the top, DSL constructs anywhere).

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{At, CONSTRUCTS};

pub struct Hit {
    pub at: String,
    pub key: String,
    pub value: Value,
    /// A key of the top-level object (route field roots live there).
    pub top: bool,
}

pub struct Walker<'a, 'b> {
    pub at: &'a At<'a>,
    pub top: bool,
    pub roots: &'a [&'a str],
    pub dsl: bool,
    pub hits: &'b mut Vec<Hit>,
}

struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

impl<'de> DeserializeSeed<'de> for Walker<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walker<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let Walker { at, top, roots, dsl, hits } = self;
        while let Some(key) = m.next_key_seed(Key)? {
            let here = At::Key(at, &key);
            let keep = (dsl && CONSTRUCTS.contains(&&*key)) || (top && roots.contains(&&*key));
            if keep {
                let value: Value = m.next_value()?;
                hits.push(Hit { at: here.render(), key: key.into_owned(), value, top });
            } else {
                m.next_value_seed(Walker { at: &here, top: false, roots, dsl, hits: &mut *hits })?;
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        let Walker { at, roots, dsl, hits, .. } = self;
        let mut i = 0;
        loop {
            let here = At::Index(at, i);
            if s.next_element_seed(Walker { at: &here, top: false, roots, dsl, hits: &mut *hits })?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
}
