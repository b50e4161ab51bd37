//! The routing table: which protocol pair, if any, converts a request.
//!
//! A request is converted when it is a POST whose path ends in a pair's
//! client suffix and the configured upstream speaks that pair's upstream
//! protocol; everything else passes through untouched. Each pair is one
//! line in the `protocol_pairs!` list below: its route name, its type (the
//! [`Pair`] contract, implemented in its own module under `convert/`) and
//! the upstream protocol it serves.

use crate::config::Config;
use crate::config::Protocol;
use crate::convert::anthropic_client::{AnthropicOnOpenAi, CountTokensOnOpenAi};
use crate::convert::anthropic_client_responses::AnthropicOnResponses;
use crate::convert::headers::path_only;
use crate::convert::openai_client::OpenAiOnAnthropic;
use crate::convert::pair::Pair;
use crate::convert::responses_client::ResponsesOnAnthropic;
use crate::exchange::Converting;

/// Generates, from one list of pairs, the [`Route`] enum, the [`ROUTES`]
/// table, the [`Conversion`] enum with [`Route::start`], and `each_pair!`.
/// (`$d` is a `$` passed in, so the generated macro can have variables.)
macro_rules! protocol_pairs {
    ($d:tt $( $(#[$doc:meta])* $route:ident: $pair:ty, upstream $upstream:path; )*) => {
        /// Which conversion, if any, an exchange gets; decided from the
        /// request line.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Route {
            /// Anything no pair converts.
            Passthrough,
            $( $(#[$doc])* $route, )*
        }

        /// `(upstream protocol, client path suffix, route)`: the first row
        /// whose upstream is the configured one and whose suffix ends the
        /// path wins.
        pub const ROUTES: &[(Protocol, &str, Route)] = &[
            $( ($upstream, <$pair as Pair>::CLIENT_SUFFIX, Route::$route), )*
        ];

        /// The state of an exchange one pair converts.
        #[derive(Debug)]
        pub enum Conversion {
            $( $route(Converting<$pair>), )*
        }

        impl Route {
            /// False when the configuration switches the route's pair off.
            pub fn enabled(self, config: &Config) -> bool {
                match self {
                    Route::Passthrough => true,
                    $( Route::$route => <$pair as Pair>::enabled(config), )*
                }
            }

            /// A fresh conversion for this route; `None` for a passthrough.
            pub fn start(self) -> Option<Conversion> {
                match self {
                    Route::Passthrough => None,
                    $( Route::$route => Some(Conversion::$route(Converting::default())), )*
                }
            }
        }

        /// `each_pair!(conversion, c => expr)`: evaluates `expr` with `c`
        /// bound to the pair's `Converting<P>`, whichever pair it is (one
        /// monomorphised arm per pair; no dynamic dispatch).
        macro_rules! each_pair {
            ($d conversion:expr, $d c:ident => $d body:expr) => {
                match $d conversion {
                    $( $crate::pairs::Conversion::$route($d c) => $d body, )*
                }
            };
        }
        pub(crate) use each_pair;
    };
}

protocol_pairs! { $
    /// An Anthropic Messages client on an OpenAI Chat Completions upstream.
    AnthropicClient: AnthropicOnOpenAi, upstream Protocol::Openai;
    /// An OpenAI Chat Completions client on an Anthropic Messages upstream.
    OpenAiClient: OpenAiOnAnthropic, upstream Protocol::Anthropic;
    /// An Anthropic client's `/v1/messages/count_tokens` on an OpenAI
    /// upstream (which has no such endpoint).
    CountTokens: CountTokensOnOpenAi, upstream Protocol::Openai;
    /// An Anthropic Messages client on an OpenAI Responses API upstream.
    AnthropicClientResponses: AnthropicOnResponses, upstream Protocol::OpenaiResponses;
    /// An OpenAI Responses API client on an Anthropic Messages upstream.
    ResponsesClient: ResponsesOnAnthropic, upstream Protocol::Anthropic;
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// No row shadows another: each row's own suffix (with a prefix and a
    /// query) routes to it on its upstream, and to something else on the
    /// other upstream; every route starts a conversion.
    #[test]
    fn every_row_routes_its_own_suffix() {
        for (protocol, suffix, route) in ROUTES {
            let path = format!("/prefix{suffix}?beta=true");
            assert_eq!(route_for(*protocol, "POST", &path), *route, "{suffix}");
            assert_eq!(route_for(*protocol, "GET", &path), Route::Passthrough);
            for other in [
                Protocol::Openai,
                Protocol::Anthropic,
                Protocol::OpenaiResponses,
            ] {
                if other != *protocol {
                    assert_ne!(route_for(other, "POST", &path), *route, "{suffix}");
                }
            }
            assert!(route.start().is_some(), "{suffix}");
        }
        assert!(Route::Passthrough.start().is_none());
    }

    #[test]
    fn a_pair_can_be_switched_off_by_configuration() {
        let config = |json: &str| Config::from_json(json.as_bytes()).unwrap();
        let estimate = config(r#"{"upstream_protocol":"openai"}"#);
        let off = config(r#"{"upstream_protocol":"openai","count_tokens":"passthrough"}"#);
        assert!(Route::CountTokens.enabled(&estimate));
        assert!(!Route::CountTokens.enabled(&off));
        assert!(Route::AnthropicClient.enabled(&off));
    }
}
