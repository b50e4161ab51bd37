//! Building blocks shared by the two wire formats.
//!
//! Both APIs are parsed into borrowed structs: strings without escapes and
//! JSON passed through untouched (`RawValue`) point into the request or
//! response body instead of being copied. Content blocks are flat structs with
//! a `type` string rather than serde-tagged enums, because tagged enums buffer
//! every block (and cannot hold a `RawValue`), and because an unknown block
//! type must be skipped, not fail the whole request.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

/// A string borrowed from the input when it has no escapes, owned otherwise.
///
/// `Option<Cow<str>>` never borrows through serde, so this newtype does.
#[derive(Clone, PartialEq, Eq, Default, Hash)]
pub struct CowStr<'a>(pub Cow<'a, str>);

impl fmt::Debug for CowStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl<'a> CowStr<'a> {
    pub const fn borrowed(s: &'a str) -> CowStr<'a> {
        CowStr(Cow::Borrowed(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for CowStr<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'a> From<&'a str> for CowStr<'a> {
    fn from(s: &'a str) -> Self {
        CowStr(Cow::Borrowed(s))
    }
}

impl From<String> for CowStr<'_> {
    fn from(s: String) -> Self {
        CowStr(Cow::Owned(s))
    }
}

impl<'a> From<Cow<'a, str>> for CowStr<'a> {
    fn from(s: Cow<'a, str>) -> Self {
        CowStr(s)
    }
}

impl Serialize for CowStr<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CowStrVisitor;
        impl<'de> Visitor<'de> for CowStrVisitor {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(CowStrVisitor)
    }
}

/// Names what an array of `Self` holds, for error messages.
pub trait Described {
    const WHAT: &'static str;
}

impl Described for CowStr<'_> {
    const WHAT: &'static str = "strings";
}

/// A field that is either a string or an array: message content in both
/// APIs, Anthropic `system`, tool results, OpenAI `stop`.
#[derive(Debug, Clone, PartialEq)]
pub enum TextOr<'a, T> {
    Text(CowStr<'a>),
    Items(Vec<T>),
}

impl<T: Serialize> Serialize for TextOr<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            TextOr::Text(text) => text.serialize(serializer),
            TextOr::Items(items) => items.serialize(serializer),
        }
    }
}

impl<'de: 'a, 'a, T: Deserialize<'de> + Described> Deserialize<'de> for TextOr<'a, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextOrVisitor<'a, T>(PhantomData<(&'a (), T)>);
        impl<'de: 'a, 'a, T: Deserialize<'de> + Described> Visitor<'de> for TextOrVisitor<'a, T> {
            type Value = TextOr<'a, T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a string or an array of {}", T::WHAT)
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(TextOr::Text(CowStr(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TextOr::Text(CowStr(Cow::Owned(v.to_string()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(TextOr::Text(CowStr(Cow::Owned(v))))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(TextOr::Items(items))
            }
        }
        deserializer.deserialize_any(TextOrVisitor(PhantomData))
    }
}

/// Deserializes an array, prefixing any element's error with its index
/// (`messages[3]: unknown variant ...`), so a client can find what is wrong.
pub fn indexed_seq<'de, D, T>(deserializer: D, name: &'static str) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct IndexedVisitor<T> {
        name: &'static str,
        marker: PhantomData<T>,
    }
    impl<'de, T: Deserialize<'de>> Visitor<'de> for IndexedVisitor<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "`{}` to be an array", self.name)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            loop {
                let index = items.len();
                match seq.next_element::<T>() {
                    Ok(Some(item)) => items.push(item),
                    Ok(None) => return Ok(items),
                    Err(e) => {
                        let message = e.to_string();
                        let message = strip_position(&message);
                        return Err(de::Error::custom(format_args!(
                            "{}[{index}]: {message}",
                            self.name
                        )));
                    }
                }
            }
        }
    }
    deserializer.deserialize_seq(IndexedVisitor {
        name,
        marker: PhantomData,
    })
}

/// An optional field that must be a JSON object when present: serde would
/// otherwise take an array for a struct (`metadata: ["uid"]`). Errors name
/// the field.
pub fn object_field<'de: 'a, 'a, D, T>(deserializer: D, name: &str) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'a>,
{
    let Some(raw) = Option::<&'a RawValue>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if !raw.get().starts_with('{') {
        return Err(de::Error::custom(format_args!(
            "{name}: must be a JSON object"
        )));
    }
    serde_json::from_str(raw.get()).map(Some).map_err(|e| {
        let message = e.to_string();
        de::Error::custom(format_args!("{name}: {}", strip_position(&message)))
    })
}

