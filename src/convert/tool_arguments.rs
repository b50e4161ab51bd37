//! OpenAI tool-call `arguments` are a string of JSON; an Anthropic
//! `tool_use.input` must be a JSON object. `ObjectScan` checks that
//! arguments are exactly one JSON object a fragment at a time, so the stream
//! converter can refuse a bad fragment before writing it, and the
//! non-streaming converter uses the same check on the whole text: both
//! directions accept and refuse the same arguments.
//!
//! Linear in the input, constant memory: nesting deeper than `MAX_DEPTH`
//! is refused rather than tracked.

/// Deepest nesting of objects and arrays accepted in tool arguments.
pub const MAX_DEPTH: u32 = 512;

const DEPTH_WORDS: usize = MAX_DEPTH as usize / 64;

/// Why arguments are not a JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgumentsProblem {
    /// Valid-looking JSON that is not an object (`[1,2]`, `"x"`, `5`).
    NotAnObject,
    /// Not JSON at all, or something after the object.
    Invalid,
    /// The text ended inside the object (`{"a": 1`).
    Incomplete,
    TooDeep,
}

impl ArgumentsProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            ArgumentsProblem::NotAnObject => "are JSON but not an object",
            ArgumentsProblem::Invalid => "are not valid JSON",
            ArgumentsProblem::Incomplete => "end before their JSON object is complete",
            ArgumentsProblem::TooDeep => "nest deeper than 512 levels",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Nothing but whitespace yet.
    #[default]
    Start,
    /// After `{`: a key or `}`.
    KeyOrClose,
    /// After `,` in an object.
    Key,
    /// After a key.
    Colon,
    /// After `:`, or `,` in an array.
    Value,
    /// After `[`: a value or `]`.
    ValueOrClose,
    /// After a value inside a container.
    CommaOrClose,
    /// After the top-level object: only whitespace may follow.
    End,
    Str {
        key: bool,
        escape: Escape,
    },
    Number(Number),
    /// The bytes a `true`, `false` or `null` still needs.
    Literal(&'static [u8]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    Backslash,
    /// Hex digits still expected after `\u`.
    Unicode(u8),
}

/// Where a number is in `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Number {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    Exp,
    ExpSign,
    ExpDigits,
}

impl Number {
    /// True where the number may end.
    fn complete(self) -> bool {
        matches!(
            self,
            Number::Zero | Number::Int | Number::Frac | Number::ExpDigits
        )
    }

    fn next(self, b: u8) -> Option<Number> {
        Some(match (self, b) {
            (Number::Minus, b'0') => Number::Zero,
            (Number::Minus, b'1'..=b'9') => Number::Int,
            (Number::Int, b'0'..=b'9') => Number::Int,
            (Number::Zero | Number::Int, b'.') => Number::Dot,
            (Number::Dot | Number::Frac, b'0'..=b'9') => Number::Frac,
            (Number::Zero | Number::Int | Number::Frac, b'e' | b'E') => Number::Exp,
            (Number::Exp, b'+' | b'-') => Number::ExpSign,
            (Number::Exp | Number::ExpSign | Number::ExpDigits, b'0'..=b'9') => Number::ExpDigits,
            _ => return None,
        })
    }
}

/// Incremental check that text is one JSON object, surrounded by nothing
/// but whitespace.
#[derive(Debug, Clone, Default)]
pub struct ObjectScan {
    state: State,
    depth: u32,
    /// Bit `i` set: nesting level `i` is an array.
    arrays: [u64; DEPTH_WORDS],
    problem: Option<ArgumentsProblem>,
}

enum Step {
    Consumed,
    /// The byte ended a number and must be read again in the new state.
    Again,
}

impl ObjectScan {
    /// Reads the next fragment; the first problem found sticks.
    pub fn feed(&mut self, text: &str) -> Result<(), ArgumentsProblem> {
        if let Some(problem) = self.problem {
            return Err(problem);
        }
        for b in text.bytes() {
            loop {
                match self.step(b) {
                    Ok(Step::Consumed) => break,
                    Ok(Step::Again) => continue,
                    Err(problem) => {
                        self.problem = Some(problem);
                        return Err(problem);
                    }
                }
            }
        }
        Ok(())
    }

