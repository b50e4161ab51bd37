//! Compact JSON output, byte for byte what `serde_json::to_writer` writes,
//! with a faster string escape.
//!
//! Most of a converted body is strings (prompts, tool results, image data),
//! and serde_json escapes them with one table lookup per byte: about a third
//! of a conversion's instructions. Here eight bytes are checked at once and
//! only the words that hold a quote, a backslash or a control character are
//! looked at byte by byte. Numbers and `RawValue` (JSON passed through
//! unchanged) are written by serde_json itself.

use serde::ser::{self, Impossible, Serialize};
use serde_json::Error;

/// Appends `value` as compact JSON.
pub fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    value.serialize(&mut Writer { out })
}

/// `value` as compact JSON.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(128);
    write(&mut out, value)?;
    Ok(out)
}

/// The struct name serde_json's `RawValue` serializes under; its one field
/// is the JSON text to write as it is.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of the little-endian word is below 0x20, `"` or `\`.
/// Each test is exact for the word as a whole (no false negatives).
fn word_needs_escape(word: u64) -> bool {
    let control = word.wrapping_sub(LOW_BITS * 0x20) & !word;
    let quote = word ^ (LOW_BITS * u64::from(b'"'));
    let backslash = word ^ (LOW_BITS * u64::from(b'\\'));
    let quote = quote.wrapping_sub(LOW_BITS) & !quote;
    let backslash = backslash.wrapping_sub(LOW_BITS) & !backslash;
    (control | quote | backslash) & HIGH_BITS != 0
}

/// The escape serde_json writes for one byte, if it needs one.
fn escape(byte: u8) -> Option<&'static [u8]> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Evaluated at compile time: an index out of range would not compile.
    #[allow(clippy::indexing_slicing)]
    static CONTROL: [[u8; 6]; 32] = {
        let mut table = [[0u8; 6]; 32];
        let mut i = 0;
        while i < 32 {
            table[i] = [b'\\', b'u', b'0', b'0', HEX[i >> 4], HEX[i & 0xf]];
            i += 1;
        }
        table
    };
    Some(match byte {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        0x08 => b"\\b",
        0x0c => b"\\f",
        0..=0x1f => CONTROL.get(usize::from(byte))?,
        _ => return None,
    })
}

/// Appends `s` as a JSON string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        while let Some(word) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
            if word_needs_escape(u64::from_le_bytes(*word)) {
                break;
            }
            i += 8;
        }
        let end = (i + 8).min(bytes.len());
        for (at, &byte) in bytes.iter().enumerate().take(end).skip(i) {
            if let Some(escaped) = escape(byte) {
                out.extend_from_slice(bytes.get(run_start..at).unwrap_or_default());
                out.extend_from_slice(escaped);
                run_start = at + 1;
            }
        }
        i = end;
    }
    out.extend_from_slice(bytes.get(run_start..).unwrap_or_default());
    out.push(b'"');
}

/// A scalar serde_json writes better than this module would (numbers,
/// floats with their non-finite cases, byte arrays).
fn by_serde_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    serde_json::to_writer(out, value)
}

/// Strings, chars, enum variant names and newtype wrappers: the same for
/// values and for object keys.
macro_rules! strings {
    () => {
        fn serialize_str(self, v: &str) -> Result<(), Error> {
            write_str(self.out, v);
            Ok(())
        }
        fn serialize_char(self, v: char) -> Result<(), Error> {
            write_str(self.out, v.encode_utf8(&mut [0; 4]));
            Ok(())
        }
        fn serialize_unit_variant(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
        ) -> Result<(), Error> {
            self.serialize_str(variant)
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            value: &T,
        ) -> Result<(), Error> {
            value.serialize(self)
        }
    };
}

/// Numbers are written by serde_json (itoa, ryu, `null` for non-finite).
macro_rules! numbers_by_serde_json {
    ($($method:ident($ty:ty)),*) => {$(
        fn $method(self, v: $ty) -> Result<(), Error> {
            by_serde_json(self.out, &v)
        }
    )*};
}

struct Writer<'o> {
    out: &'o mut Vec<u8>,
}

/// Arrays and objects: writes the separators.
pub struct Compound<'a, 'o> {
    writer: &'a mut Writer<'o>,
    first: bool,
    /// `]` or `}`, and a second `}` for an enum variant's wrapping object.
    close: &'static [u8],
}

/// `RawValue`'s one field, written verbatim.
pub struct Raw<'a, 'o> {
    writer: &'a mut Writer<'o>,
}

impl<'a, 'o> Writer<'o> {
    fn open(&'a mut self, open: &[u8], close: &'static [u8]) -> Compound<'a, 'o> {
        self.out.extend_from_slice(open);
        Compound {
            writer: self,
            first: true,
            close,
        }
    }

    /// `{"variant":` before an enum variant's content.
    fn variant_key(&mut self, variant: &str) {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
    }
}

impl Compound<'_, '_> {
    fn comma(&mut self) {
        if !self.first {
            self.writer.out.push(b',');
        }
        self.first = false;
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.comma();
        value.serialize(&mut *self.writer)
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        self.comma();
        write_str(self.writer.out, key);
        self.writer.out.push(b':');
        value.serialize(&mut *self.writer)
    }

    fn close(self) -> Result<(), Error> {
        self.writer.out.extend_from_slice(self.close);
        Ok(())
    }
}