/// A token count that must be at least 1 when present (not `0`, not `null`).
pub fn positive_count<'de, D: Deserializer<'de>>(
    deserializer: D,
    name: &str,
) -> Result<Option<u64>, D::Error> {
    match Option::<u64>::deserialize(deserializer)? {
        Some(n) if n >= 1 => Ok(Some(n)),
        Some(n) => Err(de::Error::custom(format_args!(
            "{name}: must be at least 1, got {n}"
        ))),
        None => Err(de::Error::custom(format_args!(
            "{name}: must be an integer of at least 1, got null"
        ))),
    }
}

/// Drops serde_json's ` at line L column C` suffix; the outer error adds its own.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) => message.get(..at).unwrap_or(message),
        None => message,
    }
}

/// JSON passed through without being interpreted: borrowed from the input,
/// or owned when it was itself decoded from a string (OpenAI tool arguments).
#[derive(Debug, Clone)]
pub enum RawJson<'a> {
    Borrowed(&'a RawValue),
    Owned(Box<RawValue>),
}

impl<'a> RawJson<'a> {
    pub fn get(&self) -> &str {
        match self {
            RawJson::Borrowed(raw) => raw.get(),
            RawJson::Owned(raw) => raw.get(),
        }
    }

    /// The JSON text as a string value (an OpenAI `arguments` string).
    pub fn into_text(self) -> CowStr<'a> {
        match self {
            RawJson::Borrowed(raw) => CowStr::borrowed(raw.get()),
            RawJson::Owned(raw) => CowStr::from(raw.get().to_string()),
        }
    }

    /// `{}`
    pub fn empty_object() -> RawJson<'static> {
        match serde_json::from_slice::<&'static RawValue>(b"{}") {
            Ok(raw) => RawJson::Borrowed(raw),
            Err(_) => RawJson::Owned(RawValue::NULL.to_owned()),
        }
    }

    /// Parses text that must hold a JSON object (tool input); `None` if it does not.
    pub fn object_from_text(text: &str) -> Option<RawJson<'static>> {
        let raw: Box<RawValue> = serde_json::from_slice(text.as_bytes()).ok()?;
        raw.get().starts_with('{').then_some(RawJson::Owned(raw))
    }
}

impl Serialize for RawJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RawJson::Borrowed(raw) => raw.serialize(serializer),
            RawJson::Owned(raw) => raw.serialize(serializer),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawJson<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(deserializer).map(RawJson::Borrowed)
    }
}

/// A string written as `prefix + middle + suffix` straight into the output,
/// without building it first (data URLs hold megabytes of base64).
pub struct Concat<'a>(pub &'a str, pub &'a str, pub &'a str, pub &'a str);

impl Serialize for Concat<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}{}{}{}", self.0, self.1, self.2, self.3))
    }
}

/// A token count that may be `null` or absent (read as 0).
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(optional_count(d)?.unwrap_or(0))
}

/// A token count that may be `null`, a float, or junk from a sloppy server:
/// usage must never make a response fail to convert. A non-negative number
/// is the count (a fraction is dropped, anything beyond `u64::MAX` is
/// `u64::MAX`); a negative number, a string or any other value is ignored,
/// as if absent.
pub fn optional_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct CountVisitor;
    impl<'de> Visitor<'de> for CountVisitor {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a token count")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(u64::try_from(v).ok())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // `as` saturates: 1e30 is u64::MAX.
            Ok((v >= 0.0).then_some(v as u64))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(CountVisitor)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map
                .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    }
    d.deserialize_any(CountVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cow_str_borrows_when_it_can() {
        let v: Vec<CowStr<'_>> = serde_json::from_str(r#"["plain", "esc\"aped"]"#).unwrap();
        assert!(matches!(v[0].0, Cow::Borrowed("plain")));
        assert!(matches!(&v[1].0, Cow::Owned(s) if s == "esc\"aped"));
    }

    #[test]
    fn text_or_accepts_both_shapes_and_names_the_expectation() {
        let text: TextOr<'_, CowStr<'_>> = serde_json::from_str(r#""hi""#).unwrap();
        assert_eq!(text, TextOr::Text("hi".into()));
        let items: TextOr<'_, CowStr<'_>> = serde_json::from_str(r#"["a","b"]"#).unwrap();
        assert_eq!(items, TextOr::Items(vec!["a".into(), "b".into()]));
        let err = serde_json::from_str::<TextOr<'_, CowStr<'_>>>("5").unwrap_err();
        assert!(
            err.to_string().contains("a string or an array of strings"),
            "{err}"
        );
    }

    #[test]
    fn concat_writes_escaped_pieces() {
        let json =
            serde_json::to_string(&Concat("data:", "image/png", ";base64,", "ab\"c")).unwrap();
        assert_eq!(json, r#""data:image/png;base64,ab\"c""#);
    }
}
