//! The routing table: which protocol pair, if any, converts a request.
//!
//! A request is converted when it is a POST whose path ends in a pair's
//! client suffix and the configured upstream speaks that pair's upstream
//! protocol; everything else passes through untouched. Each pair is listed
//! here once: its [`Route`] variant, its row in [`ROUTES`], and its arm in
//! [`Route::start`] and [`each_pair!`] (exhaustive matches, so the compiler
//! asks for each). Its code lives in its own module under `convert/` behind
//! the [`Pair`](crate::convert::pair::Pair) contract.

use crate::config::Protocol;
use crate::convert::anthropic_client::AnthropicOnOpenAi;
use crate::convert::headers::path_only;
use crate::convert::openai_client::OpenAiOnAnthropic;
use crate::convert::pair::Pair;
use crate::convert::responses_client::ResponsesOnAnthropic;
use crate::exchange::Converting;

/// Which conversion, if any, an exchange gets; decided from the request line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Anything no pair converts.
    Passthrough,
    /// An Anthropic Messages client on an OpenAI upstream.
    AnthropicClient,
    /// An OpenAI Chat Completions client on an Anthropic upstream.
    OpenAiClient,
    /// An OpenAI Responses API client on an Anthropic upstream.
    ResponsesClient,
}

/// `(upstream protocol, client path suffix, route)`: the first row whose
/// upstream is the configured one and whose suffix ends the path wins.
pub const ROUTES: &[(Protocol, &str, Route)] = &[
    (
        Protocol::Openai,
        AnthropicOnOpenAi::CLIENT_SUFFIX,
        Route::AnthropicClient,
    ),
    (
        Protocol::Anthropic,
        OpenAiOnAnthropic::CLIENT_SUFFIX,
        Route::OpenAiClient,
    ),
    (
        Protocol::Anthropic,
        ResponsesOnAnthropic::CLIENT_SUFFIX,
        Route::ResponsesClient,
    ),
];

/// The route for a request: a POST whose path (without its query) ends in
/// a client suffix of a pair on the configured upstream.
pub fn route_for(upstream: Protocol, method: &str, path: &str) -> Route {
    let path = path_only(path);
    if !method.eq_ignore_ascii_case("POST") {
        return Route::Passthrough;
    }
    ROUTES
        .iter()
        .find(|(protocol, suffix, _)| *protocol == upstream && path.ends_with(suffix))
        .map_or(Route::Passthrough, |(_, _, route)| *route)
}

/// The state of an exchange one pair converts.
#[derive(Debug)]
pub enum Conversion {
    AnthropicClient(Converting<AnthropicOnOpenAi>),
    OpenAiClient(Converting<OpenAiOnAnthropic>),
    ResponsesClient(Converting<ResponsesOnAnthropic>),
}

impl Route {
    /// A fresh conversion for this route; `None` for a passthrough.
    pub fn start(self) -> Option<Conversion> {
        match self {
            Route::Passthrough => None,
            Route::AnthropicClient => Some(Conversion::AnthropicClient(Converting::default())),
            Route::OpenAiClient => Some(Conversion::OpenAiClient(Converting::default())),
            Route::ResponsesClient => Some(Conversion::ResponsesClient(Converting::default())),
        }
    }
}

/// `each_pair!(conversion, c => expr)`: evaluates `expr` with `c` bound to
/// the pair's `Converting<P>`, whichever pair it is (one monomorphised arm
/// per pair; no dynamic dispatch).
macro_rules! each_pair {
    ($conversion:expr, $c:ident => $body:expr) => {
        match $conversion {
            $crate::pairs::Conversion::AnthropicClient($c) => $body,
            $crate::pairs::Conversion::OpenAiClient($c) => $body,
            $crate::pairs::Conversion::ResponsesClient($c) => $body,
        }
    };
}
pub(crate) use each_pair;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Direction;

    /// Each row routes its own suffix on its own upstream to a conversion by
    /// the pair whose contract names that suffix, and nothing on another.
    #[test]
    fn every_row_starts_its_own_pair() {
        for (protocol, suffix, route) in ROUTES {
            assert_eq!(route_for(*protocol, "POST", suffix), *route, "{suffix}");
            let other = match protocol {
                Protocol::Openai => Protocol::Anthropic,
                Protocol::Anthropic => Protocol::Openai,
            };
            assert_ne!(route_for(other, "POST", suffix), *route, "{suffix}");
            let (pair_suffix, direction) = match route.start() {
                Some(Conversion::AnthropicClient(_)) => (
                    AnthropicOnOpenAi::CLIENT_SUFFIX,
                    AnthropicOnOpenAi::DIRECTION,
                ),
                Some(Conversion::OpenAiClient(_)) => (
                    OpenAiOnAnthropic::CLIENT_SUFFIX,
                    OpenAiOnAnthropic::DIRECTION,
                ),
                Some(Conversion::ResponsesClient(_)) => (
                    ResponsesOnAnthropic::CLIENT_SUFFIX,
                    ResponsesOnAnthropic::DIRECTION,
                ),
                None => panic!("{suffix} routes to a passthrough"),
            };
            assert_eq!(pair_suffix, *suffix);
            let expected = match route {
                Route::AnthropicClient => Direction::AnthropicClient,
                Route::OpenAiClient => Direction::OpenAiClient,
                Route::ResponsesClient => Direction::ResponsesClient,
                Route::Passthrough => unreachable!(),
            };
            assert_eq!(direction, expected);
        }
        assert!(Route::Passthrough.start().is_none());
    }
}
