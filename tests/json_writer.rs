//! `json` writes exactly what `serde_json::to_vec` writes, for every string
//! and every shape the wire types produce.

use anthropic_openai_bridge::json;
use proptest::prelude::*;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn same_as_serde_json<T: Serialize + ?Sized>(value: &T) {
    let ours = json::to_vec(value).unwrap();
    let theirs = serde_json::to_vec(value).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
}

#[test]
fn every_ascii_byte_alone_and_at_every_word_offset() {
    for byte in 0u8..128 {
        let c = char::from(byte);
        for offset in 0..17 {
            let s: String = "a".repeat(offset) + &c.to_string() + &"é".repeat(offset % 5);
            same_as_serde_json(&s);
        }
    }
}

#[test]
fn strings_needing_many_escapes_and_none() {
    for s in [
        "",
        "plain text longer than one eight byte word, with no escape at all",
        "\"\"\"\"\"\"\"\"\"",
        "\\\\\\\\\\\\\\\\",
        "line\nline\r\nt\tb\u{8}f\u{c}\u{0}\u{1f}\u{7f}",
        "naïve — 日本語 🎉 \u{2028}\u{2029}",
        "12345678\"2345678\\2345678\n",
    ] {
        same_as_serde_json(s);
    }
}

#[derive(Serialize)]
enum Shape<'a> {
    Unit,
    Newtype(&'a str),
    Tuple(u8, &'a str),
    Struct { a: Option<f64>, b: Vec<bool> },
}

#[derive(Serialize)]
struct Everything<'a> {
    text: &'a str,
    raw: &'a RawValue,
    value: Value,
    shapes: Vec<Shape<'a>>,
    map: BTreeMap<String, i64>,
    numeric_keys: BTreeMap<u32, &'a str>,
    tuple: (i8, u64, f32, char),
    #[serde(skip_serializing_if = "Option::is_none")]
    absent: Option<u8>,
    nothing: Option<u8>,
    unit: (),
    #[serde(flatten)]
    extra: BTreeMap<&'a str, Value>,
}

#[test]
fn every_shape_of_value() {
    let raw = RawValue::from_string(
        r#"{"type":"object", "properties" : {"q":{"type":"string"}}}"#.into(),
    )
    .unwrap();
    let value = Everything {
        text: "a \"quoted\" word",
        raw: &raw,
        value: json!({"n": [1, -2, 3.5, 1e300, null, true], "s": "x\ny", "o": {}}),
        shapes: vec![
            Shape::Unit,
            Shape::Newtype("n"),
            Shape::Tuple(7, "t"),
            Shape::Struct {
                a: Some(f64::NAN),
                b: vec![true, false],
            },
            Shape::Struct { a: None, b: vec![] },
        ],
        map: [("k\"ey".to_string(), -1), ("z".to_string(), i64::MAX)].into(),
        numeric_keys: [(1, "one"), (20, "twenty")].into(),
        tuple: (-8, u64::MAX, 0.1, '"'),
        absent: None,
        nothing: None,
        unit: (),
        extra: [("flat", json!("yes")), ("n", json!(1))].into(),
    };
    same_as_serde_json(&value);
}

#[test]
fn a_map_key_that_is_not_a_string_is_an_error_not_invalid_json() {
    let map: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into();
    assert!(json::to_vec(&map).is_err());
    assert!(serde_json::to_vec(&map).is_err());
}

proptest! {
    #[test]
    fn any_string(s in any::<String>()) {
        same_as_serde_json(&s);
    }

    #[test]
    fn any_string_of_json_specials(s in "[\"\\\\\\x00-\\x1f a-z\\x7f-\\u{ff}]{0,64}") {
        same_as_serde_json(&s);
    }
}