    /// True once a whole object has been read.
    pub fn complete(&self) -> bool {
        self.state == State::End && self.problem.is_none()
    }

    /// True while nothing but whitespace has been read (an argument-less
    /// call: its input is `{}`).
    pub fn is_empty(&self) -> bool {
        self.state == State::Start && self.problem.is_none()
    }

    /// The verdict at the end of the text: `Ok` for one whole object or
    /// nothing at all.
    pub fn finish(&self) -> Result<(), ArgumentsProblem> {
        match (self.problem, self.state) {
            (Some(problem), _) => Err(problem),
            (None, State::Start | State::End) => Ok(()),
            (None, _) => Err(ArgumentsProblem::Incomplete),
        }
    }

    fn step(&mut self, b: u8) -> Result<Step, ArgumentsProblem> {
        let whitespace = matches!(b, b' ' | b'\t' | b'\n' | b'\r');
        match self.state {
            State::Str { key, escape } => self.string_byte(key, escape, b)?,
            State::Number(number) => match number.next(b) {
                Some(next) => self.state = State::Number(next),
                None if number.complete() => {
                    self.after_value();
                    return Ok(Step::Again);
                }
                None => return Err(ArgumentsProblem::Invalid),
            },
            State::Literal(rest) => match rest.split_first() {
                Some((first, tail)) if *first == b => {
                    self.state = State::Literal(tail);
                    if tail.is_empty() {
                        self.after_value();
                    }
                }
                _ => return Err(ArgumentsProblem::Invalid),
            },
            _ if whitespace => {}
            State::Start => match b {
                b'{' => self.open(false)?,
                b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                    return Err(ArgumentsProblem::NotAnObject)
                }
                _ => return Err(ArgumentsProblem::Invalid),
            },
            State::KeyOrClose | State::Key => match b {
                b'"' => {
                    self.state = State::Str {
                        key: true,
                        escape: Escape::None,
                    }
                }
                b'}' if self.state == State::KeyOrClose => self.close(),
                _ => return Err(ArgumentsProblem::Invalid),
            },
            State::Colon => match b {
                b':' => self.state = State::Value,
                _ => return Err(ArgumentsProblem::Invalid),
            },
            State::Value | State::ValueOrClose => match b {
                b']' if self.state == State::ValueOrClose => self.close(),
                _ => self.value_start(b)?,
            },
            State::CommaOrClose => {
                let in_array = self.in_array();
                match b {
                    b',' if in_array => self.state = State::Value,
                    b',' => self.state = State::Key,
                    b']' if in_array => self.close(),
                    b'}' if !in_array => self.close(),
                    _ => return Err(ArgumentsProblem::Invalid),
                }
            }
            State::End => return Err(ArgumentsProblem::Invalid),
        }
        Ok(Step::Consumed)
    }

    fn value_start(&mut self, b: u8) -> Result<(), ArgumentsProblem> {
        self.state = match b {
            b'{' => return self.open(false),
            b'[' => return self.open(true),
            b'"' => State::Str {
                key: false,
                escape: Escape::None,
            },
            b'-' => State::Number(Number::Minus),
            b'0' => State::Number(Number::Zero),
            b'1'..=b'9' => State::Number(Number::Int),
            b't' => State::Literal(b"rue"),
            b'f' => State::Literal(b"alse"),
            b'n' => State::Literal(b"ull"),
            _ => return Err(ArgumentsProblem::Invalid),
        };
        Ok(())
    }

    fn string_byte(&mut self, key: bool, escape: Escape, b: u8) -> Result<(), ArgumentsProblem> {
        let escape = match (escape, b) {
            (_, 0x00..=0x1f) => return Err(ArgumentsProblem::Invalid),
            (Escape::None, b'"') => {
                match key {
                    true => self.state = State::Colon,
                    false => self.after_value(),
                }
                return Ok(());
            }
            (Escape::None, b'\\') => Escape::Backslash,
            (Escape::None, _) => Escape::None,
            (Escape::Backslash, b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                Escape::None
            }
            (Escape::Backslash, b'u') => Escape::Unicode(4),
            (Escape::Unicode(left), b) if b.is_ascii_hexdigit() => match left {
                0 | 1 => Escape::None,
                _ => Escape::Unicode(left - 1),
            },
            _ => return Err(ArgumentsProblem::Invalid),
        };
        self.state = State::Str { key, escape };
        Ok(())
    }

    fn open(&mut self, array: bool) -> Result<(), ArgumentsProblem> {
        if self.depth >= MAX_DEPTH {
            return Err(ArgumentsProblem::TooDeep);
        }
        let (word, bit) = (self.depth as usize / 64, self.depth % 64);
        if let Some(word) = self.arrays.get_mut(word) {
            match array {
                true => *word |= 1 << bit,
                false => *word &= !(1 << bit),
            }
        }
        self.depth += 1;
        self.state = match array {
            true => State::ValueOrClose,
            false => State::KeyOrClose,
        };
        Ok(())
    }

    fn in_array(&self) -> bool {
        let level = self.depth.saturating_sub(1);
        self.arrays
            .get(level as usize / 64)
            .is_some_and(|word| word & (1 << (level % 64)) != 0)
    }

    fn close(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        self.after_value();
    }

    fn after_value(&mut self) {
        self.state = match self.depth {
            0 => State::End,
            _ => State::CommaOrClose,
        };
    }
}

