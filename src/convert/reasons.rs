//! Why a turn ended: Anthropic's `stop_reason` and OpenAI's
//! `finish_reason`, one table for both directions, used by the body and the
//! stream converters alike.

/// Anthropic stop reasons the bridge produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    StopSequence,
    ToolUse,
    Refusal,
}

impl StopReason {
    const ALL: [StopReason; 5] = [
        StopReason::EndTurn,
        StopReason::MaxTokens,
        StopReason::StopSequence,
        StopReason::ToolUse,
        StopReason::Refusal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::EndTurn => "end_turn",
            StopReason::MaxTokens => "max_tokens",
            StopReason::StopSequence => "stop_sequence",
            StopReason::ToolUse => "tool_use",
            StopReason::Refusal => "refusal",
        }
    }

    fn named(name: &str) -> Option<StopReason> {
        StopReason::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// `(stop_reason, finish_reason)`. Going either way the first row with the
/// value wins; a value in no row is `end_turn` / `stop`.
pub const STOP_REASONS: &[(&str, &str)] = &[
    ("end_turn", "stop"),
    ("max_tokens", "length"),
    ("tool_use", "tool_calls"),
    ("refusal", "content_filter"),
    ("model_context_window_exceeded", "length"),
    ("tool_use", "function_call"),
];

/// `stop_reason` → `finish_reason`.
pub fn finish_reason(stop: Option<&str>) -> &'static str {
    stop.and_then(|stop| STOP_REASONS.iter().find(|(s, _)| *s == stop))
        .map_or("stop", |(_, finish)| finish)
}

/// `finish_reason` → stop reason; `None` for the values that mean "not
/// finished" (null, "", "null", whitespace), which a stream must ignore.
pub fn finish_stop_reason(finish: Option<&str>) -> Option<StopReason> {
    let finish = finish?.trim();
    if finish.is_empty() || finish == "null" {
        return None;
    }
    let stop = STOP_REASONS
        .iter()
        .find(|(_, f)| *f == finish)
        .and_then(|(stop, _)| StopReason::named(stop));
    Some(stop.unwrap_or(StopReason::EndTurn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons_map_to_stop_reasons() {
        let cases = [
            (None, None),
            (Some(""), None),
            (Some(" null "), None),
            (Some("stop"), Some(StopReason::EndTurn)),
            (Some("length"), Some(StopReason::MaxTokens)),
            (Some("tool_calls"), Some(StopReason::ToolUse)),
            (Some("function_call"), Some(StopReason::ToolUse)),
            (Some("content_filter"), Some(StopReason::Refusal)),
            (Some("eos"), Some(StopReason::EndTurn)),
        ];
        for (finish, stop) in cases {
            assert_eq!(finish_stop_reason(finish), stop, "{finish:?}");
        }
    }

    #[test]
    fn stop_reasons_map_to_finish_reasons() {
        let cases = [
            (None, "stop"),
            (Some("end_turn"), "stop"),
            (Some("stop_sequence"), "stop"),
            (Some("pause_turn"), "stop"),
            (Some("max_tokens"), "length"),
            (Some("model_context_window_exceeded"), "length"),
            (Some("tool_use"), "tool_calls"),
            (Some("refusal"), "content_filter"),
        ];
        for (stop, finish) in cases {
            assert_eq!(finish_reason(stop), finish, "{stop:?}");
        }
    }
}
