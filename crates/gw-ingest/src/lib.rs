//! Decoders for every input format Gatewatch reads, and the normalization every record gets
//! before it enters the pipeline.
//!
//! A decoder turns one *unit* of input (a line, or a whole JSON document for HAR and JSON
//! arrays) into canonical [`gw_model::Exchange`] records, and reports every record it cannot
//! decode as a [`DecodeError`] naming the line, the entry, the field and the reason. One bad
//! record never stops the input or loses the good records around it. Adding a format is one
//! file in `formats/` and one line in [`DECODERS`].
//!
//! This crate must not know what happens after ingest (discovery, detection, storage) and must
//! never let a credential through: [`normalize`] redacts them after deriving the identity.

mod credential_memo;
mod decoder;
mod driver;
pub mod formats;
mod input;
pub mod normalize;
mod sniff;

pub use decoder::{DecodeCtx, DecodeError, Decoder, Emit, Framing, RejectReason, Sample, Unit};
pub use driver::{DecodeStats, FormatChoice, Limits, decode_bytes, decode_input, is_gzip};
pub use input::{Input, InputError, open_input};
pub use sniff::{detect_format, sample_of};

use gw_model::SourceKind;

/// Every decoder, in the order auto-detection breaks ties.
pub static DECODERS: &[&dyn Decoder] = &[
    &formats::native::Native,
    &formats::kong::KongHttpLog,
    &formats::apim::ApimGatewayLogs,
    &formats::apim::ApimPolicy,
    &formats::aws_apigw::AwsApiGateway,
    &formats::aws_alb::AwsAlb,
    &formats::envoy::EnvoyJson,
    &formats::nginx_combined::NginxCombined,
    &formats::nginx_json::NginxJson,
    &formats::traefik::TraefikJson,
    &formats::har::Har,
];

/// The decoder of a format.
pub fn decoder_for(kind: SourceKind) -> Option<&'static dyn Decoder> {
    DECODERS.iter().copied().find(|d| d.kind() == kind)
}