impl<'a, 'o> ser::Serializer for &'a mut Writer<'o> {
    type Ok = ();
    type Error = Error;
    strings!();
    type SerializeSeq = Compound<'a, 'o>;
    type SerializeTuple = Compound<'a, 'o>;
    type SerializeTupleStruct = Compound<'a, 'o>;
    type SerializeTupleVariant = Compound<'a, 'o>;
    type SerializeMap = Compound<'a, 'o>;
    type SerializeStruct = Either<'a, 'o>;
    type SerializeStructVariant = Compound<'a, 'o>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    numbers_by_serde_json!(
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64)
    );
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        by_serde_json(self.out, v)
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.variant_key(variant);
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a, 'o>, Error> {
        Ok(self.open(b"[", b"]"))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Compound<'a, 'o>, Error> {
        Ok(self.open(b"[", b"]"))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 'o>, Error> {
        Ok(self.open(b"[", b"]"))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 'o>, Error> {
        self.variant_key(variant);
        Ok(self.open(b"[", b"]}"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a, 'o>, Error> {
        Ok(self.open(b"{", b"}"))
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Either<'a, 'o>, Error> {
        if name == RAW_VALUE_TOKEN {
            return Ok(Either::Raw(Raw { writer: self }));
        }
        Ok(Either::Object(self.open(b"{", b"}")))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 'o>, Error> {
        self.variant_key(variant);
        Ok(self.open(b"{", b"}}"))
    }
}

/// The array-like serializers differ only in their names.
macro_rules! array_impls {
    ($($trait:ident::$method:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }
            fn end(self) -> Result<(), Error> {
                self.close()
            }
        }
    )*};
}

array_impls!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.comma();
        key.serialize(MapKey {
            out: &mut *self.writer.out,
        })?;
        self.writer.out.push(b':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.writer)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

/// A struct is an object, unless it is a `RawValue`.
pub enum Either<'a, 'o> {
    Object(Compound<'a, 'o>),
    Raw(Raw<'a, 'o>),
}

impl ser::SerializeStruct for Either<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        match self {
            Either::Object(object) => object.field(key, value),
            Either::Raw(raw) => value.serialize(RawText {
                out: &mut *raw.writer.out,
            }),
        }
    }
    fn end(self) -> Result<(), Error> {
        match self {
            Either::Object(object) => object.close(),
            Either::Raw(_) => Ok(()),
        }
    }
}

/// Serializer methods that refuse their value with `$error()`.
macro_rules! reject {
    ($error:ident: $($method:ident($($arg:ty),*) -> $ret:ty),* $(,)?) => {$(
        fn $method(self, $(_: $arg),*) -> Result<$ret, Error> {
            Err($error())
        }
    )*};
}

/// The serializers that only take scalars: none of these compounds.
macro_rules! no_compounds {
    ($error:ident) => {
        type SerializeSeq = Impossible<(), Error>;
        type SerializeTuple = Impossible<(), Error>;
        type SerializeTupleStruct = Impossible<(), Error>;
        type SerializeTupleVariant = Impossible<(), Error>;
        type SerializeMap = Impossible<(), Error>;
        type SerializeStruct = Impossible<(), Error>;
        type SerializeStructVariant = Impossible<(), Error>;

        fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), Error> {
            Err($error())
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
            _value: &T,
        ) -> Result<(), Error> {
            Err($error())
        }
        reject!($error:
            serialize_f32(f32) -> (),
            serialize_f64(f64) -> (),
            serialize_bytes(&[u8]) -> (),
            serialize_none() -> (),
            serialize_unit() -> (),
            serialize_unit_struct(&'static str) -> (),
            serialize_seq(Option<usize>) -> Self::SerializeSeq,
            serialize_tuple(usize) -> Self::SerializeTuple,
            serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct,
            serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant,
            serialize_map(Option<usize>) -> Self::SerializeMap,
            serialize_struct(&'static str, usize) -> Self::SerializeStruct,
            serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant,
        );
    };
}

fn key_must_be_a_string() -> Error {
    ser::Error::custom("key must be a string")
}

/// An object key: strings, and numbers and booleans quoted (as serde_json
/// does).
struct MapKey<'o> {
    out: &'o mut Vec<u8>,
}

impl MapKey<'_> {
    fn quoted<T: Serialize>(self, v: T) -> Result<(), Error> {
        self.out.push(b'"');
        by_serde_json(self.out, &v)?;
        self.out.push(b'"');
        Ok(())
    }
}

/// Map keys that are numbers or booleans, written quoted.
macro_rules! quoted_keys {
    ($($method:ident($ty:ty)),*) => {$(
        fn $method(self, v: $ty) -> Result<(), Error> {
            self.quoted(v)
        }
    )*};
}

impl ser::Serializer for MapKey<'_> {
    type Ok = ();
    type Error = Error;
    strings!();
    no_compounds!(key_must_be_a_string);
    quoted_keys!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64)
    );
}

/// The text inside a `RawValue`: already JSON, appended as it is.
struct RawText<'o> {
    out: &'o mut Vec<u8>,
}

fn raw_value_must_be_text() -> Error {
    ser::Error::custom("a raw JSON value must be text")
}

impl ser::Serializer for RawText<'_> {
    type Ok = ();
    type Error = Error;
    no_compounds!(raw_value_must_be_text);
    reject!(raw_value_must_be_text:
        serialize_bool(bool) -> (),
        serialize_i8(i8) -> (),
        serialize_i16(i16) -> (),
        serialize_i32(i32) -> (),
        serialize_i64(i64) -> (),
        serialize_u8(u8) -> (),
        serialize_u16(u16) -> (),
        serialize_u32(u32) -> (),
        serialize_u64(u64) -> (),
        serialize_char(char) -> (),
        serialize_unit_variant(&'static str, u32, &'static str) -> (),
    );

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(raw_value_must_be_text())
    }
}