/// The whole-text check: `Ok` for one JSON object or only whitespace.
pub fn check_object(text: &str) -> Result<(), ArgumentsProblem> {
    let mut scan = ObjectScan::default();
    scan.feed(text)?;
    scan.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_pass_and_everything_else_is_named() {
        for ok in [
            "",
            "  \n",
            "{}",
            " {\"a\": [1, -2.5e+3, 0, true, false, null, {\"b\": \"\\u00e9\\n\"}]} ",
            "{\"\":{}}",
        ] {
            assert_eq!(check_object(ok), Ok(()), "{ok:?}");
        }
        for (bad, problem) in [
            ("{bad json", ArgumentsProblem::Invalid),
            ("[1,2]", ArgumentsProblem::NotAnObject),
            ("\"\"", ArgumentsProblem::NotAnObject),
            ("5", ArgumentsProblem::NotAnObject),
            ("{\"a\":1", ArgumentsProblem::Incomplete),
            ("{\"a\":\"x", ArgumentsProblem::Incomplete),
            ("{\"a\":1}{\"a\":1}", ArgumentsProblem::Invalid),
            ("{\"a\":1]", ArgumentsProblem::Invalid),
            ("{\"a\":[1}", ArgumentsProblem::Invalid),
            ("{\"a\":01}", ArgumentsProblem::Invalid),
            ("{\"a\":1.}", ArgumentsProblem::Invalid),
            ("{\"a\":tru}", ArgumentsProblem::Invalid),
            ("{\"a\":\"\\x\"}", ArgumentsProblem::Invalid),
            ("{\"a\":\"\\u12g4\"}", ArgumentsProblem::Invalid),
            ("{\"a\":\"tab\there\"}", ArgumentsProblem::Invalid),
            ("{\"a\",1}", ArgumentsProblem::Invalid),
            ("{\"a\":1,}", ArgumentsProblem::Invalid),
            ("{,}", ArgumentsProblem::Invalid),
        ] {
            assert_eq!(check_object(bad), Err(problem), "{bad:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let depth = MAX_DEPTH as usize;
        let deep = format!(
            "{}{}{}",
            "{\"a\":".repeat(depth - 1),
            "1",
            "}".repeat(depth - 1)
        );
        assert_eq!(check_object(&deep), Ok(()));
        let too_deep = format!("{}{}{}", "{\"a\":".repeat(depth), "{}", "}".repeat(depth));
        assert_eq!(check_object(&too_deep), Err(ArgumentsProblem::TooDeep));
    }

    #[test]
    fn fragments_give_the_whole_texts_verdict() {
        let text = "{\"city\": \"Paris\", \"n\": [1e5, -0.25]}";
        for cut in 0..=text.len() {
            let mut scan = ObjectScan::default();
            scan.feed(&text[..cut]).unwrap();
            assert_eq!(scan.complete(), cut == text.len(), "cut at {cut}");
            scan.feed(&text[cut..]).unwrap();
            assert_eq!(scan.finish(), Ok(()));
        }
    }
}
